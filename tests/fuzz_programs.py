"""The fuzzer's programs: choice sources, the program generators and the
state changes between calls (see tests/fuzz.py)."""
from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

from fuzz_values import (
    BAD_DTYPES,
    FLOAT_DTYPES,
    LAYERS,
    LAYOUTS,
    OTHER_REAL_DTYPES,
    VALUE_KINDS,
)

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
# Runtime names a step's code may use (the reproducer defines them too): the
# layer, and the last forward's argument list, out= keywords and result.
RUNTIME_NAMES = ("layer", "fa", "fkw", "fr")
STATE_STEPS = ("mutate", "setattr")  # the "state changed between calls" steps


@dataclasses.dataclass
class Step:
    """One step.  forward/backward: ``args`` and ``kwargs`` are code strings;
    update_W: ``layer.W -= 0.5``; assign_b: ``layer.b = args[0]``;
    mutate: ``args[0]`` is a ``mutate(...)`` call; setattr:
    ``layer.<args[0]> = <args[1]>`` (skipped when the value cannot be formed)."""
    method: str
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

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Program:
        return cls(**{**d, "steps": [Step(**s) for s in d["steps"]]})

    def uses_runtime_names(self) -> bool:
        return any(s.method in STATE_STEPS or any(v in RUNTIME_NAMES for v in s.kwargs.values())
                   for s in self.steps)

    def code(self, impl: str = "zk") -> str:
        """A Python script that replays the program on one implementation."""
        lines = [
            "import sys; sys.path.insert(0, 'tests')  # run from the repository root",
            "from fuzz import gen_array, gen_labels, gen_buffer, mutate, show  # (finds an in-place build too)",
            "import numpy as np, zk_layers as zk",
            "from numpy import nan, inf",
        ]
        runtime = self.uses_runtime_names()
        if any(s.method == "setattr" for s in self.steps):
            lines.append("from contextlib import suppress")
        if self.tiny_grain:
            lines.append("from zk_layers._threads import GRAINS")
            lines.append("GRAINS.elementwise = GRAINS.exp = GRAINS.rowwise = 1")
        if self.threads is not None:
            lines.append(f"zk.set_num_threads({self.threads})")
        for i, arg in enumerate(self.ctor_args):
            lines.append(f"p{i} = {arg}")
        params = [f"p{i}" for i in range(len(self.ctor_args))] + [f"{k}={v}" for k, v in self.ctor_kwargs.items()]
        lines.append(f"layer = {impl}.{self.layer}({', '.join(params)})")
        if runtime:
            lines.append("fa, fkw, fr = [None, None], {}, None  # the last forward's arguments, out= and result")
        for step in self.steps:
            if step.method == "update_W":
                lines += ["try:", "    layer.W -= 0.5  # in place", "except Exception as exc:",
                          "    print('raised', type(exc).__name__, exc)"]
                continue
            if step.method == "assign_b":
                lines.append(f"layer.b = {step.args[0]}")
                continue
            if step.method == "mutate":
                lines.append(f"{step.args[0]}  # in place")
                continue
            if step.method == "setattr":
                lines.append(f"with suppress(Exception): layer.{step.args[0]} = {step.args[1]}")
                continue
            lines.append(f"a = [{', '.join(step.args)}]")
            kws = ", ".join(f"{k!r}: {'a[0]' if v == ALIAS_FIRST else v}" for k, v in step.kwargs.items())
            call = f"layer.{step.method}, *a"
            if step.kwargs:
                lines.append(f"kw = {{{kws}}}")
                call += ", **kw"
            if step.method == "forward" and runtime:
                lines.append(f"fa, fkw = a, {'kw' if step.kwargs else '{}'}")
                lines.append(f"fr = show({call})")
            else:
                lines.append(f"show({call})")
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
    steps: list[Step] = []
    forward_shape: tuple[int, ...] | None = None
    forward_out = False
    for _ in range(n_steps):
        if src.chance(0.2):
            shape = _shape(src)  # a second forward with another shape
        method = src.choice(["forward", "backward"])
        if method == "backward" and forward_shape is not None and src.chance(STATE_CHANGE_P):
            steps += [_elementwise_change(src, layer, forward_shape, forward_out)
                      for _ in range(src.integer(1, 2))]
        arg = _any_array(src, shape)
        kwargs = {}
        out = _out_buffer(src, shape, arg)
        if method == "backward" and forward_shape is not None and src.chance(0.05):
            # the forward's result or out=, or the saved state, as backward's out=
            out = src.choice(["fr", "fkw.get('out')", "layer.out" if layer == "Sigmoid" else "layer.mask"])
        if out is not None:
            kwargs["out"] = out
        steps.append(Step(method, [arg], kwargs))
        if method == "forward":
            forward_shape, forward_out = shape, out is not None
    return Program(layer, [], {}, steps, threads, tiny)


