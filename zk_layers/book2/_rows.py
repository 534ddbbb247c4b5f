"""Gradients kept zero outside known rows: the second volume's Embedding.

The book's Embedding writes ``dW[...] = 0`` and then adds a few hundred
rows, every step, into a gradient the size of the whole word matrix (4 MB
for the book's 10,000 x 100 float32), and ``remove_duplicate`` then adds
these matrices up: most of a CBOW step is spent on memory that holds zeros.
The Embedding here owns its gradient (``grads[0]``, made by
``np.zeros_like(W)`` as the book's) and knows which rows it wrote; the
array is read-only to everyone else, so those rows are all that can be
non-zero.  Its backward clears only them, and ``remove_duplicate`` and
``clip_grads`` work on the rows the tracked arrays hold.

A tracked array whose ``writeable`` flag someone set again is no longer
trusted: the next backward clears it whole, as the book's does.

Adding zeros changes no bit except one: ``-0.0 + 0.0`` is ``+0.0``.  So
each array also records whether it may hold a -0.0 (a float64 row rounded
into float32 can give one); when neither of two arrays does, adding one
into the other touches the added array's rows only.
"""
from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["track", "rows_of", "clean", "forget", "writing", "owned", "has_negative_zero"]

# id(array) -> (a weak reference to it, the rows that may be non-zero or
# None when unknown, whether it holds no -0.0)
_ROWS: dict[int, tuple[weakref.ReferenceType[np.ndarray], np.ndarray | None, bool]] = {}


def _drop(key: int) -> Callable[[object], None]:
    def drop(_ref: object) -> None:
        _ROWS.pop(key, None)
    return drop


def _live(arr: Any) -> tuple[np.ndarray | None, bool] | None:
    """(rows, no -0.0) of a tracked ``arr``, else None."""
    entry = _ROWS.get(id(arr))
    if entry is None or entry[0]() is not arr:
        return None
    return entry[1], entry[2]


def track(arr: np.ndarray, rows: np.ndarray | None, no_negative_zero: bool = False) -> None:
    """Record that only ``rows`` of ``arr`` may be non-zero (None: unknown)
    and whether it holds no -0.0, and make ``arr`` read-only.  Rows may
    repeat."""
    if rows is not None and rows.size > arr.shape[0]:
        rows = np.unique(rows)  # repeats from many merges: keep the list short
    key = id(arr)
    entry = _ROWS.get(key)
    ref = entry[0] if entry is not None and entry[0]() is arr else weakref.ref(arr, _drop(key))
    _ROWS[key] = (ref, rows, no_negative_zero and rows is not None)
    arr.flags.writeable = False


def has_negative_zero(arr: np.ndarray) -> bool:
    zeros = arr[arr == 0]
    return bool(np.signbit(zeros).any())


def clean(arr: Any) -> bool:
    """A tracked array known to hold no -0.0 (its rows known too)."""
    live = _live(arr)
    return live is not None and live[1] and not arr.flags.writeable


def owned(arr: Any) -> bool:
    """Whether ``arr`` is a gradient this package tracks."""
    return _live(arr) is not None


def rows_of(arr: Any) -> np.ndarray | None:
    """The rows of a tracked array that may be non-zero; None when ``arr`` is
    not tracked, its rows are unknown, or it was made writeable again."""
    live = _live(arr)
    if live is None or arr.flags.writeable:
        return None
    return live[0]


def forget(arr: np.ndarray) -> None:
    """``arr``'s rows are unknown from now on (it stays tracked and read-only)."""
    if owned(arr):
        track(arr, None)


@contextlib.contextmanager
def writing(arr: np.ndarray) -> Iterator[np.ndarray]:
    """``arr``, writeable inside the block when it is tracked (then read-only again)."""
    if not owned(arr):
        yield arr
        return
    arr.flags.writeable = True
    try:
        yield arr
    finally:
        arr.flags.writeable = False
