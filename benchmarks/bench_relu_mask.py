"""What the book's mask costs Relu's forward: ours (output and mask, into
reused buffers) against PyTorch's ``clamp_min(out=)`` (output only), NumPy's
``np.maximum(out=)`` and a plain copy of the input, at an L2-sized and an
L3-sized input.  float64, one thread, pinned to one core; the four
interleaved call by call, medians.

    PYTHONPATH=. python benchmarks/bench_relu_mask.py [--repeats 300]
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import zk_layers as zk
from zk_layers.bench import cpu_model, pinned_to_one_core


def _calls(torch: Any, x: np.ndarray, out: np.ndarray) -> dict[str, Callable[[], object]]:
    x_t, out_t = torch.from_numpy(x), torch.from_numpy(out)
    relu = zk.Relu()
    relu.forward(x, out=out)
    return {
        "zk": lambda: relu.forward(x, out=out),
        "torch": lambda: torch.clamp_min(x_t, 0, out=out_t),
        "numpy": lambda: np.maximum(x, 0, out=out),
        "copy": lambda: np.copyto(out, x),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    with pinned_to_one_core(True):
        import torch

        torch.set_num_threads(1)
        zk.set_num_threads(1)
        rng = np.random.default_rng(0)
        print(f"{cpu_model()}, NumPy {np.__version__}, PyTorch {torch.__version__}; one thread, pinned; "
              f"medians of {args.repeats}")
        print("| elements | zk Relu.forward(out=) | torch.clamp_min(out=) | np.maximum(out=) | np.copyto |")
        print("|---|---|---|---|---|")
        for n in (100_000, 1_000_000):
            calls = _calls(torch, rng.standard_normal(n), np.empty(n))
            times: dict[str, list[float]] = {name: [] for name in calls}
            for _ in range(args.repeats):
                for name, call in calls.items():
                    start = time.perf_counter()
                    call()
                    times[name].append(time.perf_counter() - start)
            print(f"| {n:,} | " + " | ".join(f"{statistics.median(times[k]) * 1e6:.1f} us" for k in calls) + " |")

if __name__ == "__main__":
    main()
