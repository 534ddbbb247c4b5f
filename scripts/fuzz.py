#!/usr/bin/env python3
"""Fuzz the public layer API of zk_layers against the NumPy reference.

Each example is a small *program*: one layer class, its constructor
arguments, and one to five calls in random order -- ``backward`` before
``forward``, ``forward`` twice, in-place parameter updates, reassigned
attributes -- with random shapes (0 and 1 included), dtypes of every kind,
memory layouts (C, Fortran, strided, reversed, broadcast, read-only),
values (NaN, +-inf, subnormals, +-1e30, +-1e4 logits), labels, ``out=``
buffers, Python non-arrays, thread counts and grain sizes.  The program runs
on the fast layers and on ``zk_layers.reference`` in this process, and each
call must end in one of two ways:

* a result equal to the reference's (to the dtype's tolerance; NaN where
  the reference has NaN), the inputs unmodified, and no warning where the
  reference is quiet; for ``MulLayer``/``AddLayer``, which are one class in
  both packages, the oracle is NumPy itself (``np.asarray(x) * np.asarray(y)``);
* a ``TypeError`` or ``ValueError``, with the reference raising the same type.

Anything else -- another exception type, a mismatch, a spurious warning, a
modified input, a crash -- is a failure, printed with a Python reproducer.
Before each example the program is also written to ``--last-file``, so that
a hard crash (segfault) of the interpreter leaves its reproducer behind.

Engines:

* ``hypothesis`` (default; in the test extras): the program is drawn from a
  ``st.data()`` strategy, failures are shrunk to a minimal program;
* ``atheris`` (optional, ``pip install atheris``): coverage-guided libFuzzer
  over the same program generator, fed by a FuzzedDataProvider;
* ``random``: a plain seeded PRNG, no dependencies (and reproducible with
  ``--seed``).

Usage::

    python scripts/fuzz.py --seconds 600             # hypothesis, 10 minutes
    python scripts/fuzz.py --engine random --seconds 60 --seed 1
    python scripts/fuzz.py --engine atheris --seconds 60

Importable: ``run_fuzz(seconds=..., max_examples=...)`` returns a
:class:`FuzzSummary`; ``tests/test_properties.py`` runs a short one in CI.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import random
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import zk_layers as zk
except ImportError:  # an in-place build in the repository: run from anywhere
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import zk_layers as zk

from zk_layers._threads import forced_grain

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


NAMESPACE = {"np": np, "gen_array": gen_array, "gen_labels": gen_labels, "gen_buffer": gen_buffer,
             "nan": np.nan, "inf": np.inf}


def build(code: str) -> Any:
    """A fresh value from its code string."""
    return eval(code, dict(NAMESPACE))  # noqa: S307 - our own generated code


# ---------------------------------------------------------------------------
# Choice sources: hypothesis, atheris or a seeded PRNG behind one interface
# ---------------------------------------------------------------------------

class Source:
    """Where the program's choices come from."""

    def integer(self, lo: int, hi: int) -> int:  # inclusive
        raise NotImplementedError

    def choice(self, options: list[Any]) -> Any:
        return options[self.integer(0, len(options) - 1)]

    def chance(self, p: float) -> bool:
        return self.integer(0, 999) < int(p * 1000)

    def seed(self) -> int:
        return self.integer(0, 2**31 - 1)


class RandomSource(Source):
    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def integer(self, lo: int, hi: int) -> int:
        return self.rnd.randint(lo, hi)


class HypothesisSource(Source):
    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))


class AtherisSource(Source):
    def __init__(self, fdp: Any) -> None:
        self.fdp = fdp

    def integer(self, lo: int, hi: int) -> int:
        return self.fdp.ConsumeIntInRange(lo, hi)


# ---------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------

ALIAS_FIRST = "<the first argument itself>"  # an out= that is the call's input (in place)


@dataclasses.dataclass
class Step:
    method: str  # forward, backward, update_W, assign_b
    args: list[str]
    kwargs: dict[str, str]


@dataclasses.dataclass
class Program:
    layer: str
    ctor_args: list[str]
    ctor_kwargs: dict[str, str]
    steps: list[Step]
    threads: int | None = None
    tiny_grain: bool = False

    def code(self, impl: str = "zk") -> str:
        """A Python script that replays the program on one implementation."""
        lines = [
            "import sys; sys.path.insert(0, 'scripts')  # run from the repository root",
            "from fuzz import gen_array, gen_labels, gen_buffer  # (finds an in-place build too)",
            "import numpy as np, zk_layers as zk",
            "from numpy import nan, inf",
        ]
        if self.tiny_grain:
            lines.append("from zk_layers._threads import GRAINS")
            lines.append("GRAINS.elementwise = GRAINS.exp = GRAINS.rowwise = 1")
        if self.threads is not None:
            lines.append(f"zk.set_num_threads({self.threads})")
        for i, arg in enumerate(self.ctor_args):
            lines.append(f"p{i} = {arg}")
        params = [f"p{i}" for i in range(len(self.ctor_args))] + [f"{k}={v}" for k, v in self.ctor_kwargs.items()]
        lines.append(f"layer = {impl}.{self.layer}({', '.join(params)})")
        for step in self.steps:
            if step.method == "update_W":
                lines.append("layer.W -= 0.5  # in place")
                continue
            if step.method == "assign_b":
                lines.append(f"layer.b = {step.args[0]}")
                continue
            lines.append(f"a = [{', '.join(step.args)}]")
            kws = []
            for k, v in step.kwargs.items():
                kws.append(f"{k}=a[0]" if v == ALIAS_FIRST else f"{k}={v}")
            lines.append(f"print(repr(layer.{step.method}(*a{''.join(', ' + s for s in kws)})))")
        return "\n".join(lines)