# ---------------------------------------------------------------------------
# State changed between calls: steps generated between a forward and the
# following backward (see the module's docstring)
# ---------------------------------------------------------------------------

STATE_CHANGE_P = 0.25  # per backward that follows a forward (--state-changes)
MUTATIONS = ["set_all", "set_one", "set_one", "set_one", "random", "negate", "roll", "row", "raw"]
FLOAT_VALUES = ["nan", "inf", "-inf", "1e300", "-1e30", "3e38", "0.0", "-0.0", "5e-324", "2.0", "1 << 40"]
LABEL_VALUES = ["1 << 40", "-5", "-1", "{c}", "{c} - 1", "0", "1", "2**63 + 5", "2**64 - 1", "0.5", "nan"]


def _mutation(src: Source, target: str, values: list[str], c: int = 1) -> Step:
    """Change ``target`` (a runtime expression) in place."""
    kind = src.choice(MUTATIONS)
    value = src.choice(values).format(c=c) if kind in ("set_all", "set_one", "row") else "None"
    return Step("mutate", [f"mutate({target}, {kind!r}, {src.seed()}, {value})"], {})


GARBAGE = ["None", "'abc'", "object()", "0.5", "[]", "{'a': 1}", "True"]


def _elementwise_change(src: Source, layer: str, shape: tuple[int, ...], has_out: bool) -> Step:
    attr = "mask" if layer == "Relu" else "out"
    if src.chance(0.45):
        target = src.choice(["fa[0]", "fa[0]", "fkw.get('out')" if has_out else "fa[0]", "fr", f"layer.{attr}"])
        return _mutation(src, target, FLOAT_VALUES + ["1", "0"])
    r = src.integer(0, 9)
    if layer == "Relu":
        if r < 3:  # right shape, any layout
            value = _float_array(src, shape, dtype="bool", kind="normal", layout=src.choice(LAYOUTS))
        elif r < 4:  # wrong shape
            value = _float_array(src, src.choice([_shape(src), shape[:-1], (*shape, 1)]), dtype="bool")
        elif r < 5:  # not boolean
            value = _float_array(src, shape, dtype=src.choice(["float64", "float32", "int8", "uint8", "int64"]),
                                 kind="ints")
        elif r < 7:
            value = src.choice(["layer.mask.tolist()", "np.True_", "np.array(True)", "[True]"] + GARBAGE)
        else:
            value = src.choice(["~layer.mask", "layer.mask.copy()", "np.asfortranarray(layer.mask)", "layer.mask.T",
                                "layer.mask[::-1]", "layer.mask.astype(np.uint8)", "layer.mask.view(np.uint8)",
                                "layer.mask.reshape(-1)", "layer.mask[..., None]", "fa[0] > 0", "fr",
                                "np.broadcast_to(layer.mask[:1], layer.mask.shape)", "layer.mask[::2]"])
    else:
        if r < 3:  # right shape, any dtype/kind/layout
            value = _any_array(src, shape)
        elif r < 4:
            value = _float_array(src, shape, dtype=src.choice(OTHER_REAL_DTYPES + BAD_DTYPES), kind="normal")
        elif r < 5:
            value = _float_array(src, src.choice([_shape(src), shape[:-1], (*shape, 1)]))
        elif r < 7:
            value = src.choice(["layer.out.tolist()", "np.float64(0.5)", "[0.5]"] + GARBAGE)
        else:
            value = src.choice(["layer.out.copy()", "layer.out.astype('float32')", "layer.out.astype('float64')",
                                "layer.out.astype('float16')", "np.asfortranarray(layer.out)", "layer.out.T",
                                "layer.out[::-1]", "layer.out.reshape(-1)", "fr", "fkw.get('out')", "fa[0]",
                                "1 - layer.out", "layer.out * 1e300", "layer.out[::2]"])
    return Step("setattr", [attr, value], {})


