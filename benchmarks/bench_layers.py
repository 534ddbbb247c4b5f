"""Micro-benchmark: every layer, fast against the NumPy reference, book size.

Protocol (../shared/PERF.md): one process, both implementations interleaved
(A B A B ...), a warm-up first, each sample a loop of calls lasting about
10 ms with the garbage collector off, medians and interquartile ranges of
many samples, ratios reference/fast.  Both sides get the same thread budget,
BLAS included (threadpoolctl).  The machine, the BLAS kernel that ran and
any OMP_*/OPENBLAS_* variables are printed with the results.

    python benchmarks/bench_layers.py                  # N=100, 784-50-10, float64, 1 thread
    python benchmarks/bench_layers.py --batch 1000 --hidden 1000 --dtype float32 --threads 2
    python benchmarks/bench_layers.py --json results.json
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from threadpoolctl import threadpool_limits

import zk_layers as zk
from zk_layers._config import config_info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _calibrate(fn: Callable[[], object], target_s: float) -> int:
    """Number of calls that takes about target_s."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target_s / 4:
            return max(1, int(n * target_s / elapsed))
        n *= 4


def _sample(fn: Callable[[], object], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return (time.perf_counter() - start) / loops


def compare(cases: dict[str, Callable[[], object]], samples: int, target_s: float) -> dict[str, dict[str, float]]:
    """Interleaved medians (seconds per call) and IQRs for each named callable."""
    loops = {name: _calibrate(fn, target_s) for name, fn in cases.items()}  # also the warm-up
    times: dict[str, list[float]] = {name: [] for name in cases}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(samples):
            for name, fn in cases.items():
                times[name].append(_sample(fn, loops[name]))
    finally:
        if gc_was_enabled:
            gc.enable()
    result = {}
    for name, values in times.items():
        q1, _, q3 = statistics.quantiles(values, n=4)
        result[name] = {"median_s": statistics.median(values), "iqr_s": q3 - q1}
    return result


def layer_cases(impl, n: int, d: int, h: int, c: int, dtype, rng) -> dict[str, dict[str, Callable[[], object]]]:
    """{op: {"forward": f, "backward": g, "forward+backward": h}} for one implementation."""
    x_h = rng.standard_normal((n, h)).astype(dtype)
    dout_h = rng.standard_normal((n, h)).astype(dtype)
    x_d = rng.standard_normal((n, d)).astype(dtype)
    W = (rng.standard_normal((d, h)) * 0.01).astype(dtype)
    b = np.zeros(h, dtype)
    scores = rng.standard_normal((n, c)).astype(dtype)
    labels = rng.integers(0, c, n)
    ops = {}
    for name, layer, args, dout in (
        ("Relu", impl.Relu(), (x_h,), dout_h),
        ("Sigmoid", impl.Sigmoid(), (x_h,), dout_h),
        ("Affine", impl.Affine(W, b), (x_d,), dout_h),
        ("SoftmaxWithLoss", impl.SoftmaxWithLoss(), (scores, labels), 1),
    ):
        layer.forward(*args)

        def fwd(layer=layer, args=args):
            return layer.forward(*args)

        def bwd(layer=layer, dout=dout):
            return layer.backward(dout)

        def both(layer=layer, args=args, dout=dout):
            layer.forward(*args)
            return layer.backward(dout)

        ops[name] = {"forward": fwd, "backward": bwd, "forward+backward": both}
    return ops


def training_step(impl, n: int, d: int, h: int, c: int, dtype, rng) -> Callable[[], object]:
    """One SGD step of the book's Affine-Relu-Affine-SoftmaxWithLoss net."""
    params = {
        "W1": (rng.standard_normal((d, h)) * 0.01).astype(dtype), "b1": np.zeros(h, dtype),
        "W2": (rng.standard_normal((h, c)) * 0.01).astype(dtype), "b2": np.zeros(c, dtype),
    }
    layers = [impl.Affine(params["W1"], params["b1"]), impl.Relu(), impl.Affine(params["W2"], params["b2"])]
    last = impl.SoftmaxWithLoss()
    x = rng.random((n, d)).astype(dtype)
    t = rng.integers(0, c, n)

    def step():
        out = x
        for layer in layers:
            out = layer.forward(out)
        last.forward(out, t)
        dout = last.backward(1)
        for layer in reversed(layers):
            dout = layer.backward(dout)
        for key, layer, attr in (("W1", layers[0], "dW"), ("b1", layers[0], "db"),
                                 ("W2", layers[2], "dW"), ("b2", layers[2], "db")):
            params[key] -= 0.1 * getattr(layer, attr)

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--input", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=50)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=31)
    parser.add_argument("--sample-ms", type=float, default=10.0)
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)

    dtype = np.dtype(args.dtype)
    n, d, h, c = args.batch, args.input, args.hidden, args.classes
    rows = []
    with threadpool_limits(limits=args.threads), zk.limit_threads(args.threads):
        info = config_info()
        fast_ops = layer_cases(zk, n, d, h, c, dtype, np.random.default_rng(0))
        ref_ops = layer_cases(zk.reference, n, d, h, c, dtype, np.random.default_rng(0))
        for op in fast_ops:
            for mode in fast_ops[op]:
                r = compare({"fast": fast_ops[op][mode], "reference": ref_ops[op][mode]},
                            args.samples, args.sample_ms / 1000)
                rows.append({"op": op, "mode": mode, **{f"{k}_{m}": v for k in r for m, v in r[k].items()}})
        r = compare({"fast": training_step(zk, n, d, h, c, dtype, np.random.default_rng(0)),
                     "reference": training_step(zk.reference, n, d, h, c, dtype, np.random.default_rng(0))},
                    args.samples, args.sample_ms / 1000)
        rows.append({"op": "TwoLayerNet step", "mode": "train", **{f"{k}_{m}": v for k in r for m, v in r[k].items()}})

    blas = ", ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})" for p in info["blas"])
    print(f"# zk_layers {zk.__version__} micro-benchmark: N={n}, {d}-{h}-{c}, {args.dtype}, {args.threads} thread(s)")
    print(f"# machine: {_cpu_model()}, {info['usable_cpus']} usable CPUs; python {info['python']}, numpy {info['numpy']}")
    print(f"# BLAS: {blas or 'not detected'}; OpenMP: {'on' if info['openmp'] else 'off'}; env: {info['environment'] or '{}'}")
    print(f"# {args.samples} interleaved samples of ~{args.sample_ms:g} ms; median (IQR) per call")
    print(f"{'op':<18}{'mode':<18}{'fast':>18}{'reference':>18}{'ref/fast':>10}")
    for row in rows:
        ratio = row["reference_median_s"] / row["fast_median_s"]
        row["ratio"] = ratio
        print(f"{row['op']:<18}{row['mode']:<18}"
              f"{row['fast_median_s'] * 1e6:>9.2f} ({row['fast_iqr_s'] * 1e6:5.2f}) us"
              f"{row['reference_median_s'] * 1e6:>9.2f} ({row['reference_iqr_s'] * 1e6:5.2f}) us"
              f"{ratio:>9.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": vars(args), "machine": _cpu_model(), "config": info, "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
