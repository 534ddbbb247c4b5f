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

The policy itself is compiled, in zk_layers._platform (src/_platform.pyx):
the kernel modules take ``threads_for`` and ``GRAINS`` from there.  This
module is its public face, and keeps the helper threads of ``run_parts``.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from . import _platform
from ._platform import GRAINS, USABLE_CPUS, Grains, threads_for
from ._validate import positive_int

__all__ = ["get_num_threads", "set_num_threads", "limit_threads", "Grains", "GRAINS", "threads_for", "USABLE_CPUS"]


def get_num_threads() -> int:
    """Number of threads the kernels may use for large work, here and now.

    See the module documentation for the order of precedence.  Small work
    always runs on one thread regardless of this number.
    """
    return _platform.get_num_threads()


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
    _platform.set_process_threads(None if n is None else positive_int(n, "n"))


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """Use at most ``n`` threads inside a ``with`` block.

    The limit applies to the current Python thread (or asyncio task) only
    and is undone on exit, exceptions included::

        with zk_layers.limit_threads(1):
            y = relu.forward(x)
    """
    token = _platform.BLOCK_THREADS.set(positive_int(n, "n"))
    try:
        yield
    finally:
        _platform.BLOCK_THREADS.reset(token)


@contextlib.contextmanager
def forced_grain(grain: int = 1) -> Iterator[None]:
    """Set every grain to ``grain`` inside a ``with`` block (process-wide).

    For tests and benchmarks: with ``grain=1`` even tiny inputs open a
    parallel region, so the threaded code paths run on small data.  Not
    thread-safe: it changes the process-wide ``GRAINS``.
    """
    grain = positive_int(grain, "grain")
    saved = {name: getattr(GRAINS, name) for name in Grains.NAMES}
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
    global _helpers, _helpers_size, _helpers_lock
    _platform.mark_forked_child()
    _helpers, _helpers_size = None, 0  # the parent's helper threads do not exist in the child
    _helpers_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