def _affine_change(src: Source, n: int, d: int, m: int, pdtype: str, x_shape: tuple[int, ...]) -> Step:
    if src.chance(0.3):
        target = src.choice(["fa[0]", "fa[0]", "fa[0]", "layer.x", "layer.W", "layer.b", "fr"])
        return _mutation(src, target, FLOAT_VALUES)
    other = "float32" if pdtype == "float64" else "float64"
    attr = src.choice(["W", "b", "x", "x", "original_x_shape", "original_x_shape"])
    r = src.integer(0, 9)
    if attr in ("W", "b"):
        shape = (d, m) if attr == "W" else (m,)
        if r < 3:
            value = _float_array(src, shape, dtype=src.choice([pdtype, pdtype, other]),
                                 kind=src.choice(["normal", "ints", "specials"]),
                                 layout=src.choice(["C", "F", "strided", "readonly", "reversed"]))
        elif r < 4:
            value = _float_array(src, shape, dtype=src.choice(["int64", "float16", "bool", ">f8", "complex128"]))
        elif r < 6:
            wrong = [(m, d), (d + 1, m), (d, m + 1), (d,), (d, m, 1)] if attr == "W" else [(m + 1,), (1, m), ()]
            value = _float_array(src, src.choice(wrong), dtype=pdtype)
        elif r < 7:
            value = src.choice([f"np.ones({shape!r}).tolist()"] + GARBAGE)
        else:
            value = src.choice([f"layer.{attr}.copy()", f"np.asfortranarray(layer.{attr})", f"layer.{attr}.T",
                                f"layer.{attr}.astype('float32')", f"layer.{attr}.astype('float64')",
                                f"layer.{attr}[:-1]", f"layer.{attr}[..., :-1]", f"layer.{attr}[None]",
                                f"layer.{attr}[::-1]"])
        return Step("setattr", [attr, value], {})
    rows = x_shape[0] if x_shape else n
    if attr == "x":
        if r < 3:
            value = _any_array(src, (rows, d))
        elif r < 5:
            value = _float_array(src, src.choice([(rows + 1, d), (rows, d + 1), x_shape, (rows,), (d, rows)]),
                                 dtype=pdtype)
        elif r < 6:
            value = src.choice(["layer.x.tolist()"] + GARBAGE)
        else:
            value = src.choice(["layer.x.copy()", "layer.x.astype('float32')", "layer.x.astype('float64')",
                                "layer.x.astype('int64')", "layer.x.astype('float16')", "fa[0]", "layer.x[:, :-1]",
                                "layer.x[:-1]", "layer.x.T", "layer.x.reshape(-1)", "np.asfortranarray(layer.x)",
                                "layer.x[::-1]", "layer.x.astype('complex128')", "layer.x > 0"])
        return Step("setattr", ["x", value], {})
    value = src.choice([f"({rows}, {d})", repr(tuple(x_shape)), "tuple(layer.x.shape)", "list(layer.original_x_shape)",
                        f"({rows + 1}, {d})", f"({rows}, {d + 1})", "()", f"({rows}, {d}, 1)", f"({rows}, 1, {d})",
                        f"np.array([{rows}, {d}])", f"({float(rows)}, {float(d)})", f"({rows}, {d} / 2, 2)",
                        f"(np.int64({rows}), {d})", f"({rows}, -{d})", "(None, None)", "5", "('a', 'b')",
                        f"[{rows}, {d}]", f"({rows}, {d}, 0)", f"({rows}, 2**70)"] + GARBAGE)
    return Step("setattr", ["original_x_shape", value], {})


