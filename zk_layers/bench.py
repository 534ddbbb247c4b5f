"""The benchmark suite: zk_layers against the NumPy reference (and PyTorch).

Protocol (the team's, see the README): one process; the implementations of
one case run interleaved (A B C A B C ...) after a warm-up; each sample is
a loop of calls lasting about ``sample_ms`` with the garbage collector off;
medians and interquartile ranges of many samples; ratios reference/fast and
torch/fast.  Every implementation gets the same thread budget, BLAS
included (threadpoolctl), and the report names the machine, the BLAS kernel
that ran and the OMP_*/OPENBLAS_* variables.

Used by ``zk-layers bench`` and by the scripts in ``benchmarks/``.
"""
from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import layers as fast
from . import reference
from ._config import config_info
from ._threads import limit_threads
from ._version import __version__

OPS = ("relu", "sigmoid", "affine", "softmax", "step")
MODES = ("forward", "backward", "forward+backward")
SIZES: dict[str, dict[str, Any]] = {
    # N: batch; D -> H -> C: input, hidden, classes.  Elementwise ops run on
    # (N, H), Affine on (N, D) @ (D, H), the loss on (N, C).
    "n1": {"N": 1, "D": 784, "H": 50, "C": 10},
    "n8": {"N": 8, "D": 784, "H": 50, "C": 10},
    "book": {"N": 100, "D": 784, "H": 50, "C": 10},
    "mid": {"N": 1000, "D": 784, "H": 1000, "C": 10},
    # Large: 8192x4096 elementwise, 8192x1000 softmax-loss, 4096^3 Affine.
    "large": {"N": 8192, "D": 4096, "H": 4096, "C": 1000, "affine_N": 4096},
}
SIZE_GROUPS = {"tiny": ("n1", "n8"), "book": ("book",), "mid": ("mid",), "large": ("large",)}
QUICK_SIZES = ("book", "mid")


@dataclass
class Case:
    op: str
    size: str
    dtype: str
    threads: int
    mode: str
    shape: str
    medians_s: dict[str, float] = field(default_factory=dict)
    iqrs_s: dict[str, float] = field(default_factory=dict)
    bytes_moved: int = 0

    def ratio(self, other: str) -> float | None:
        if other in self.medians_s and "fast" in self.medians_s:
            return self.medians_s[other] / self.medians_s["fast"]
        return None


# ----------------------------------------------------------------- timing
def _calibrate(fn: Callable[[], object], target_s: float) -> int:
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= target_s / 4 or n >= 1 << 20:
            return max(1, int(n * target_s / max(elapsed, 1e-9)))
        n *= 4


def compare(cases: dict[str, Callable[[], object]], samples: int, target_s: float) -> dict[str, tuple[float, float]]:
    """Interleaved timing: {name: (median seconds per call, IQR)}."""
    loops = {name: _calibrate(fn, target_s) for name, fn in cases.items()}  # doubles as warm-up
    times: dict[str, list[float]] = {name: [] for name in cases}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(samples):
            for name, fn in cases.items():
                n = loops[name]
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                times[name].append((time.perf_counter() - start) / n)
    finally:
        if enabled:
            gc.enable()
    result = {}
    for name, values in times.items():
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        result[name] = (statistics.median(values), q[2] - q[0])
    return result


