#!/usr/bin/env python3
"""Leak check: resident memory of many forward/backward calls per layer.

For each layer a workload runs forward and backward on small, GIL-free-sized
(10,000 elements), float32, Fortran-ordered, reshaped and out= inputs, plus
calls that are rejected with TypeError/ValueError (the error paths must not
leak either).  After a warm-up (allocator pools, caches) the resident set
size is read from /proc/self/statm before and after ``--calls`` calls; a
leak of even a few bytes per call shows as growth.  The last row is a
control that keeps 1 KB per round on purpose, to show that the measurement
sees a leak.

    python scripts/leak_check.py                 # 100,000 calls per layer, a table
    python scripts/leak_check.py --calls 20000 --threads 2 --tiny-grain
    python scripts/leak_check.py --json          # for tests/test_memory.py

Exit status 1 if any layer grew by more than ``--limit-mb`` (default 5).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

import numpy as np

try:
    import zk_layers as zk
except ImportError:  # an in-place build in the repository
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import zk_layers as zk

from zk_layers._threads import GRAINS

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def must_raise(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except (TypeError, ValueError):
        return
    raise AssertionError(f"{fn} did not raise")


rng = np.random.default_rng(0)
SMALL, BIG = (32, 20), (100, 100)  # BIG: 10,000 elements, the GIL-free kernel path
x_small, x_big = rng.standard_normal(SMALL), rng.standard_normal(BIG)
x32 = x_small.astype(np.float32)
W, b = rng.standard_normal((20, 10)), rng.standard_normal(10)
t = rng.integers(0, 20, 32)
bad_t = t.copy()
bad_t[5] = 20
out_buf = np.empty(SMALL)
ones_affine, ones_affine32 = np.ones((32, 10)), np.ones((32, 10), np.float32)


# Each workload: one round; returns (forward/backward calls, rejected calls).
def relu() -> tuple[int, int]:
    layer = zk.Relu()
    layer.forward(x_small)
    layer.backward(x_small)
    layer.forward(x32, out=np.empty_like(x32))
    layer.backward(x32)
    layer.forward(x_big)
    layer.backward(x_big)
    must_raise(layer.backward, x_big[:3])
    must_raise(layer.forward, x_small, out=np.empty((3, 3)))
    return 6, 2


def sigmoid() -> tuple[int, int]:
    layer = zk.Sigmoid()
    layer.forward(x_small)
    layer.backward(x_small)
    layer.forward(x_small, out=out_buf)
    layer.backward(x32.astype(np.float64))
    layer.forward(np.asfortranarray(x_big))
    layer.backward(x_big)
    must_raise(layer.backward, "dout")
    must_raise(layer.backward, x_small, out=layer.out)
    return 6, 2


def affine() -> tuple[int, int]:
    layer = zk.Affine(W, b)
    layer.forward(x_small)
    layer.backward(ones_affine)
    layer.forward(x32)
    layer.backward(ones_affine32)
    layer.forward(x_small.reshape(32, 4, 5))
    layer.backward(ones_affine)
    must_raise(layer.forward, x_big)
    must_raise(layer.backward, np.ones((3, 10)))
    must_raise(zk.Affine, W, b[:3])
    return 6, 3


def softmax() -> tuple[int, int]:
    for eps in (1e-7, 0.0):
        layer = zk.SoftmaxWithLoss(eps=eps)
        layer.forward(x_small, t)
        layer.backward()
        layer.forward(x_big, np.arange(100) % 100)
        layer.backward(0.5)
        layer.forward(x32, np.eye(20)[t])
        layer.backward()
    must_raise(layer.forward, x_small, bad_t)
    must_raise(layer.forward, x_small, t.astype(float))
    must_raise(layer.backward, np.ones(2))
    return 12, 3


def mul_add() -> tuple[int, int]:
    for cls in (zk.MulLayer, zk.AddLayer):
        layer = cls()
        layer.forward(x_small, 2.0)
        layer.backward(x_small)
        must_raise(layer.forward, x_small, "a")
    return 4, 2


_KEPT: list[np.ndarray] = []


def control_leak() -> tuple[int, int]:
    """Not a layer: keeps 1 KB per round, so its row must grow."""
    _KEPT.append(np.ones(128))
    return 1, 0


WORKLOADS = [("Relu", relu), ("Sigmoid", sigmoid), ("Affine", affine),
             ("SoftmaxWithLoss", softmax), ("MulLayer+AddLayer", mul_add),
             ("control (keeps 1 KB/round)", control_leak)]


def measure(calls: int, warmup_rounds: int = 2000) -> list[dict]:
    rows = []
    for name, fn in WORKLOADS:
        per_round, rejected_per_round = fn()
        rounds = max(1, -(-calls // per_round))
        for _ in range(min(rounds, warmup_rounds)):
            fn()
        gc.collect()
        objects_before = len(gc.get_objects())
        before = rss_mb()
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        seconds = time.perf_counter() - start
        gc.collect()
        after = rss_mb()
        rows.append({"layer": name, "rounds": rounds, "calls": rounds * per_round,
                     "rejected": rounds * rejected_per_round, "rss_before_mb": before,
                     "rss_after_mb": after, "growth_mb": after - before,
                     "gc_objects_growth": len(gc.get_objects()) - objects_before, "seconds": seconds})
    return rows


def table(rows: list[dict]) -> str:
    head = ("| layer | forward/backward calls | rejected calls | RSS before (MB) | RSS after (MB) "
            "| growth (MB) | GC objects growth | seconds |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['layer']} | {r['calls']:,} | {r['rejected']:,} | {r['rss_before_mb']:.2f} | "
                     f"{r['rss_after_mb']:.2f} | {r['growth_mb']:+.2f} | {r['gc_objects_growth']:+d} | "
                     f"{r['seconds']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="RSS before/after many calls per layer")
    parser.add_argument("--calls", type=int, default=100_000, help="forward/backward calls per layer (default 100,000)")
    parser.add_argument("--warmup", type=int, default=2000, help="warm-up rounds per layer")
    parser.add_argument("--threads", type=int, default=None, help="zk.set_num_threads(N)")
    parser.add_argument("--tiny-grain", action="store_true", help="grains of 1: a parallel region in every call")
    parser.add_argument("--limit-mb", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if args.tiny_grain:
        GRAINS.elementwise = GRAINS.exp = GRAINS.rowwise = 1
    if args.threads is not None:
        zk.set_num_threads(args.threads)
    rows = measure(args.calls, args.warmup)
    if args.json:
        print(json.dumps(rows))
    else:
        print(f"zk_layers {zk.__version__}, numpy {np.__version__}, Python {sys.version.split()[0]}, "
              f"threads {zk.get_num_threads()}, tiny grain {args.tiny_grain}")
        print(table(rows))
    bad = [r for r in rows if not r["layer"].startswith("control") and r["growth_mb"] >= args.limit_mb]
    control = [r for r in rows if r["layer"].startswith("control")]
    if bad:
        print("LEAK: " + ", ".join(f"{r['layer']} grew {r['growth_mb']:.2f} MB" for r in bad), file=sys.stderr)
    if control and control[0]["growth_mb"] < 0.5 * control[0]["rounds"] * 1024 / 2**20:
        print("WARNING: the control leak did not show: the measurement is blind", file=sys.stderr)
        return 2
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