def _shape(src: Source, max_ndim: int = 4, allow_zero: bool = True) -> tuple[int, ...]:
    ndim = src.integer(0, max_ndim)
    dims = []
    for _ in range(ndim):
        r = src.integer(0, 9)
        if r == 0 and allow_zero:
            dims.append(0)
        elif r <= 6:
            dims.append(src.integer(1, 7))
        else:
            dims.append(src.integer(1, 70))
    while math.prod(dims) > 20_000:
        dims[dims.index(max(dims))] //= 2
    return tuple(dims)


def _float_array(src: Source, shape: tuple[int, ...], dtype: str | None = None, kind: str | None = None,
                 layout: str | None = None) -> str:
    dtype = dtype or src.choice(FLOAT_DTYPES)
    kind = kind or src.choice(VALUE_KINDS)
    layout = layout or src.choice(LAYOUTS)
    return f"gen_array({src.seed()}, {shape!r}, {dtype!r}, {kind!r}, {layout!r})"


NON_ARRAYS = ["None", "'abc'", "[1.0, 2.0]", "[[1.0, 2.0], [3.0]]", "{'a': 1}", "3", "2.5", "float('nan')",
              "True", "np.float32(1.5)", "object()", "(1.0, -2.0)", "[[1, 2], [3, 4]]", "b'12'",
              "np.array(2.0)", "[]", "range(3)"]


def _any_array(src: Source, shape: tuple[int, ...]) -> str:
    """Mostly a float32/float64 array of ``shape``; sometimes another dtype,
    another shape or not an array at all."""
    r = src.integer(0, 99)
    if r < 78:
        return _float_array(src, shape)
    if r < 86:
        dtype = src.choice(OTHER_REAL_DTYPES)
        return _float_array(src, shape, dtype=dtype, kind=src.choice(["normal", "specials", "ints"]))
    if r < 91:
        return _float_array(src, shape, dtype=src.choice(BAD_DTYPES), kind="normal")
    if r < 96:
        return _float_array(src, _shape(src))
    return src.choice(NON_ARRAYS)


def _out_buffer(src: Source, shape: tuple[int, ...], layout_code: str) -> str | None:
    """An out= argument: usually none; else a good buffer, the input itself, or a bad one."""
    r = src.integer(0, 99)
    if r < 70:
        return None
    order = "F" if "'F'" in layout_code else "C"
    dtype = next((d for d in ("float32", "float64") if f"'{d}'" in layout_code), "float64")
    if r < 82:
        return f"gen_buffer({shape!r}, {dtype!r}, {order!r})"
    if r < 90:
        return ALIAS_FIRST
    bad = src.choice([
        f"gen_buffer({shape!r}, {'float32' if dtype == 'float64' else 'float64'!r}, {order!r})",
        f"gen_buffer({shape!r}, {dtype!r}, {'C' if order == 'F' else 'F'!r})",
        f"gen_buffer({shape!r}, {dtype!r}, {order!r}, writeable=False)",
        f"gen_buffer({tuple(reversed(shape))!r}, {dtype!r}, {order!r})",
        "[[0.0]]", "None", "np.zeros(3)",
    ])
    return bad


def gen_program(src: Source) -> Program:
    layer = src.choice(LAYERS)
    threads = src.choice([None, None, 1, 2, 3])
    tiny = src.chance(0.3)
    n_steps = src.integer(1, 5)
    if layer in ("Relu", "Sigmoid"):
        return _elementwise_program(src, layer, n_steps, threads, tiny)
    if layer == "Affine":
        return _affine_program(src, n_steps, threads, tiny)
    if layer == "SoftmaxWithLoss":
        return _softmax_program(src, n_steps, threads, tiny)
    return _muladd_program(src, layer, n_steps, threads, tiny)


def _big_shape(src: Source) -> tuple[int, ...]:
    """Sometimes an array large enough for the GIL-free kernel path (>= 8192 elements)."""
    return (src.integer(8192, 40_000),) if src.chance(0.5) else (src.integer(90, 200), src.integer(90, 200))


def _elementwise_program(src: Source, layer: str, n_steps: int, threads: Any, tiny: bool) -> Program:
    shape = _big_shape(src) if src.chance(0.05) else _shape(src)
    steps = []
    for _ in range(n_steps):
        if src.chance(0.2):
            shape = _shape(src)  # a second forward with another shape
        method = src.choice(["forward", "backward"])
        arg = _any_array(src, shape)
        kwargs = {}
        out = _out_buffer(src, shape, arg)
        if out is not None:
            kwargs["out"] = out
        steps.append(Step(method, [arg], kwargs))
    return Program(layer, [], {}, steps, threads, tiny)


def _param(src: Source, shape: tuple[int, ...], dtype: str) -> str:
    r = src.integer(0, 99)
    if r < 90:
        return _float_array(src, shape, dtype=dtype, kind=src.choice(["normal", "normal", "ints", "specials"]),
                            layout=src.choice(["C", "C", "F", "strided", "readonly"]))
    return src.choice([_float_array(src, shape, dtype=src.choice(["int64", "float16", "bool"]), kind="normal"),
                       _float_array(src, shape[:1], dtype=dtype), f"np.ones({shape!r}).tolist()", "None",
                       _float_array(src, tuple(d + 1 for d in shape), dtype=dtype)])


