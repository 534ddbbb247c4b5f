"""The fuzzer's values: generators of arrays, labels and buffers, written as
calls so that a reproducer is the program (see tests/fuzz.py)."""
from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import zk_layers as zk
except ImportError:  # an in-place build in the repository: run from anywhere
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import zk_layers as zk

REFERENCE = zk.reference
LAYERS = ["Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "MulLayer", "AddLayer"]
TOLERANCES = {np.dtype(np.float32): (1e-5, 1e-6), np.dtype(np.float64): (1e-12, 1e-14)}

# ---------------------------------------------------------------------------
# Deterministic value generators: every value of a program is written as a
# call of one of these (a code string), so the reproducer is the program.
# ---------------------------------------------------------------------------

SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 1e-310, 1.4e-45, 1e-40,
            1e30, -1e30, 1e4, -1e4, 3e38, -3e38, 1.7e308, -1.7e308, 1.0, -1.0]

VALUE_KINDS = ["normal", "normal", "normal", "specials", "huge", "logits", "tiny", "ints", "nan_free_inf"]
LAYOUTS = ["C", "C", "C", "F", "strided", "readonly", "reversed", "broadcast"]
FLOAT_DTYPES = ["float32", "float64"]
OTHER_REAL_DTYPES = ["float16", "int8", "int32", "int64", "uint8", "uint64", ">f8", ">f4", "longdouble"]
BAD_DTYPES = ["bool", "complex64", "complex128", "object", "<U3", "datetime64[s]", "timedelta64[s]", "struct"]


