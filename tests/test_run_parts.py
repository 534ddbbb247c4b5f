"""run_parts: the helper threads on which Convolution runs its parts of a
batch (zk_layers._threads), their errors, contexts and pool sizes."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import zk_layers as zk


def test_run_parts_waits_for_every_part_then_raises():
    from zk_layers._threads import run_parts

    done = []

    def part(i):
        if i == 0:
            raise KeyError("first")
        time.sleep(0.05)
        done.append(i)

    with pytest.raises(KeyError, match="first"):
        run_parts(part, 3)
    assert sorted(done) == [1, 2]  # the helpers had finished before the error came back

    def late(i):
        if i == 2:
            raise ValueError("helper")

    with pytest.raises(ValueError, match="helper"):
        run_parts(late, 3)


def test_run_parts_carries_the_callers_context_to_the_helpers():
    """NumPy's errstate and limit_threads are context variables: a part on a
    helper thread must see the caller's, or results would depend on the
    thread count (an overflow raising on one thread, warning on two)."""
    from zk_layers._threads import run_parts

    seen = {}

    def part(i):
        seen[i] = (np.geterr()["over"], zk.get_num_threads())

    with np.errstate(over="raise"), zk.limit_threads(3):
        caller = (np.geterr()["over"], zk.get_num_threads())  # 1 thread in a build without OpenMP
        run_parts(part, 3)
    assert caller[0] == "raise" and seen == {i: caller for i in range(3)}

    def overflow(i):
        np.exp(np.full(2, 1000.0) if i == 2 else np.zeros(2))

    with np.errstate(over="raise"), pytest.raises(FloatingPointError):
        run_parts(overflow, 3)


def test_run_parts_from_threads_that_need_pools_of_different_sizes():
    """Callers that grow the helper pool while others submit to it: every
    part runs exactly once and no call fails."""

    from zk_layers import _threads

    counts = []
    lock = threading.Lock()

    def caller(n_parts):
        done = []

        def part(i):
            with lock:
                done.append(i)

        for _ in range(50):
            done.clear()
            _threads.run_parts(part, n_parts)
            counts.append(sorted(done) == list(range(n_parts)))

    for _ in range(5):
        with _threads._helpers_lock:
            _threads._helpers, _threads._helpers_size = None, 0  # start from no pool each round
        workers = [threading.Thread(target=caller, args=(n,)) for n in (2, 3, 5, 8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert len(counts) == 5 * 4 * 50 and all(counts)