def _affine_program(src: Source, n_steps: int, threads: Any, tiny: bool) -> Program:
    d, m = src.integer(0, 9), src.integer(0, 9)
    if src.chance(0.3):
        d, m = src.integer(1, 70), src.integer(1, 70)
    pdtype = src.choice(FLOAT_DTYPES)
    W, b = _param(src, (d, m), pdtype), _param(src, (m,), src.choice([pdtype, pdtype, pdtype, "float32", "float64"]))
    kwargs = {"need_dx": "False"} if src.chance(0.2) else {}
    n = src.integer(0, 9) if src.chance(0.8) else src.integer(10, 300)
    steps = []
    x_shape: tuple[int, ...] = (n, d)
    for _ in range(n_steps):
        method = src.choice(["forward", "forward", "backward", "backward", "update_W", "assign_b"])
        if method == "forward":
            r = src.integer(0, 9)
            if r < 6:
                x_shape = (n, d)
            elif r < 8 and d % 2 == 0 and d:
                x_shape = (n, 2, d // 2)
            elif r < 9:
                x_shape = (n, d, 1, 1)
            else:
                x_shape = _shape(src)
            steps.append(Step("forward", [_any_array(src, x_shape)], {}))
        elif method == "backward":
            shape = (x_shape[0] if x_shape else n, m) if src.chance(0.9) else _shape(src)
            steps.append(Step("backward", [_any_array(src, shape)], {}))
        elif method == "update_W":
            steps.append(Step("update_W", [], {}))
        else:
            steps.append(Step("assign_b", [_param(src, (m,), pdtype)], {}))
    return Program("Affine", [W, b], kwargs, steps, threads, tiny)


EPS_CHOICES = ["1e-7", "1e-7", "0.0", "0", "1e-3", "np.float32(1e-7)", "-1.0", "float('nan')", "float('inf')",
               "'x'", "True", "None", "5"]
SCALAR_DOUTS = ["1", "1", "1.0", "0.5", "-3", "np.float32(2.0)", "np.array(1.5)", "np.int64(3)", "np.ones(2)",
                "'1'", "None", "float('nan')", "float('inf')", "2**70", "1+1j", "np.float16(2)", "[1.0]"]
LABEL_KINDS = ["index"] * 6 + ["onehot"] * 3 + ["index_list", "onehot_bad", "out_of_range", "uint64_huge",
                                                "float", "bool", "wrong_length", "2d_index"]
LABEL_DTYPES = ["int64", "int64", "int32", "uint8", "int8", "uint64", "intp", "float32", "bool"]


def _softmax_program(src: Source, n_steps: int, threads: Any, tiny: bool) -> Program:
    ctor = {"eps": src.choice(EPS_CHOICES)} if src.chance(0.6) else {}
    steps = []
    for _ in range(n_steps):
        if src.choice(["forward", "forward", "backward"]) == "forward":
            single = src.chance(0.15)
            n = 1 if single else (src.integer(0, 9) if src.chance(0.8) else src.integer(10, 400))
            c = src.integer(0, 9) if src.chance(0.7) else src.integer(10, 70)
            if src.chance(0.03):
                n, c = src.integer(100, 400), src.integer(50, 200)
            if src.chance(0.1) and c > 2:
                c = 1 if src.chance(0.5) else 2
            shape = (c,) if single else (n, c)
            if src.chance(0.9):
                x = _any_array(src, shape)
            else:
                x = _float_array(src, shape, kind=src.choice(["logits", "huge", "specials"]))
            kind = src.choice(LABEL_KINDS)
            t = f"gen_labels({src.seed()}, {n}, {c}, {kind!r}, {src.choice(LABEL_DTYPES)!r}, single={single})"
            if src.chance(0.05):
                t = src.choice(NON_ARRAYS + ["0", "np.int64(2)"])
            steps.append(Step("forward", [x, t], {}))
        else:
            steps.append(Step("backward", [src.choice(SCALAR_DOUTS)] if src.chance(0.8) else [], {}))
    return Program("SoftmaxWithLoss", [], ctor, steps, threads, tiny)


def _operand(src: Source, shape: tuple[int, ...]) -> str:
    r = src.integer(0, 9)
    if r < 3:
        return src.choice(["2.0", "-1.5", "3", "0.0", "float('inf')", "np.float32(0.5)", "np.int32(4)"])
    if r < 8:
        return _float_array(src, shape, layout=src.choice(["C", "F", "strided", "readonly"]))
    return src.choice(NON_ARRAYS + [_float_array(src, shape, dtype=src.choice(OTHER_REAL_DTYPES + BAD_DTYPES))])


def _muladd_program(src: Source, layer: str, n_steps: int, threads: Any, tiny: bool) -> Program:
    steps = []
    shape = _shape(src, max_ndim=3)
    for _ in range(n_steps):
        if src.chance(0.5):
            other = shape
            if not src.chance(0.6):  # a broadcastable shape: some axes 1, leading axes dropped
                other = tuple(1 if src.chance(0.5) else d for d in shape)[src.integer(0, len(shape)):]
            steps.append(Step("forward", [_operand(src, shape), _operand(src, other)], {}))
        else:
            dout = src.choice(["1.0", "2"]) if src.chance(0.3) else _float_array(src, shape)
            steps.append(Step("backward", [dout], {}))
    return Program(layer, [], {}, steps, threads, tiny)


# ---------------------------------------------------------------------------
# Running a program and judging the outcomes
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Outcome:
    ok: bool
    value: Any = None
    state: dict[str, Any] = dataclasses.field(default_factory=dict)
    exc_type: type | None = None
    exc_text: str = ""
    warnings: list[str] = dataclasses.field(default_factory=list)
    modified: list[str] = dataclasses.field(default_factory=list)
    out_identity_ok: bool = True


def _snapshot(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, tuple):
        return tuple(_snapshot(v) for v in value)
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    return value


def _same_input(before: Any, after: Any) -> bool:
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or before.shape != after.shape or before.dtype != after.dtype:
            return False
        if before.dtype.kind in "OUSV":
            return bool(np.all(before == after)) if before.dtype.kind != "V" else before.tobytes() == after.tobytes()
        return np.array_equal(before, after, equal_nan=before.dtype.kind in "fc")
    return True


STATE_ATTRS = {"Relu": ["mask"], "Sigmoid": ["out"], "Affine": ["x", "original_x_shape", "dW", "db", "W", "b"],
               "SoftmaxWithLoss": ["y", "loss", "t"], "MulLayer": [], "AddLayer": []}


@contextlib.contextmanager
def _fast_settings(prog: Program, fast: bool):
    with contextlib.ExitStack() as stack:
        if fast and prog.tiny_grain:
            stack.enter_context(forced_grain(1))
        if fast and prog.threads is not None:
            stack.enter_context(zk.limit_threads(prog.threads))
        yield


def _call(fn: Callable[[], Any], inputs: list[tuple[str, Any]], layer_name: str, layer_obj: Any) -> Outcome:
    before = [(name, _snapshot(v)) for name, v in inputs]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except Exception as exc:  # noqa: BLE001 - classified by the caller
            outcome = Outcome(False, exc_type=type(exc), exc_text=f"{type(exc).__name__}: {exc}")
        else:
            outcome = Outcome(True, value=_snapshot(value))
            if layer_obj is not None:
                outcome.state = {a: _snapshot(getattr(layer_obj, a, None)) for a in STATE_ATTRS[layer_name]}
    outcome.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    outcome.modified = [name for (name, b), (_, a) in zip(before, inputs, strict=True) if not _same_input(b, a)]
    return outcome


def execute(impl: Any, prog: Program, fast: bool) -> list[Outcome]:
    """Run the program on one implementation: one Outcome for the constructor
    and one per step (steps after a failed constructor are not run)."""
    outcomes: list[Outcome] = []
    with _fast_settings(prog, fast):
        ctor_args = [build(a) for a in prog.ctor_args]
        ctor_kwargs = {k: build(v) for k, v in prog.ctor_kwargs.items()}
        holder: dict[str, Any] = {}

        def construct() -> None:
            holder["layer"] = getattr(impl, prog.layer)(*ctor_args, **ctor_kwargs)

        outcomes.append(_call(construct, [("W", a) for a in ctor_args[:1]], prog.layer, None))
        if not outcomes[-1].ok:
            return outcomes
        outcomes[-1].value = None
        layer = holder["layer"]
        for step in prog.steps:
            args = [build(a) for a in step.args]
            if step.method == "update_W":
                def update() -> None:
                    layer.W -= 0.5
                outcomes.append(_call(update, [], prog.layer, layer))
                outcomes[-1].value = None
                continue
            if step.method == "assign_b":
                def assign(new_b: Any = args[0]) -> None:
                    layer.b = new_b
                outcomes.append(_call(assign, [], prog.layer, layer))
                outcomes[-1].value = None
                continue
            kwargs = {k: (args[0] if v == ALIAS_FIRST else build(v)) for k, v in step.kwargs.items()}
            watched = [(f"arg{i}", a) for i, a in enumerate(args)
                       if not ("out" in kwargs and a is kwargs["out"])]
            method = getattr(layer, step.method)
            returned: list[Any] = []

            def invoke(method: Any = method, args: list[Any] = args, kwargs: dict[str, Any] = kwargs,
                       returned: list[Any] = returned) -> Any:
                returned.append(method(*args, **kwargs))
                return returned[0]

            outcome = _call(invoke, watched, prog.layer, layer)
            if outcome.ok and "out" in kwargs and isinstance(kwargs["out"], np.ndarray):
                # The out= buffer itself must be what is returned.
                outcome.out_identity_ok = returned[0] is kwargs["out"]
            outcomes.append(outcome)
    return outcomes


def _tolerance(*arrays: Any) -> tuple[float, float]:
    dtypes = [np.asarray(a).dtype for a in arrays if np.asarray(a).dtype.kind == "f"]
    if any(d.itemsize < 8 for d in dtypes):
        return TOLERANCES[np.dtype(np.float32)]
    return TOLERANCES[np.dtype(np.float64)]


def compare_values(actual: Any, expected: Any, what: str, scale: Any = 0.0, dtype: Any = None,
                   check_dtype: bool = True) -> str | None:
    """None if ``actual`` equals ``expected`` to tolerance (same shape and dtype,
    NaN and inf in the same places), else a description of the difference.
    ``scale`` widens the absolute tolerance to rtol * scale (products, sums)."""
    if isinstance(expected, tuple):
        if not isinstance(actual, tuple) or len(actual) != len(expected):
            return f"{what}: expected a tuple of {len(expected)}, got {type(actual).__name__}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            problem = compare_values(a, e, f"{what}[{i}]", scale, dtype, check_dtype)
            if problem:
                return problem
        return None
    if expected is None or actual is None:
        return None if expected is actual else f"{what}: expected {expected!r}, got {actual!r}"
    if isinstance(expected, tuple) or isinstance(expected, (str, bytes)):
        return None if expected == actual else f"{what}: expected {expected!r}, got {actual!r}"
    a, e = np.asarray(actual), np.asarray(expected)
    if a.shape != e.shape:
        return f"{what}: shape {a.shape} != expected {e.shape}"
    if check_dtype and e.dtype.kind in "fc" and isinstance(expected, np.ndarray) and a.dtype != e.dtype:
        return f"{what}: dtype {a.dtype} != expected {e.dtype}"
    if e.dtype.kind not in "fciub" or a.dtype.kind not in "fciub":
        return None if np.array_equal(a, e) else f"{what}: values differ"
    rtol, atol = _tolerance(a, e) if dtype is None else TOLERANCES[np.dtype(dtype)]
    if scale is None:
        scale = 0.0
    if np.ndim(scale):
        # Compare only where the terms' scale is known and cannot overflow.
        limit = np.finfo(a.dtype if a.dtype.kind == "f" else np.float64).max / 4
        with np.errstate(invalid="ignore"):
            keep = np.broadcast_to(np.isfinite(scale) & (scale < limit), e.shape)
        a, e, scale = a[keep], e[keep], np.broadcast_to(scale, keep.shape)[keep]
    atol = atol + rtol * np.asarray(scale, dtype=np.float64)
    return _close(a, e, rtol, atol, what)


def _close(a: np.ndarray, e: np.ndarray, rtol: float, atol: Any, what: str) -> str | None:
    """|a - e| <= atol + rtol |e| where finite; NaN and +-inf in the same places."""
    a = a.astype(np.float64) if a.dtype.kind != "c" else a
    e = e.astype(np.float64) if e.dtype.kind != "c" else e
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if not np.array_equal(nan_a, nan_e):
        i = np.flatnonzero((nan_a != nan_e).ravel())[0]
        return f"{what}: NaN mismatch at flat index {i}: got {a.ravel()[i]!r}, expected {e.ravel()[i]!r}"
    inf_a, inf_e = np.isinf(a), np.isinf(e)
    if not np.array_equal(inf_a, inf_e) or not np.array_equal(a[inf_a], e[inf_e]):
        i = np.flatnonzero((inf_a != inf_e).ravel() | ((a != e) & inf_e).ravel())[0]
        return f"{what}: inf mismatch at flat index {i}: got {a.ravel()[i]!r}, expected {e.ravel()[i]!r}"
    finite = ~(nan_e | inf_e)
    with np.errstate(all="ignore"):
        err = np.abs(a - e)
        allowed = np.broadcast_to(atol, e.shape) + rtol * np.abs(e)
    bad = finite & ~(err <= allowed)
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        return (f"{what}: {int(bad.sum())} of {e.size} element(s) differ beyond rtol={rtol:g}; first at flat "
                f"index {i}: got {a.ravel()[i]!r}, expected {e.ravel()[i]!r} (allowed {np.ravel(allowed)[i]:.3g})")
    return None


def _finite_max(*arrays: Any) -> float:
    best = 0.0
    for arr in arrays:
        arr = np.asarray(arr)
        if arr.size and arr.dtype.kind in "fiu":
            with np.errstate(all="ignore"):
                m = np.max(np.abs(arr.astype(np.float64)))
            best = max(best, float(m) if np.isfinite(m) else math.inf)
    return best


KNOWN_MARK = "known:"
# Divergences that are known bugs, reported apart from new failures (REL-1 to
# REL-5 of docs/reliability.md were fixed; a return of any of them is a failure).
KNOWN: dict[str, str] = {}


def _blas_noise(prog: Program, step: Step | None, caught: list[str]) -> bool:
    """NumPy's dot warns ("invalid value encountered in dot") when the BLAS
    kernel it picks raised a floating-point flag, which depends on the dtype
    and memory layout (OpenBLAS's dgemm does, a strided float32 product does
    not), so the same values can warn in one implementation only.  Accepted
    for Affine when an operand is non-finite or large enough to overflow."""
    if prog.layer != "Affine" or step is None or not all(w.endswith("encountered in dot") for w in caught):
        return False
    values = [build(a) for a in prog.ctor_args + step.args] + [build(s.args[0]) for s in prog.steps if s.args]
    for v in values:
        arr = np.asarray(v) if not isinstance(v, (str, bytes)) else np.zeros(0)
        if arr.dtype.kind in "fiu" and arr.size:
            with np.errstate(all="ignore"):
                big = np.abs(arr.astype(np.float64))
            if not np.all(np.isfinite(big)) or np.max(big) > 1e15:
                return True
    return False


def judge(prog: Program, fast: list[Outcome], ref: list[Outcome]) -> tuple[list[str], list[str]]:
    """(failures, known divergences) of one program."""
    failures: list[str] = []
    known: list[str] = []
    names = ["constructor"] + [f"step {i} ({s.method})" for i, s in enumerate(prog.steps)]
    steps: list[Step | None] = [None] + list(prog.steps)
    # (fewer outcomes on one side when only one constructor raised: the
    # constructor's outcomes differ, which is reported, and the loop stops)
    for i, (f, r) in enumerate(zip(fast, ref, strict=False)):
        where = names[i]
        step = steps[i]
        problems = []
        for o, who in ((f, "fast"), (r, "reference")):
            if o.modified:
                problems.append(f"{where}: {who} modified its input(s) {o.modified}")
            if not o.ok and not issubclass(o.exc_type, (TypeError, ValueError)):
                problems.append(f"{where}: {who} raised {o.exc_text!r} (only TypeError/ValueError are allowed)")
            if o.ok and not o.out_identity_ok:
                problems.append(f"{where}: {who} did not return the out= buffer it was given")
        if f.ok and f.warnings and r.ok and not r.warnings and not _blas_noise(prog, step, f.warnings):
            problems.append(f"{where}: fast layer warned where the reference is quiet: {f.warnings}")
        diverged = f.ok != r.ok or (not f.ok and f.exc_type is not r.exc_type)
        if diverged:
            problems.append(f"{where}: fast {'returned' if f.ok else 'raised ' + repr(f.exc_text)} but reference "
                            f"{'returned' if r.ok else 'raised ' + repr(r.exc_text)}")
        elif f.ok and step is not None and step.method in ("forward", "backward"):
            problem = _compare_step(prog, step, f, r)
            if problem and problem.startswith(KNOWN_MARK):
                known.append(problem[len(KNOWN_MARK):].split(":")[0])
            elif problem:
                problems.append(f"{where}: {problem}")
            if prog.layer == "Affine":
                pairs = [(f.state[a], r.state[a]) for a in ("x", "dW", "db")]
                if step.method == "backward":
                    pairs.append((f.value, r.value))
                for (fa, ra), attr in zip(pairs, ("x", "dW", "db", "dx")):
                    if isinstance(fa, np.ndarray) and isinstance(ra, np.ndarray) and fa.dtype != ra.dtype:
                        problems.append(f"{where}: Affine {attr} dtype {fa.dtype} (fast) != {ra.dtype} (reference)")
        failures += problems
        if diverged:
            break
    return failures, known


def _affine_bounds(x2d: Any, W: Any, b: Any, dout: Any | None) -> dict[str, np.ndarray]:
    """Per element, the sum of |terms| of each product (the scale of the rounding
    error of a sum formed in another order, e.g. by another BLAS kernel)."""
    with np.errstate(all="ignore"):
        ax = np.abs(np.asarray(x2d, dtype=np.float64))
        aW = np.abs(np.asarray(W, dtype=np.float64))
        bounds = {"result": ax @ aW + np.abs(np.asarray(b, dtype=np.float64))}
        if dout is not None:
            ad = np.abs(np.asarray(dout, dtype=np.float64))
            bounds = {"result": ad @ aW.T, "dW": ax.T @ ad, "db": ad.sum(axis=0)}
    return bounds


LOW_PRECISION = ("'float32'", "'float16'", "'>f4'", "np.float32", "np.float16")


def _precision(prog: Program) -> Any:
    """float32 when any operand of the program is float32 (or float16, computed
    as float64 from float32-accurate state): mixed-precision results are only
    as accurate as their least precise operand."""
    text = repr(prog)
    return np.float32 if any(marker in text for marker in LOW_PRECISION) else None


def _compare_step(prog: Program, step: Step, f: Outcome, r: Outcome) -> str | None:
    layer = prog.layer
    precision = _precision(prog)
    if r.warnings:
        # The reference overflowed or formed inf - inf (NumPy said so): it is no
        # oracle for this call's values; both succeeding is what is checked.
        return None
    if layer == "Affine":
        if f.state["original_x_shape"] != r.state["original_x_shape"]:
            return f"Affine.original_x_shape {f.state['original_x_shape']} != reference {r.state['original_x_shape']}"
        problem = (compare_values(f.state["x"], r.state["x"], "Affine.x", dtype=precision, check_dtype=False)
                   or compare_values(f.state["W"], r.state["W"], "Affine.W")
                   or compare_values(f.state["b"], r.state["b"], "Affine.b"))
        if problem:
            return problem
        dout = build(step.args[0]) if step.method == "backward" else None
        bounds = _affine_bounds(r.state["x"], r.state["W"], r.state["b"], dout)
        result_bound = bounds["result"]
        if step.method == "backward":
            if r.value is None:
                result_bound = None
            else:
                result_bound = result_bound.reshape(np.shape(r.value))
        checks = [(f.value, r.value, "result", result_bound)]
        if step.method == "backward":
            checks += [(f.state["dW"], r.state["dW"], "Affine.dW", bounds["dW"]),
                       (f.state["db"], r.state["db"], "Affine.db", bounds["db"])]
        for actual, expected, what, bound in checks:
            # (dtypes of the stored x, dW, db: see "affine-state-dtype" in judge)
            problem = compare_values(actual, expected, what, bound, dtype=precision,
                                     check_dtype=what == "result" and step.method == "forward")
            if problem:
                return problem
        return None
    if layer == "SoftmaxWithLoss":
        # The loss is a Python float; its accuracy is that of y's dtype.  The
        # reference forms logsumexp (eps=0) in that dtype, the kernel in
        # double: the tolerance scales with the size of the logits.
        y_dtype = r.state["y"].dtype
        x_max = _finite_max(r.state["y"]) if step.method == "backward" else _finite_max(build(step.args[0]))
        scale = 1.0 + (0.0 if math.isinf(x_max) else x_max)
        if step.method == "forward":
            return (compare_values(f.value, r.value, "loss", scale, dtype=y_dtype)
                    or compare_values(f.state["y"], r.state["y"], "SoftmaxWithLoss.y")
                    or compare_values(f.state["loss"], r.state["loss"], "SoftmaxWithLoss.loss", scale, dtype=y_dtype))
        # dx = (y - onehot) * dout / N: y - 1 cancels, so the error scales with dout / N.
        dout = float(build(step.args[0])) if step.args else 1.0
        n = max(1, np.asarray(r.state["y"]).reshape(-1, np.shape(r.state["y"])[-1]).shape[0])
        return compare_values(f.value, r.value, "dx", abs(dout) / n if math.isfinite(dout) else 0.0)
    if layer in ("MulLayer", "AddLayer"):
        return _muladd_oracle(prog, step, f)
    scale: Any = 0.0
    if layer == "Sigmoid" and step.method == "backward":
        # dout * (1 - out) * out: 1 - out cancels near 1, so the error scales
        # with |dout| * out, not with the result.
        with np.errstate(all="ignore"):
            scale = np.abs(np.asarray(build(step.args[0]), dtype=np.float64)) * np.abs(
                np.asarray(r.state["out"], dtype=np.float64))
    problem = compare_values(f.value, r.value, "result", scale, dtype=precision)
    if problem:
        return problem
    for attr in STATE_ATTRS[layer]:
        problem = compare_values(f.state[attr], r.state[attr], f"{layer}.{attr}", dtype=precision)
        if problem:
            return problem
    return None


def _muladd_oracle(prog: Program, step: Step, f: Outcome) -> str | None:
    """MulLayer/AddLayer are one class in both packages: check against NumPy."""
    if step.method != "forward":
        return None
    x, y = build(step.args[0]), build(step.args[1])
    try:
        with np.errstate(all="ignore"):
            op = np.multiply if prog.layer == "MulLayer" else np.add
            # Python scalars stay Python scalars (NumPy's weak scalar promotion).
            expected = np.asarray(op(*[np.asarray(v) if isinstance(v, (list, tuple, range)) else v for v in (x, y)]))
    except (TypeError, ValueError) as exc:
        mark = ""
        return f"{mark}returned {f.value!r:.80} where NumPy raises {type(exc).__name__}: {exc}"
    got = f.value
    if isinstance(got, (list, tuple)):
        return (f"result is a Python {type(got).__name__} {got!r:.80}, "
                f"not the elementwise {prog.layer} result {expected!r:.80}")
    a = np.asarray(got)
    if a.shape != expected.shape:
        return f"result shape {a.shape} != NumPy's {expected.shape}"
    if a.dtype != expected.dtype:
        return f"result dtype {a.dtype} != NumPy's {expected.dtype}"
    if not np.array_equal(a, expected, equal_nan=a.dtype.kind == "f" and expected.dtype.kind == "f"):
        return "result differs from NumPy's"
    return None


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class FuzzSummary:
    engine: str
    examples: int = 0
    calls: int = 0
    seconds: float = 0.0
    failures: list[tuple[Program, list[str]]] = dataclasses.field(default_factory=list)
    known: dict[str, int] = dataclasses.field(default_factory=dict)
    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)

    def report(self) -> str:
        lines = [f"engine={self.engine} examples={self.examples} calls={self.calls} "
                 f"seconds={self.seconds:.1f} failures={len(self.failures)}",
                 "outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items()))]
        for tag, count in sorted(self.known.items()):
            lines.append(f"known divergence {tag}: {count} program(s) -- {KNOWN[tag]}")
        for prog, problems in self.failures[:10]:
            lines.append("FAILURE: " + "; ".join(problems))
            lines.append(f"reproducer (fast layers; for the oracle write `layer = zk.reference.{prog.layer}(`):")
            lines.append(prog.code())
        return "\n".join(lines)


class FuzzFailure(AssertionError):
    pass


def check_program(prog: Program, summary: FuzzSummary | None = None, last_file: str | None = None) -> list[str]:
    """Run one program on both implementations; return its failures."""
    if last_file:
        with open(last_file, "w") as fh:
            fh.write(prog.code() + "\n")
    fast = execute(zk, prog, fast=True)
    ref = execute(REFERENCE, prog, fast=False)
    failures, known = judge(prog, fast, ref)
    if summary is not None:
        summary.examples += 1
        summary.calls += len(fast)
        for o in fast:
            key = "ok" if o.ok else o.exc_type.__name__
            summary.outcomes[key] = summary.outcomes.get(key, 0) + 1
        for tag in set(known):
            summary.known[tag] = summary.known.get(tag, 0) + 1
    return failures


def run_fuzz(seconds: float = 10.0, max_examples: int | None = None, engine: str = "hypothesis",
             seed: int | None = None, last_file: str | None = None, stop_on_failure: bool = True,
             verbose: bool = False) -> FuzzSummary:
    """Fuzz for ``seconds`` (or ``max_examples`` programs, whichever ends first)."""
    summary = FuzzSummary(engine)
    start = time.monotonic()
    deadline = start + seconds
    limit = max_examples if max_examples is not None else sys.maxsize
    old = np.geterr()
    try:
        if engine == "random":
            rnd = random.Random(seed)
            while summary.examples < limit and time.monotonic() < deadline:
                prog = gen_program(RandomSource(rnd))
                failures = check_program(prog, summary, last_file)
                if failures:
                    summary.failures.append((prog, failures))
                    if stop_on_failure:
                        break
        elif engine == "hypothesis":
            _run_hypothesis(summary, deadline, limit, seed, last_file, stop_on_failure, verbose)
        elif engine == "atheris":
            _run_atheris(summary, seconds, last_file)
        else:
            raise ValueError(f"unknown engine {engine!r}")
    finally:
        np.seterr(**old)
        summary.seconds = time.monotonic() - start
    return summary


def _run_hypothesis(summary: FuzzSummary, deadline: float, limit: int, seed: int | None,
                    last_file: str | None, stop_on_failure: bool, verbose: bool) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    last: dict[str, Any] = {}

    def body(data: Any) -> None:
        # (No early return when the budget is spent: hypothesis requires every
        # replay of a choice sequence to draw the same data.  The budget is
        # kept by sizing the batches instead.)
        prog = gen_program(HypothesisSource(data))
        failures = check_program(prog, summary, last_file)
        if failures:
            last["prog"], last["failures"] = prog, failures
            raise FuzzFailure("; ".join(failures))

    batch = 0
    started, done_before = time.monotonic(), summary.examples
    while time.monotonic() < deadline and summary.examples < limit:
        batch += 1
        # Size the batch from the measured rate so that it ends near the deadline.
        elapsed = time.monotonic() - started
        rate = (summary.examples - done_before) / elapsed if elapsed > 0 and summary.examples > done_before else 50.0
        size = int(max(1, min(500, rate * (deadline - time.monotonic()) * 0.9, limit - summary.examples)))
        test = settings(max_examples=size, deadline=None, database=None, derandomize=seed is not None,
                        suppress_health_check=list(HealthCheck),
                        phases=[Phase.generate, Phase.shrink], print_blob=False)(given(st.data())(body))
        if seed is not None:
            from hypothesis import seed as hseed
            test = hseed(seed + batch)(test)
        try:
            test()
        except FuzzFailure:
            summary.failures.append((last["prog"], last["failures"]))
            if stop_on_failure:
                return
        except Exception:  # a failure hypothesis wrapped (e.g. flaky): report it too
            if "prog" in last:
                summary.failures.append((last["prog"], last["failures"] + [traceback.format_exc(limit=3)]))
            else:
                raise
            if stop_on_failure:
                return
        if verbose:
            print(f"[{time.strftime('%H:%M:%S')}] {summary.examples} examples, "
                  f"{len(summary.failures)} failures", flush=True)


def _instrument_package(atheris: Any) -> None:
    """Coverage-instrument the functions of zk_layers' Python modules (the
    compiled kernels are not instrumented: that needs a -fsanitize=fuzzer build)."""
    import inspect

    for name, module in list(sys.modules.items()):
        if not (name == "zk_layers" or name.startswith("zk_layers.")) or module is None:
            continue
        for obj in list(vars(module).values()):
            targets = [obj] if inspect.isfunction(obj) else (
                [v for v in vars(obj).values() if inspect.isfunction(v)] if inspect.isclass(obj) else [])
            for fn in targets:
                if getattr(fn, "__module__", "").startswith("zk_layers"):
                    try:
                        atheris.instrument_func(fn)
                    except Exception:  # noqa: BLE001 - best effort
                        pass


def _run_atheris(summary: FuzzSummary, seconds: float, last_file: str | None) -> None:
    import atheris

    start: list[float] = []

    def one_input(data: bytes) -> None:
        if not start:
            start.append(time.monotonic())
        if time.monotonic() - start[0] > seconds:
            # libFuzzer's own -max_total_time exits from C, skipping our summary.
            summary.seconds = time.monotonic() - start[0]
            print(summary.report(), flush=True)
            os._exit(1 if summary.failures else 0)
        prog = gen_program(AtherisSource(atheris.FuzzedDataProvider(data)))
        failures = check_program(prog, summary, last_file)
        if failures:
            summary.failures.append((prog, failures))
            print(summary.report(), flush=True)
            raise FuzzFailure("; ".join(failures))

    _instrument_package(atheris)  # coverage feedback from our Python code (validation, wrappers)
    atheris.Setup([sys.argv[0], "-rss_limit_mb=4096"], one_input)
    try:
        atheris.Fuzz()
    except SystemExit:  # libFuzzer exits when the time is up
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    parser.add_argument("--max-examples", type=int, default=None, help="stop after this many programs")
    parser.add_argument("--engine", choices=["hypothesis", "random", "atheris"], default="hypothesis")
    parser.add_argument("--seed", type=int, default=None, help="seed (random engine; derandomised hypothesis)")
    parser.add_argument("--last-file", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "zk_fuzz_last.py"),
                        help="the program being run is written here first (a crash leaves it behind)")
    parser.add_argument("--keep-going", action="store_true", help="collect failures instead of stopping at the first")
    parser.add_argument("--strict", action="store_true", help="count known divergences as failures")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    summary = run_fuzz(args.seconds, args.max_examples, args.engine, args.seed, args.last_file,
                       stop_on_failure=not args.keep_going, verbose=args.verbose)
    print(summary.report(), flush=True)
    return 1 if summary.failures or (args.strict and summary.known) else 0


if __name__ == "__main__":
    sys.exit(main())
