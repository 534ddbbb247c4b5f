"""The books' matrix products through each BLAS a user of this machine has.

zk_layers multiplies through NumPy, so its products run on the BLAS NumPy
loaded (OpenBLAS in NumPy's wheels).  PyTorch's CPU wheels carry Intel's MKL.
Where a peer wins a product-bound cell, this shows whether the difference
is the BLAS itself: the same product, the same operands, one core, interleaved.

Contenders:

* ``numpy``  ``np.matmul(a, b, out=)``: the BLAS NumPy loaded;
* ``torch``  ``torch.mm(a, b, out=)`` on tensors sharing the arrays' memory
             (only if PyTorch imports);
* ``mkl``    ``cblas_?gemm`` of a ``libmkl_rt`` named by ``--mkl PATH``
             (for instance the one ``pip install mkl`` puts in the venv's
             ``lib/``), called through ctypes (about 1-2 us per call).

    PYTHONPATH=. python benchmarks/bench_blas_shapes.py --samples 101 \\
        [--mkl .venv/lib/libmkl_rt.so.3] [--markdown FILE]

Every product's result is compared with NumPy's (max |diff| / max |numpy|).
"""
from __future__ import annotations

import argparse
import ctypes
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from zk_layers.bench import cpu_model

# (where, M, K, N, dtype): out (M, N) = a (M, K) @ b (K, N), the books' shapes.
SHAPES = [
    ("ch05 TwoLayerNet Affine1 forward, N = 1", 1, 784, 50, np.float64),
    ("ch05 TwoLayerNet Affine1 forward, N = 100", 100, 784, 50, np.float64),
    ("ch07 SimpleConvNet Conv1, 10 images", 30, 25, 5760, np.float64),
    ("ch07 SimpleConvNet Affine1 forward", 100, 4320, 100, np.float64),
    ("ch07 SimpleConvNet Affine1 dW (its shape)", 4320, 100, 100, np.float64),
    ("vol. 2 ch06 BetterRnnlm step h @ Wh", 20, 650, 2600, np.float32),
    ("vol. 2 ch06 BetterRnnlm xs @ Wx", 700, 650, 2600, np.float32),
    ("vol. 2 ch08 encoder step h @ Wh", 128, 256, 1024, np.float32),
    ("vol. 2 ch08 encoder step dA @ Wh.T", 128, 1024, 256, np.float32),
    ("square", 1000, 1000, 1000, np.float64),
]

ROW_MAJOR, NO_TRANS = 101, 111


def _mkl_gemm(path: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], None]:
    lib = ctypes.CDLL(path)
    lib.MKL_Set_Num_Threads(1)

    def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
        (M, K), N = a.shape, b.shape[1]
        single = a.dtype == np.float32
        scalar = ctypes.c_float if single else ctypes.c_double
        fn = lib.cblas_sgemm if single else lib.cblas_dgemm
        fn(ROW_MAJOR, NO_TRANS, NO_TRANS, M, N, K, scalar(1.0), ctypes.c_void_p(a.ctypes.data), K,
           ctypes.c_void_p(b.ctypes.data), N, scalar(0.0), ctypes.c_void_p(out.ctypes.data), N)

    return gemm


def _contenders(mkl_path: str | None) -> dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], Any]]:
    sides: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], Any]] = {
        "numpy": lambda a, b, out: np.matmul(a, b, out=out)}
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
        sides["torch"] = lambda a, b, out: torch.mm(torch.from_numpy(a), torch.from_numpy(b),
                                                    out=torch.from_numpy(out))
    if mkl_path:
        sides["mkl"] = _mkl_gemm(mkl_path)
    return sides


def measure(samples: int, mkl_path: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    sides = _contenders(mkl_path)
    rng = np.random.default_rng(0)
    rows = []
    for where, M, K, N, dtype in SHAPES:
        a, b = rng.random((M, K)).astype(dtype), rng.random((K, N)).astype(dtype)
        outs = {name: np.empty((M, N), dtype) for name in sides}
        # Products of a few microseconds are timed in batches of calls.
        calls = max(1, int(2e-4 * 50e9 / (2 * M * K * N)))
        times: dict[str, list[float]] = {name: [] for name in sides}
        for sample in range(samples + 2):
            for name, fn in sides.items():
                start = time.perf_counter()
                for _ in range(calls):
                    fn(a, b, outs[name])
                if sample >= 2:
                    times[name].append((time.perf_counter() - start) / calls)
        expected = outs["numpy"]
        row: dict[str, Any] = {"where": where, "shape": f"{M} x {K} @ {K} x {N}", "dtype": np.dtype(dtype).name}
        for name in sides:
            median = statistics.median(times[name])
            row[name] = (median, 2 * M * K * N / median / 1e9,
                         float(np.max(np.abs(outs[name] - expected)) / np.max(np.abs(expected))))
        rows.append(row)
    return rows, list(sides)


def render(rows: list[dict[str, Any]], names: list[str], samples: int) -> str:
    blas = ", ".join(f"{d['internal_api']} {d.get('version')} ({d.get('architecture', '?')})"
                     for d in threadpool_info() if d.get("user_api") == "blas")
    lines = [
        "# The books' products through each BLAS (one core)", "",
        f"Machine: `{cpu_model()}`, {len(os.sched_getaffinity(0))} usable CPUs, {platform.platform()}; "
        f"Python {platform.python_version()}, NumPy {np.__version__}; BLAS libraries loaded: {blas}.",
        f"Process pinned to one core, every library limited to one thread; {samples} interleaved samples, "
        "medians; `x / numpy` > 1: faster than NumPy's BLAS.", "",
        "| product | shape | dtype | " + " | ".join(f"{n} us (GFLOP/s)" for n in names)
        + " | " + " | ".join(f"{n} / numpy" for n in names[1:]) + " | largest difference |",
        "|---|---|---|" + "---|" * (2 * len(names)),
    ]
    for row in rows:
        base = row["numpy"][0]
        cells = [f"{row[n][0] * 1e6:.1f} ({row[n][1]:.1f})" for n in names]
        ratios = [f"{base / row[n][0]:.2f}x" for n in names[1:]]
        worst = max(row[n][2] for n in names)
        lines.append(f"| {row['where']} | {row['shape']} | {row['dtype']} | " + " | ".join(cells + ratios)
                     + f" | {worst:.1e} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=101)
    parser.add_argument("--mkl", help="path of a libmkl_rt shared library to call as a third contender")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with threadpool_limits(1):
        rows, names = measure(args.samples, args.mkl)
        text = render(rows, names, args.samples)
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
