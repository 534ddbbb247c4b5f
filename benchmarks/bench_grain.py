"""Where does a second (third, ...) thread start to pay?  Grain-size probe.

For each layer's forward and a range of sizes, times the call at 1 thread and
at the machine's thread count with the grain sizes forced to 1 (so that every
size runs in parallel), and prints the medians.  The grain constants in
zk_layers/layers.py are set just above the size where the parallel column
starts to win.

    python benchmarks/bench_grain.py [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np
from threadpoolctl import threadpool_limits

import zk_layers as zk
from zk_layers._threads import GRAINS


def median_us(fn, number: int, repeat: int = 9) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=zk.get_num_threads())
    args = parser.parse_args()
    GRAINS.elementwise = GRAINS.exp = GRAINS.rowwise = GRAINS.update = 1
    print(f"{'elements':>10} " + " ".join(
        f"{op + ' T=' + str(th):>16}" for op in ("Relu", "Sigmoid", "Softmax") for th in (1, args.threads)
    ))
    with threadpool_limits(1):
        for n in (1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20, 1 << 22):
            rng = np.random.default_rng(0)
            x = rng.standard_normal(n)
            scores, labels = rng.standard_normal((n // 10, 10)), np.zeros(n // 10, dtype=int)
            number = max(3, 2_000_000 // n)
            cells = []
            for fn in (lambda x=x: zk.Relu().forward(x), lambda x=x: zk.Sigmoid().forward(x),
                       lambda scores=scores, labels=labels: zk.SoftmaxWithLoss().forward(scores, labels)):
                for th in (1, args.threads):
                    with zk.limit_threads(th):
                        cells.append(median_us(fn, number))
            print(f"{n:>10} " + " ".join(f"{c:>13.1f} us" for c in cells))


if __name__ == "__main__":
    main()
