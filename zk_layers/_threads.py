"""How many threads the kernels use: the one place that decides.

Order of precedence, first match wins:

1. a ``with limit_threads(n):`` block (per Python thread and per asyncio task,
   through a context variable);
2. ``set_num_threads(n)`` (process-wide);
3. the OpenMP runtime: ``omp_get_max_threads()``, which reflects
   ``OMP_NUM_THREADS`` and ``threadpoolctl.threadpool_limits``; without
   ``OMP_NUM_THREADS`` it is capped at the CPUs this process may run on
   (affinity masks, as set by taskset or a container).

A build without OpenMP always answers 1.  A forked child always answers 1:
GNU OpenMP hangs in a child forked after the parent ran a parallel region,
so kernels in forked children run serially (use the "spawn" or
"forkserver" start methods for parallel workers).

Kernels never parallelise small work: ``threads_for(n_items, grain)`` gives 1
below two grains of work and at most one thread per grain above, because a
parallel region costs microseconds and, next to OpenBLAS's threads on a
machine with few cores, contention can cost milliseconds.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, fields

from . import _platform
from ._validate import positive_int

__all__ = ["get_num_threads", "set_num_threads", "limit_threads"]


@dataclass
class Grains:
    """Elements of work per thread below which a parallel region does not pay.

    ``threads_for`` gives one thread below two grains of work and one more
    per grain above.  With the passive OpenMP wait policy (see
    zk_layers/__init__.py) starting a region means waking sleeping threads,
    so a second thread pays only for work of a few hundred microseconds.
    Each grain is half the break-even that ``benchmarks/bench_grain.py``
    measures, so that two threads start exactly there (the figures:
    docs/performance.md, "Why the code is the way it is").

    The one instance, ``GRAINS``, is read at every call (never copied at
    import), so ``forced_grain`` reaches every kernel, the optimizers' too.
    """

    elementwise: int = 1 << 19  # Relu, bias add/gradient, SGD
    exp: int = 1 << 17  # Sigmoid forward: one exp per element
    rowwise: int = 1 << 15  # the softmax loss: max, exp, sum per row
    # AdaGrad, RMSprop, Adam: a square root and a division per element and
    # four to six arrays streamed.
    update: int = 1 << 17


GRAINS = Grains()

_block_threads: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "zk_layers_block_threads", default=None
)
_process_threads: int | None = None
_in_forked_child = False

# OpenMP reads OMP_NUM_THREADS once, when the runtime starts.
_OMP_NUM_THREADS_SET = bool(os.environ.get("OMP_NUM_THREADS", "").strip())


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


_USABLE_CPUS = _usable_cpus()


def get_num_threads() -> int:
    """Number of threads the kernels may use for large work, here and now.

    See the module documentation for the order of precedence.  Small work
    always runs on one thread regardless of this number.
    """
    if _in_forked_child or not _platform.openmp_enabled():
        return 1
    block = _block_threads.get()
    if block is not None:
        return block
    if _process_threads is not None:
        return _process_threads
    omp = _platform.omp_max_threads()
    return omp if _OMP_NUM_THREADS_SET else min(omp, _USABLE_CPUS)


def set_num_threads(n: int | None) -> None:
    """Set the process-wide thread count for the kernels.

    Parameters
    ----------
    n : int or None
        A positive number of threads, or None to go back to the default
        (``OMP_NUM_THREADS`` / threadpoolctl / usable CPUs).  Numbers above
        the CPU count are allowed (as with ``OMP_NUM_THREADS``) but rarely
        help.  In a build without OpenMP the setting is kept but the kernels
        stay serial.
    """
    global _process_threads
    _process_threads = None if n is None else positive_int(n, "n")


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """Use at most ``n`` threads inside a ``with`` block.

    The limit applies to the current Python thread (or asyncio task) only
    and is undone on exit, exceptions included::

        with zk_layers.limit_threads(1):
            y = relu.forward(x)
    """
    token = _block_threads.set(positive_int(n, "n"))
    try:
        yield
    finally:
        _block_threads.reset(token)


def threads_for(n_items: int, grain: int) -> int:
    """Threads to use for ``n_items`` units of work of the given grain size
    (one of ``GRAINS``' fields, read at the call)."""
    if n_items < 2 * grain:
        return 1
    return min(get_num_threads(), n_items // grain)


@contextlib.contextmanager
def forced_grain(grain: int = 1) -> Iterator[None]:
    """Set every grain to ``grain`` inside a ``with`` block (process-wide).

    For tests and benchmarks: with ``grain=1`` even tiny inputs open a
    parallel region, so the threaded code paths run on small data.  Not
    thread-safe: it changes the process-wide ``GRAINS``.
    """
    grain = positive_int(grain, "grain")
    saved = {f.name: getattr(GRAINS, f.name) for f in fields(GRAINS)}
    try:
        for name in saved:
            setattr(GRAINS, name, grain)
        yield
    finally:
        for name, value in saved.items():
            setattr(GRAINS, name, value)


# Helper threads for work that OpenMP cannot split: a loop over images whose
# steps are NumPy calls (BLAS products) that release the GIL.  Each part is
# the same calls whichever thread runs it, so results do not depend on the
# thread count; the threads wait in the executor's queue (no spinning).
_helpers: ThreadPoolExecutor | None = None
_helpers_size = 0
_helpers_lock = threading.Lock()


def run_parts(part: Callable[[int], None], n_parts: int) -> None:
    """Call ``part(i)`` for each ``i`` in ``range(n_parts)`` at the same time:
    ``part(0)`` on this thread, the others on helper threads, each in a copy
    of this thread's context (so ``limit_threads`` and NumPy's ``errstate``
    reach them).  Returns when all have finished (the parts write into
    shared arrays), then raises part 0's error if it failed, else the error
    of the lowest-numbered part that failed.  ``n_parts`` comes from
    :func:`threads_for`."""
    if n_parts <= 1:
        part(0)
        return
    global _helpers, _helpers_size
    futures: list[Future[None]] = []
    error: BaseException | None = None
    try:
        # Submitted under the lock: another thread may replace the executor
        # by a larger one, and shuts the old one down (after our submits;
        # what was submitted still runs).
        with _helpers_lock:
            if _helpers is None or _helpers_size < n_parts - 1:
                if _helpers is not None:
                    _helpers.shutdown(wait=False)
                _helpers = ThreadPoolExecutor(max_workers=n_parts - 1, thread_name_prefix="zk_layers")
                _helpers_size = n_parts - 1
            for i in range(1, n_parts):
                futures.append(_helpers.submit(contextvars.copy_context().run, part, i))
        part(0)
    except BaseException as exc:  # the helpers still write: wait for them first
        error = exc
    for future in futures:
        failure = future.exception()
        if error is None and failure is not None:
            error = failure
    if error is not None:
        raise error


def _after_fork_in_child() -> None:
    global _in_forked_child, _helpers, _helpers_size, _helpers_lock
    _in_forked_child = True
    _helpers, _helpers_size = None, 0  # the parent's helper threads do not exist in the child
    _helpers_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
