"""The optimizers' compiled pass on arrays at each 16-byte offset into a
64-byte line.

NumPy aligns its arrays to 16 bytes, so a large parameter, its gradient and
the optimizer's state usually start 16 or 48 bytes into a line; the update
kernels cut their range at param's first line (src/_cpu_update.pyx).  SGD
and Adam on 39,200 float64 elements (the two-layer net's W1), every array
at the same offset, one thread, pinned; the offsets interleaved, medians.

    PYTHONPATH=. python benchmarks/bench_update_alignment.py [--repeats 3000]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import zk_layers as zk
from zk_layers import _update
from zk_layers.bench import cpu_model, pinned_to_one_core

N = 39_200  # 784 x 50


def at_offset(values: np.ndarray, offset: int) -> np.ndarray:
    """A copy of values whose data starts ``offset`` bytes after a 64-byte line."""
    buffer = np.zeros(values.size + 16)
    skip = (-buffer.ctypes.data % 64 + offset) // buffer.itemsize
    view = buffer[skip:skip + values.size]
    view[...] = values
    return view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3000)
    args = parser.parse_args()
    with pinned_to_one_core(True):
        zk.set_num_threads(1)
        rng = np.random.default_rng(0)
        param, grad = rng.standard_normal(N), rng.standard_normal(N) * 1e-3
        offsets = (0, 16, 32, 48)
        # The first arrays of this size a process maps run slower here whatever
        # their offset (the same group, moved first, showed it): a set is made
        # and dropped before the measured ones.
        [at_offset(a, 0) for a in (param, grad, param, grad)]
        arrays = {offset: [at_offset(a, offset) for a in (param, grad, np.zeros(N), np.zeros(N))]
                  for offset in offsets}
        kinds = ("SGD", "Adam")
        times: dict[tuple[str, int], list[float]] = {(kind, offset): [] for kind in kinds for offset in offsets}
        for repeat in range(args.repeats):
            # Rotated: whichever group runs first after the others reads colder caches.
            for offset in offsets[repeat % 4:] + offsets[:repeat % 4]:
                p, g, m, v = arrays[offset]
                start = time.perf_counter()
                _update.step(_update.SGD, p, g, None, None, 1e-9)
                middle = time.perf_counter()
                _update.step(_update.ADAM, p, g, m, v, 1e-9, 0.9, 0.999, 1e-7)
                end = time.perf_counter()
                times["SGD", offset].append(middle - start)
                times["Adam", offset].append(end - middle)
        print(f"{cpu_model()}, NumPy {np.__version__}, one thread, pinned; medians of {args.repeats}, "
              f"{N:,} float64 elements")
        print("| kernel | " + " | ".join(f"{offset} B into a line" for offset in offsets) + " |")
        print("|---|" + "---|" * len(offsets))
        for kind in kinds:
            cells = " | ".join(f"{statistics.median(times[kind, o]) * 1e6:.2f} us" for o in offsets)
            print(f"| {kind} | {cells} |")


if __name__ == "__main__":
    main()