def _softmax_change(src: Source, n: int, c: int, single: bool, shape: tuple[int, ...]) -> Step:
    if src.chance(0.4):
        target = src.choice(["fa[1]", "fa[1]", "fa[1]", "layer.t", "fa[0]", "layer.y"])
        return _mutation(src, target, LABEL_VALUES if target in ("fa[1]", "layer.t") else FLOAT_VALUES, c)
    if src.chance(0.6):
        r = src.integer(0, 9)
        if r < 5:
            value = (f"gen_labels({src.seed()}, {n}, {c}, {src.choice(LABEL_KINDS)!r}, "
                     f"{src.choice(LABEL_DTYPES)!r}, single={single})")
        elif r < 7:
            value = src.choice(["layer.t.copy()", "fa[1]", "layer.t.astype('float64')", "layer.t.astype('int8')",
                                "layer.t.astype('uint64')", "layer.t.tolist()", "layer.t[::-1]",
                                "layer.t.reshape(-1, 1)", "layer.t.reshape(-1)", "np.asfortranarray(layer.t)",
                                "layer.t[:-1]", "np.roll(layer.t, 1, axis=-1)", "layer.t.astype(bool)"])
        else:
            value = src.choice([f"[{c}] * {n}", f"[-5] * {n}", f"np.full({n}, 1 << 40)", f"np.full({n}, -5)",
                                f"np.full(({n}, 1), {c})", f"np.full({n}, 2**63 + 5, dtype=np.uint64)",
                                f"np.zeros(({n}, {c}))", f"np.ones(({n}, {c}), dtype=np.int8)", "0", "np.int64(0)",
                                f"np.arange({n}) % {max(c, 1)}", f"np.arange({n}, dtype=np.float64)"] + GARBAGE)
        return Step("setattr", ["t", value], {})
    r = src.integer(0, 9)
    if r < 4:
        value = _float_array(src, shape, kind=src.choice(VALUE_KINDS), layout=src.choice(LAYOUTS))
    elif r < 5:
        value = _float_array(src, shape, dtype=src.choice(OTHER_REAL_DTYPES + BAD_DTYPES), kind="normal")
    elif r < 6:
        value = _float_array(src, src.choice([_shape(src), shape[::-1], (*shape, 1), shape[:-1]]))
    elif r < 7:
        value = src.choice(["layer.y.tolist()"] + GARBAGE)
    else:
        value = src.choice(["layer.y.copy()", "layer.y.astype('float32')", "layer.y.astype('float64')",
                            "np.asfortranarray(layer.y)", "layer.y[::-1]", "layer.y.T", "layer.y.reshape(-1)",
                            "layer.y[None]", "1 - layer.y", "layer.y * 1e300", "layer.y.astype('float16')",
                            "layer.y[:, ::2]", "layer.y[::2]", "fa[0]"])
    return Step("setattr", ["y", value], {})


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
    steps: list[Step] = []
    forwarded = False
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
            forwarded = True
        elif method == "backward":
            if forwarded and src.chance(STATE_CHANGE_P):
                steps += [_affine_change(src, n, d, m, pdtype, x_shape) for _ in range(src.integer(1, 2))]
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
    steps: list[Step] = []
    last: tuple[int, int, bool, tuple[int, ...]] | None = None  # the last forward's n, c, single, shape
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
            last = (n, c, single, shape)
        else:
            if last is not None and src.chance(STATE_CHANGE_P):
                steps += [_softmax_change(src, *last) for _ in range(src.integer(1, 2))]
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
    steps: list[Step] = []
    shape = _shape(src, max_ndim=3)
    forwarded = False
    for _ in range(n_steps):
        if src.chance(0.5):
            other = shape
            if not src.chance(0.6):  # a broadcastable shape: some axes 1, leading axes dropped
                other = tuple(1 if src.chance(0.5) else d for d in shape)[src.integer(0, len(shape)):]
            steps.append(Step("forward", [_operand(src, shape), _operand(src, other)], {}))
            forwarded = True
        else:
            if forwarded and src.chance(STATE_CHANGE_P):
                steps.append(_mutation(src, src.choice(["fa[0]", "fa[1]", "fr"]), FLOAT_VALUES))
            dout = src.choice(["1.0", "2"]) if src.chance(0.3) else _float_array(src, shape)
            steps.append(Step("backward", [dout], {}))
    return Program(layer, [], {}, steps, threads, tiny)