def arrange(arr: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout (as tests/conftest.py does, plus
    negative strides and stride-0 broadcast views)."""
    if layout == "C" or arr.ndim == 0:
        out = arr.copy()  # (np.ascontiguousarray would make a 0-d array 1-d)
        if layout == "readonly":
            out = out.copy()
            out.flags.writeable = False
        return out
    if layout == "F":
        return np.asfortranarray(arr)
    if layout == "strided":
        big = np.zeros(tuple(2 * n for n in arr.shape), dtype=arr.dtype)
        view = big[tuple(slice(None, None, 2) for _ in arr.shape)]
        view[...] = arr
        return view
    if layout == "readonly":
        out = arr.copy()
        out.flags.writeable = False
        return out
    if layout == "reversed":  # negative strides along every axis
        flipped = np.ascontiguousarray(arr[tuple(slice(None, None, -1) for _ in arr.shape)])
        return flipped[tuple(slice(None, None, -1) for _ in arr.shape)]
    if layout == "broadcast":  # stride 0 along the first axis (read-only view)
        if arr.shape[0] == 0:
            return arr
        return np.broadcast_to(arr[:1], arr.shape)
    raise ValueError(layout)


def gen_array(seed: int, shape: tuple[int, ...], dtype: str = "float64", kind: str = "normal",
              layout: str = "C") -> np.ndarray:
    """An array of ``shape`` and ``dtype`` whose values follow ``kind``, laid out as ``layout``."""
    rng = np.random.default_rng(seed)
    shape = tuple(shape)
    n = math.prod(shape)
    if dtype == "struct":
        return arrange(np.zeros(shape, dtype=[("a", "f8"), ("b", "i4")]), layout)
    dt = np.dtype(dtype)
    with np.errstate(all="ignore"):
        if dt.kind in "fc":
            if kind == "ints":
                base = rng.integers(-3, 4, n).astype(np.float64)
            elif kind == "huge":
                base = rng.choice([-1.0, 1.0], n) * 10.0 ** rng.uniform(20, 30, n)
            elif kind == "logits":
                base = rng.uniform(-1e4, 1e4, n)
            elif kind == "tiny":
                base = rng.standard_normal(n) * (1e-310 if dt.itemsize >= 8 else 1e-40)
            else:
                base = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 3)
            if kind in ("specials", "nan_free_inf") and n:
                specials = [v for v in SPECIALS if not (kind == "nan_free_inf" and np.isnan(v))]
                where = rng.random(n) < 0.3
                base[where] = rng.choice(specials, int(where.sum()))
            arr = base.astype(dt)
        elif dt.kind in "iu":
            info = np.iinfo(dt)
            if kind == "specials":
                arr = rng.choice([info.min, info.max, 0, 1], n).astype(dt)
            else:
                arr = rng.integers(max(info.min, -5), min(info.max, 5), n, endpoint=True).astype(dt)
        elif dt.kind == "b":
            arr = rng.random(n) < 0.5
        elif dt.kind == "U":
            arr = np.array([str(v) for v in rng.integers(0, 10, n)], dtype=dt)
        elif dt.kind == "O":
            pool = [1.0, 2, None, "a", 3.5]
            arr = np.empty(n, dtype=object)
            for i in range(n):
                arr[i] = pool[int(rng.integers(0, len(pool)))]
        elif dt.kind in "Mm":
            arr = rng.integers(0, 1000, n).astype(dt)
        else:  # pragma: no cover - every listed dtype is handled above
            raise ValueError(dtype)
    return arrange(arr.reshape(shape), layout)


def gen_labels(seed: int, n: int, n_classes: int, kind: str = "index", dtype: str = "int64",
               single: bool = False) -> Any:
    """Labels for SoftmaxWithLoss: class indices or one-hot rows, valid or not.

    Valid index labels always contain 0 and C-1 when there is room."""
    rng = np.random.default_rng(seed)
    c = max(n_classes, 1)
    idx = rng.integers(0, c, n)
    if n >= 1:
        idx[0] = c - 1
    if n >= 2:
        idx[1] = 0
    if kind == "index":
        t: Any = idx.astype(dtype)
        if single:
            t = t.reshape(()) if n == 1 else t
    elif kind == "index_list":
        t = idx.tolist()
    elif kind == "onehot":
        t = np.eye(c, dtype=dtype)[idx]
        if single:
            t = t.reshape(-1)
    elif kind == "onehot_bad":
        t = np.eye(c, dtype=dtype)[idx]
        if n:
            row = int(rng.integers(0, n))
            t[row] = 0 if rng.random() < 0.5 else 1
            if rng.random() < 0.3:
                t = t.astype(np.float64)
                t[row, 0] = 0.5
        if single:
            t = t.reshape(-1)
    elif kind == "out_of_range":
        t = idx.astype(np.int64)
        if n:
            t[int(rng.integers(0, n))] = rng.choice([c, -1, 2**62, -(2**40), c + 7])
    elif kind == "uint64_huge":
        t = idx.astype(np.uint64)
        if n:
            t[int(rng.integers(0, n))] = np.uint64(2**63 + 5)
    elif kind == "float":
        t = idx.astype(np.float64)
    elif kind == "bool":
        t = (idx % 2).astype(bool)
    elif kind == "wrong_length":
        t = rng.integers(0, c, n + 1 + int(rng.integers(0, 3)))
    elif kind == "2d_index":
        t = idx.reshape(-1, 1)
    else:
        raise ValueError(kind)
    return t


def gen_buffer(shape: tuple[int, ...], dtype: str, order: str = "C", writeable: bool = True) -> np.ndarray:
    """An out= buffer filled with NaN (so an unwritten element shows)."""
    buf = np.full(shape, np.nan, dtype=dtype, order=order)
    buf.flags.writeable = writeable
    return buf


def mutate(target: Any, kind: str, seed: int = 0, value: Any = None) -> None:
    """Change ``target`` in place, as a caller may between forward and backward.

    ``kind``: ``set_all``/``set_one`` (``value`` everywhere / in one random
    element, cast unsafely: ``1 << 40`` wraps in int8, ``-5`` in uint64),
    ``random`` (new values), ``negate`` (logical not for booleans), ``roll``
    (along the last axis: one-hot rows name another class), ``row`` (one row
    set to ``value``: a one-hot row of zeros or ones) or ``raw`` (random bytes
    in a boolean array: bools that are neither 0 nor 1).  What cannot be
    changed in place (read-only arrays, non-numeric dtypes, scalars, None) is
    left alone; a list gets ``value`` as its first element."""
    if isinstance(target, list):
        inner = target
        while inner and isinstance(inner[0], list):
            inner = inner[0]
        if inner:
            inner[0] = value
        return
    if not isinstance(target, np.ndarray) or not target.flags.writeable or target.size == 0:
        return
    if target.dtype.kind not in "biuf":
        return
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "set_all":
            np.copyto(target, np.asarray(value), casting="unsafe")
        elif kind in ("set_one", "row"):
            index = np.unravel_index(int(rng.integers(0, target.size)), target.shape)
            if kind == "row" and target.ndim:
                index = index[:1]
            view = target[tuple(slice(i, i + 1) for i in index)] if target.ndim else target
            np.copyto(view, np.asarray(value), casting="unsafe")
        elif kind == "random":
            if target.dtype.kind == "b":
                new: Any = rng.random(target.shape) < 0.5
            elif target.dtype.kind in "iu":
                new = rng.integers(-3, 1 << 20, target.shape)
            else:
                new = rng.standard_normal(target.shape) * 10.0 ** int(rng.integers(-3, 40))
            np.copyto(target, new, casting="unsafe")
        elif kind == "negate":
            np.copyto(target, np.logical_not(target) if target.dtype.kind == "b" else np.negative(target),
                      casting="unsafe")
        elif kind == "roll":
            np.copyto(target, np.roll(target, 1, axis=-1) if target.ndim else target)
        elif kind == "raw":
            if target.dtype.kind == "b":
                np.copyto(target.view(np.uint8), rng.integers(0, 256, target.shape).astype(np.uint8))
        else:
            raise ValueError(f"unknown mutation {kind!r}")


def show(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call and print the result or the exception (reproducers): the value, or None."""
    try:
        value = method(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a reproducer goes on after an accepted exception
        print(f"{getattr(method, '__name__', 'call')} raised {type(exc).__name__}: {exc}")
        return None
    print(repr(value))
    return value


NAMESPACE = {"np": np, "gen_array": gen_array, "gen_labels": gen_labels, "gen_buffer": gen_buffer,
             "mutate": mutate, "nan": np.nan, "inf": np.inf}


def build(code: str, names: dict[str, Any] | None = None) -> Any:
    """A fresh value from its code string (``names``: the program's runtime
    names ``layer``, ``fa``, ``fkw``, ``fr`` for the steps that use them)."""
    return eval(code, {**NAMESPACE, **(names or {})})  # noqa: S307 - our own generated code
