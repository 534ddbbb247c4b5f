"""Timing: interleaved samples and their medians, the streaming-bandwidth probe, pinning to one core."""
from __future__ import annotations

import contextlib
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _activations
from .._threads import limit_threads
from ._common import FRESH_MODE


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
    # Each sample starts with the next contender in turn: on a VM whose host
    # takes back freed memory after a second or two (virtio-balloon free
    # page reporting), whoever runs first after the others' long calls pays
    # to fault that memory in again; rotating spreads that cost evenly.
    order = list(cases)
    try:
        for sample in range(samples):
            for name in order[sample % len(order):] + order[:sample % len(order)]:
                fn = cases[name]
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

def _memory_bytes(op: str, mode: str, spec: dict[str, Any], itemsize: int) -> int:
    """Bytes a memory-bound op must read and write (for the bandwidth column)."""
    if op in ("relu", "sigmoid"):
        n = spec["N"] * spec["H"]
        mask = 1 if op == "relu" else 0
        per = {"forward": 2 * itemsize + mask, "forward(out=)": 2 * itemsize + mask,
               "backward": 2 * itemsize + (mask or itemsize),
               "forward+backward": 4 * itemsize + 2 * mask + (0 if mask else itemsize)}[
                   "forward+backward" if mode == FRESH_MODE else mode]
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
    with limit_threads(threads):
        _activations.relu_backward(src, mask, dst)  # first touch
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            _activations.relu_backward(src, mask, dst)
            times.append(time.perf_counter() - start)
    return (2 * 8 + 1) * n / statistics.median(times) / 1e9

@contextlib.contextmanager
def pinned_to_one_core(pin: bool) -> Any:
    """The process on one core for one-thread rows: a peer's own thread
    flags do not bind its runtime (XLA ran a 2000x2000 product on both cores
    with every flag at 1), the affinity mask does.  No-op where
    os.sched_setaffinity does not exist (macOS, Windows)."""
    if not pin or not hasattr(os, "sched_setaffinity"):
        yield
        return
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved)

def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), or what the platform module says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