# ------------------------------------------------------------- workloads
def _layer_workloads(impl: Any, op: str, spec: dict[str, Any], dtype: np.dtype,
                     rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """forward / backward / forward+backward callables of one layer."""
    n, d, h, c = spec["N"], spec["D"], spec["H"], spec["C"]
    if op in ("relu", "sigmoid"):
        layer = impl.Relu() if op == "relu" else impl.Sigmoid()
        args: tuple[Any, ...] = (rng.standard_normal((n, h)).astype(dtype),)
        dout: Any = rng.standard_normal((n, h)).astype(dtype)
    elif op == "affine":
        n = spec.get("affine_N", n)
        w = (rng.standard_normal((d, h)) * 0.01).astype(dtype)
        layer = impl.Affine(w, np.zeros(h, dtype))
        args = (rng.standard_normal((n, d)).astype(dtype),)
        dout = rng.standard_normal((n, h)).astype(dtype)
    elif op == "softmax":
        layer = impl.SoftmaxWithLoss()
        args = (rng.standard_normal((n, c)).astype(dtype), rng.integers(0, c, n))
        dout = 1
    else:
        raise ValueError(op)
    layer.forward(*args)

    def forward() -> object:
        return layer.forward(*args)

    def backward() -> object:
        return layer.backward(dout)

    def both() -> object:
        layer.forward(*args)
        return layer.backward(dout)

    work = {"forward": forward, "backward": backward, "forward+backward": both}
    if op in ("relu", "sigmoid"):
        buffer = np.empty_like(args[0])

        def forward_out() -> object:
            return layer.forward(args[0], out=buffer)

        work["forward(out=)"] = forward_out
    return work


def _step_workload(backend: str, spec: dict[str, Any], dtype: np.dtype,
                   rng: np.random.Generator) -> Callable[[], object]:
    """One training step of TwoLayerNet: forward, loss, backward, SGD update.

    The reference step is the book's (its net computes the first layer's dx,
    and the update is ``params[key] -= lr * grads[key]``); the fast step is
    the package's (the fast net skips that dx, zk.SGD updates in one pass).
    """
    from .nets import TwoLayerNet
    from .optimizers import SGD

    net = TwoLayerNet(spec["D"], spec["H"], spec["C"], dtype=dtype, backend=backend, seed=0)
    x = rng.random((spec["N"], spec["D"])).astype(dtype)
    t = rng.integers(0, spec["C"], spec["N"])
    sgd = SGD(lr=0.1)

    def fast_step() -> object:
        grads = net.gradient(x, t)
        sgd.update(net.params, grads)
        return grads

    def book_step() -> object:
        grads = net.gradient(x, t)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= 0.1 * grads[key]
        return grads

    return fast_step if backend == "fast" else book_step


def _torch_workloads(op: str, spec: dict[str, Any], dtype: np.dtype,
                     rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """PyTorch CPU: explicit forward/backward ops, and autograd for forward+backward."""
    import torch

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    n, d, h, c = spec["N"], spec["D"], spec["H"], spec["C"]
    work: dict[str, Callable[[], object]] = {}
    if op in ("relu", "sigmoid"):
        x = torch.from_numpy(rng.standard_normal((n, h)).astype(dtype))
        dout = torch.from_numpy(rng.standard_normal((n, h)).astype(dtype))
        fwd = torch.relu if op == "relu" else torch.sigmoid
        y = fwd(x)
        if op == "relu":
            work["backward"] = lambda: torch.where(x > 0, dout, 0.0)
        else:
            work["backward"] = lambda: dout * (1 - y) * y
        work["forward"] = lambda: fwd(x)

        def explicit() -> object:
            out = fwd(x)
            return torch.where(x > 0, dout, 0.0) if op == "relu" else dout * (1 - out) * out

        xg = x.clone().requires_grad_(True)

        def autograd() -> object:
            fwd(xg).backward(dout)
            xg.grad = None
            return None

        work["forward+backward"] = explicit
        work["autograd"] = autograd
    elif op == "affine":
        n = spec.get("affine_N", n)
        x = torch.from_numpy(rng.standard_normal((n, d)).astype(dtype))
        w = torch.from_numpy((rng.standard_normal((d, h)) * 0.01).astype(dtype))
        b = torch.zeros(h, dtype=tdtype)
        dout = torch.from_numpy(rng.standard_normal((n, h)).astype(dtype))
        work["forward"] = lambda: torch.addmm(b, x, w)
        work["backward"] = lambda: (dout @ w.T, x.T @ dout, dout.sum(0))

        def explicit() -> object:
            torch.addmm(b, x, w)
            return dout @ w.T, x.T @ dout, dout.sum(0)

        xg, wg, bg = (v.clone().requires_grad_(True) for v in (x, w, b))

        def autograd() -> object:
            torch.addmm(bg, xg, wg).backward(dout)
            xg.grad = wg.grad = bg.grad = None
            return None

        work["forward+backward"] = explicit
        work["autograd"] = autograd
    elif op == "softmax":
        x = torch.from_numpy(rng.standard_normal((n, c)).astype(dtype))
        t = torch.from_numpy(rng.integers(0, c, n))
        onehot = torch.nn.functional.one_hot(t, c).to(tdtype)
        work["forward"] = lambda: torch.nn.functional.cross_entropy(x, t)
        y = torch.softmax(x, 1)
        work["backward"] = lambda: (y - onehot) / n

        def explicit() -> object:
            out = torch.softmax(x, 1)
            loss = -torch.log(out[torch.arange(n), t]).mean()
            return loss, (out - onehot) / n

        xg = x.clone().requires_grad_(True)

        def autograd() -> object:
            torch.nn.functional.cross_entropy(xg, t).backward()
            xg.grad = None
            return None

        work["forward+backward"] = explicit
        work["autograd"] = autograd
    elif op == "step":
        g = torch.Generator().manual_seed(0)
        w1 = (torch.randn(d, h, generator=g, dtype=tdtype) * 0.01).requires_grad_(True)
        b1 = torch.zeros(h, dtype=tdtype, requires_grad=True)
        w2 = (torch.randn(h, c, generator=g, dtype=tdtype) * 0.01).requires_grad_(True)
        b2 = torch.zeros(c, dtype=tdtype, requires_grad=True)
        x = torch.from_numpy(rng.random((n, d)).astype(dtype))
        t = torch.from_numpy(rng.integers(0, c, n))

        def step() -> object:
            loss = torch.nn.functional.cross_entropy(torch.relu(x @ w1 + b1) @ w2 + b2, t)
            loss.backward()
            with torch.no_grad():
                for p in (w1, b1, w2, b2):
                    p -= 0.1 * p.grad
                    p.grad = None
            return None

        work["train"] = step
    return work


def _memory_bytes(op: str, mode: str, spec: dict[str, Any], itemsize: int) -> int:
    """Bytes a memory-bound op must read and write (for the bandwidth column)."""
    if op in ("relu", "sigmoid"):
        n = spec["N"] * spec["H"]
        mask = 1 if op == "relu" else 0
        per = {"forward": 2 * itemsize + mask, "forward(out=)": 2 * itemsize + mask,
               "backward": 2 * itemsize + (mask or itemsize),
               "forward+backward": 4 * itemsize + 2 * mask + (0 if mask else itemsize)}[mode]
        return n * per
    if op == "softmax":
        n = spec["N"] * spec["C"]
        return n * {"forward": 2 * itemsize, "backward": 2 * itemsize, "forward+backward": 4 * itemsize}[mode]
    return 0


def measure_bandwidth(threads: int, samples: int = 7) -> float:
    """Streaming bandwidth in GB/s (bytes read + written) of a copy kernel over
    arrays far larger than cache, at the given thread count (our Relu
    backward on a 0-mask is a read-read-write stream; np.copyto is single
    threaded, so the copy is done with our kernels to use every thread)."""
    n = 1 << 25  # 256 MiB of float64
    src = np.ones(n)
    dst = np.empty(n)
    mask = np.zeros(n, dtype=np.bool_)
    kernel = fast._KERNELS.relu_backward[True]
    with limit_threads(threads):
        n_threads = fast.threads_for(n, fast.ELEMENTWISE_GRAIN)
        kernel(src, mask, dst, n_threads)  # first touch
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            kernel(src, mask, dst, n_threads)
            times.append(time.perf_counter() - start)
    return (2 * 8 + 1) * n / statistics.median(times) / 1e9


# ------------------------------------------------------------------- driver
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _torch_available() -> bool:
    """Import PyTorch if it is installed, its OpenMP runtime set to the passive
    wait policy unless the user chose one: PyTorch bundles its own libgomp,
    whose spinning threads otherwise take the cores from OpenBLAS's threads in
    the interleaved runs (measured: 2-thread float32 GEMMs of the book's size
    at 8-30 ms instead of 0.1-0.3 ms, for the reference as for zk_layers)."""
    import os

    set_here = "torch" not in sys.modules and not any(
        k in os.environ for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    if set_here:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    finally:
        if set_here:
            del os.environ["OMP_WAIT_POLICY"]
    return True


def run(ops: Sequence[str], sizes: Sequence[str], dtypes: Sequence[str], threads: Sequence[int], *,
        samples: int = 15, sample_ms: float = 10.0, use_torch: bool = True, bandwidth: bool = False,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the suite; returns a JSON-ready report."""
    from threadpoolctl import threadpool_limits

    use_torch = use_torch and _torch_available()
    cases: list[Case] = []
    bandwidths: dict[int, float] = {}
    plan = [(op, size, dt, th) for th in threads for dt in dtypes for size in sizes for op in ops
            if not (op == "step" and size == "large")]
    for index, (op, size, dt, th) in enumerate(plan):
        dtype = np.dtype(dt)
        spec = SIZES[size]
        if progress is not None:
            progress(f"[{index + 1}/{len(plan)}] {op} {size} {dt} {th} thread(s)")
        with threadpool_limits(limits=th), limit_threads(th):
            if use_torch:
                import torch

                torch.set_num_threads(th)
            if op == "step":
                impls = {"fast": {"train": _step_workload("fast", spec, dtype, np.random.default_rng(0))},
                         "reference": {"train": _step_workload("reference", spec, dtype, np.random.default_rng(0))}}
                modes: tuple[str, ...] = ("train",)
            else:
                impls = {"fast": _layer_workloads(fast, op, spec, dtype, np.random.default_rng(0)),
                         "reference": _layer_workloads(reference, op, spec, dtype, np.random.default_rng(0))}
                modes = MODES + (("forward(out=)",) if op in ("relu", "sigmoid") and size == "large" else ())
            if use_torch:
                impls["torch"] = _torch_workloads(op, spec, dtype, np.random.default_rng(0))
            for mode in modes:
                contenders = {name: work[mode] for name, work in impls.items() if mode in work}
                if mode == "forward+backward" and use_torch and "autograd" in impls["torch"]:
                    contenders["torch_autograd"] = impls["torch"]["autograd"]
                result = compare(contenders, samples if size != "large" else max(3, samples // 3), sample_ms / 1000)
                shape = (f"N={spec.get('affine_N', spec['N']) if op == 'affine' else spec['N']}, "
                         f"{spec['D']}-{spec['H']}-{spec['C']}")
                case = Case(op, size, dt, th, mode, shape, {k: v[0] for k, v in result.items()},
                            {k: v[1] for k, v in result.items()}, _memory_bytes(op, mode, spec, dtype.itemsize))
                cases.append(case)
        if bandwidth and th not in bandwidths:
            bandwidths[th] = measure_bandwidth(th)
    info = config_info()
    return {
        "zk_layers": __version__,
        "machine": {"cpu": _cpu_model(), "usable_cpus": info["usable_cpus"], "platform": info["platform"]},
        "config": info,
        "torch": _torch_version() if use_torch else None,
        "protocol": {"samples": samples, "sample_ms": sample_ms, "interleaved": True, "gc": "off"},
        "bandwidth_GBps": bandwidths,
        "cases": [asdict(c) | {"ratio_reference": c.ratio("reference"), "ratio_torch": _best_torch_ratio(c)}
                  for c in cases],
    }


def _torch_version() -> str:
    import torch

    return str(torch.__version__)


def _best_torch_ratio(case: Case) -> float | None:
    """torch/fast with the better of PyTorch's explicit and autograd paths."""
    candidates = [case.medians_s[k] for k in ("torch", "torch_autograd") if k in case.medians_s]
    if not candidates or "fast" not in case.medians_s:
        return None
    return min(candidates) / case.medians_s["fast"]


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def format_table(report: dict[str, Any], markdown: bool = False) -> str:
    cfg = report["config"]
    blas = ", ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})" for p in cfg["blas"]) or "not detected"
    head = [
        f"zk_layers {report['zk_layers']} benchmark on {report['machine']['cpu']} "
        f"({report['machine']['usable_cpus']} usable CPUs), {report['machine']['platform']}",
        f"python {cfg['python']}, numpy {cfg['numpy']}, BLAS {blas}, kernels {cfg['kernels']}, "
        f"OpenMP {'on' if cfg['openmp'] else 'off'}, torch {report['torch'] or 'not installed'}",
        f"environment: {cfg['environment'] or '{}'}",
        f"protocol: interleaved, {report['protocol']['samples']} samples of ~{report['protocol']['sample_ms']:g} ms, "
        f"medians (IQR); ratios > 1 mean zk_layers is faster",
    ]
    for th, gbps in report["bandwidth_GBps"].items():
        head.append(f"streaming bandwidth at {th} thread(s): {gbps:.1f} GB/s")
    cols = ["op", "size", "dtype", "thr", "mode", "fast", "reference", "torch", "ref/fast", "torch/fast",
            "GB/s (of stream)"]
    rows = []
    for c in report["cases"]:
        med, iqr = c["medians_s"], c["iqrs_s"]
        torch_best = min((med[k] for k in ("torch", "torch_autograd") if k in med), default=None)
        gbps = ""
        if c["bytes_moved"] and c["size"] == "large":
            gbps = f"{c['bytes_moved'] / med['fast'] / 1e9:.1f}"
            if c["threads"] in report["bandwidth_GBps"]:
                gbps += f" ({100 * c['bytes_moved'] / med['fast'] / 1e9 / report['bandwidth_GBps'][c['threads']]:.0f}%)"
        rows.append([c["op"], c["size"], c["dtype"], str(c["threads"]), c["mode"],
                     f"{_fmt_time(med.get('fast'))} ({_fmt_time(iqr.get('fast'))})",
                     _fmt_time(med.get("reference")), _fmt_time(torch_best),
                     f"{c['ratio_reference']:.2f}x" if c["ratio_reference"] else "-",
                     f"{c['ratio_torch']:.2f}x" if c["ratio_torch"] else "-", gbps])
    if markdown:
        lines = [*(f"- {h}" for h in head), "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(cols[i]), *(len(r[i]) for r in rows)) if rows else len(cols[i]) for i in range(len(cols))]
    lines = [*head, "", "  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def plot_ratios(report: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in report["cases"] if c["ratio_reference"]]
    labels = [f"{c['op']} {c['mode'][:7]} {c['size']} {c['dtype'][-2:]} T{c['threads']}" for c in cases]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.22 * len(cases))))
    y = np.arange(len(cases))
    ax.barh(y, [c["ratio_reference"] for c in cases], height=0.4, label="reference / fast")
    torch_ratios = [c["ratio_torch"] or 0 for c in cases]
    if any(torch_ratios):
        ax.barh(y + 0.4, torch_ratios, height=0.4, label="torch / fast")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(y + 0.2, labels, fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("speed-up of zk_layers (log scale)")
    ax.legend(loc="lower right")
    ax.set_title(f"zk_layers {report['zk_layers']} on {report['machine']['cpu']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _csv(text: str, allowed: Sequence[str], name: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise argparse.ArgumentTypeError(f"{name} must be a comma-separated subset of {', '.join(allowed)}, got {text!r}")
    return values


def _threads_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"threads must be comma-separated positive integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"threads must be comma-separated positive integers, got {text!r}")
    return values


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--full", action="store_true",
                   help="every op, size (tiny, book, mid, large), dtype and thread count 1..cores; minutes")
    p.add_argument("--ops", type=lambda s: _csv(s, OPS, "ops"), help=f"subset of {','.join(OPS)} (default: all)")
    p.add_argument("--sizes", type=lambda s: _csv(s, list(SIZE_GROUPS), "sizes"),
                   help="subset of tiny,book,mid,large (default: book,mid)")
    p.add_argument("--dtypes", type=lambda s: _csv(s, ["float32", "float64"], "dtypes"),
                   help="float32,float64 (default: float64; --full: both)")
    p.add_argument("--threads", type=_threads_list,
                   help="thread counts, e.g. 1,2,4 (default: 1 and the usable CPUs)")
    p.add_argument("--samples", type=int, default=15, help="samples per implementation (default: 15)")
    p.add_argument("--sample-ms", type=float, default=10.0, help="length of one sample (default: 10 ms)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    p.add_argument("--bandwidth", action="store_true", help="also measure streaming bandwidth (on with --full)")
    p.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true")


def run_from_args(args: argparse.Namespace) -> int:
    if args.samples < 3:
        raise ValueError(f"--samples must be at least 3, got {args.samples}")
    if not args.sample_ms > 0:
        raise ValueError(f"--sample-ms must be positive, got {args.sample_ms}")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SystemExit("zk-layers bench: --plot needs matplotlib: pip install 'zk_layers[plot]'") from None
    cpus = config_info()["usable_cpus"]
    groups = args.sizes or (list(SIZE_GROUPS) if args.full else list(QUICK_SIZES))
    sizes = [s for g in groups for s in SIZE_GROUPS[g]]
    dtypes = args.dtypes or (["float32", "float64"] if args.full else ["float64"])
    default_threads = sorted({1, 2, 4, 8, 16, cpus} & set(range(1, cpus + 1))) if args.full else sorted({1, cpus})
    threads = args.threads or default_threads
    ops = args.ops or list(OPS)

    def progress(message: str) -> None:
        if not args.no_progress:
            print(message, file=sys.stderr, flush=True)

    report = run(ops, sizes, dtypes, threads, samples=args.samples, sample_ms=args.sample_ms,
                 use_torch=not args.no_torch, bandwidth=args.bandwidth or args.full, progress=progress)
    print(format_table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(format_table(report, markdown=True) + "\n")
        print(f"wrote {args.markdown}")
    if args.plot:
        plot_ratios(report, args.plot)
        print(f"wrote {args.plot}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zk-layers bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
