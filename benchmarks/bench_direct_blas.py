"""Affine's products with NumPy's BLAS called directly, against the same
layer calling np.dot and np.matmul: the same BLAS calls, with and without
NumPy's overhead around them.

Affine forward + backward (784 -> 50, dx included) at N = 1 ... 100, and the
two-layer net's step (``zk.TwoLayerNet`` + ``zk.SGD``) at N = 1 and 100,
float64, one thread, pinned to one core; the two routes interleaved in one
process (``_affine.use_blas``), medians of many samples.  The bits are the
same on both routes (tests/test_blas_direct.py).

``--keep-heap`` first sets glibc's M_MMAP_THRESHOLD to 32 MB and its
M_TRIM_THRESHOLD to 64 MB.  By default glibc gives a few hundred KB freed at
the top of the heap back to the system (and maps larger blocks afresh), and
the next allocation of that size faults its pages in again, which at N = 32
and 100 can cost more than the products (docs/performance.md).

    PYTHONPATH=. python benchmarks/bench_direct_blas.py [--samples 400] [--keep-heap]
"""
from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import zk_layers as zk
from zk_layers import _affine, _kernels
from zk_layers.bench import cpu_model, pinned_to_one_core


def affine_call(n: int, rng: np.random.Generator) -> Callable[[], object]:
    W, b = rng.standard_normal((784, 50)), rng.standard_normal(50)
    x, dout = rng.standard_normal((n, 784)), rng.standard_normal((n, 50))
    layer = zk.Affine(W, b)
    return lambda: (layer.forward(x), layer.backward(dout))


def step_call(n: int, rng: np.random.Generator) -> Callable[[], object]:
    net, optimizer = zk.TwoLayerNet(784, 50, 10), zk.SGD(0.1)
    x, t = rng.random((n, 784)), rng.integers(0, 10, n)
    return lambda: optimizer.update(net.params, net.gradient(x, t))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--keep-heap", action="store_true",
                        help="glibc: map blocks below 32 MB from the heap and keep up to 64 MB of it")
    args = parser.parse_args()
    if args.keep_heap:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
        if libc.mallopt(m_mmap_threshold, 32 << 20) != 1 or libc.mallopt(m_trim_threshold, 64 << 20) != 1:
            raise SystemExit("mallopt failed (not glibc?)")
    if _kernels.DIRECT_BLAS is None:
        raise SystemExit("this NumPy's BLAS is not one Affine calls directly: nothing to compare")
    with pinned_to_one_core(True):
        rng = np.random.default_rng(0)
        cases = {f"Affine forward + backward, N = {n}": affine_call(n, rng) for n in (1, 2, 8, 32, 100)}
        cases |= {f"TwoLayerNet step, N = {n}": step_call(n, rng) for n in (1, 100)}
        blas = ", ".join(f"{p['internal_api']} {p['version']} ({p['architecture']})"
                         for p in threadpool_info() if p.get("user_api") == "blas")
        print(f"{cpu_model()}, NumPy {np.__version__}, {blas}, direct symbols {_kernels.DIRECT_BLAS}*64_; "
              f"one thread, pinned; medians of {args.samples} interleaved samples; "
              f"{'heap kept (--keep-heap)' if args.keep_heap else 'glibc malloc defaults'}")
        print("| case | np.dot / np.matmul | direct | direct / NumPy's calls |\n|---|---|---|---|")
        with threadpool_limits(1), zk.limit_threads(1):
            for name, call in cases.items():
                repeats = 2 if "100" in name else 10
                times: dict[bool, list[float]] = {False: [], True: []}
                for _ in range(args.samples):
                    for direct in (False, True):
                        _affine.use_blas(direct)
                        call()
                        start = time.perf_counter()
                        for _ in range(repeats):
                            call()
                        times[direct].append((time.perf_counter() - start) / repeats)
                _affine.use_blas(True)
                before, after = (statistics.median(times[d]) * 1e6 for d in (False, True))
                print(f"| {name} | {before:.2f} us | {after:.2f} us | {after / before:.3f} |")


if __name__ == "__main__":
    main()
