"""The fuzzer's judge: running a program on both implementations and
comparing the outcomes (see tests/fuzz.py)."""
from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from fuzz_programs import ALIAS_FIRST, STATE_STEPS, Program, Step
from fuzz_values import TOLERANCES, build, zk

from zk_layers._threads import forced_grain

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
    out_scalar: bool = False  # out= was a NumPy scalar (the reference's result of a 0-d forward)


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
        if layer_obj is not None:  # (after an exception too: known divergences are told by the state)
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
        # The runtime names of the reproducer: the last forward's arguments, out= and result.
        env: dict[str, Any] = {"layer": layer, "fa": [None, None], "fkw": {}, "fr": None}
        for step in prog.steps:
            if step.method in STATE_STEPS:
                outcomes.append(_call(lambda step=step: _change_state(step, env), [], prog.layer, None))
                continue
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
            kwargs = {k: (args[0] if v == ALIAS_FIRST else build(v, env)) for k, v in step.kwargs.items()}
            watched = [(f"arg{i}", a) for i, a in enumerate(args)
                       if not ("out" in kwargs and a is kwargs["out"])]
            method = getattr(layer, step.method)
            returned: list[Any] = []

            def invoke(method: Any = method, args: list[Any] = args, kwargs: dict[str, Any] = kwargs,
                       returned: list[Any] = returned) -> Any:
                returned.append(method(*args, **kwargs))
                return returned[0]

            if step.method == "forward":
                env["fa"], env["fkw"], env["fr"] = args, kwargs, None
            outcome = _call(invoke, watched, prog.layer, layer)
            outcome.out_scalar = isinstance(kwargs.get("out"), np.generic)
            if step.method == "forward" and returned:
                env["fr"] = returned[0]
            if outcome.ok and "out" in kwargs and isinstance(kwargs["out"], np.ndarray):
                # The out= buffer itself must be what is returned.
                outcome.out_identity_ok = returned[0] is kwargs["out"]
            outcomes.append(outcome)
    return outcomes


def _change_state(step: Step, env: dict[str, Any]) -> None:
    """A mutate/setattr step.  A value that cannot be formed (``layer.x.T``
    while x is None) skips the step, alike in both implementations."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if step.method == "mutate":
            try:
                build(step.args[0], env)
            except (AttributeError, TypeError, ValueError, IndexError, KeyError):
                pass  # e.g. fa[1] of a one-argument forward
            return
        try:
            value = build(step.args[1], env)
        except Exception:  # noqa: BLE001 - the value, not the layer: skipped
            return
        setattr(env["layer"], step.args[0], value)


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
# Found by the state-change steps; each is recognised by ``_known_divergence``
# and counted, and fails the run only under --strict.  Remove a tag once fixed.
KNOWN: dict[str, str] = {}
# Fixed in 0.2.0 (the patterns below still recognise them, so that a return
# is reported by name, but only tags listed in KNOWN excuse a divergence):
# relu-mask-without-forward, softmax-y-without-forward, affine-W-rows-changed,
# softmax-check-order, relu-forward-result-order, zero-d-state-is-scalar,
# sigmoid-out-alias-check.


def _scalar_state(prog: Program, f: Outcome, r: Outcome) -> bool:
    """After a forward of Relu/Sigmoid: the reference saved or returned NumPy
    scalars where the fast layer has 0-d arrays (see "zero-d-state-is-scalar")."""
    if prog.layer not in ("Relu", "Sigmoid"):
        return False
    attr = "mask" if prog.layer == "Relu" else "out"
    return any(isinstance(rv, np.generic) and isinstance(fv, np.ndarray)
               for fv, rv in ((f.value, r.value), (f.state.get(attr), r.state.get(attr))))


def _known_divergence(prog: Program, step: Step | None, f: Outcome, r: Outcome,
                      scalar_state: bool = False) -> str | None:
    """The KNOWN tag that explains a diverging or failing step, or None."""
    tag = _divergence_pattern(prog, step, f, r, scalar_state)
    return tag if tag in KNOWN else None


def _divergence_pattern(prog: Program, step: Step | None, f: Outcome, r: Outcome,
                        scalar_state: bool = False) -> str | None:
    """The name of the bug pattern that a diverging or failing step matches.
    ``scalar_state``: the last successful forward was a 0-d one (_scalar_state)."""
    if step is None or step.method != "backward":
        return None
    texts = f.exc_text + " | " + r.exc_text
    if prog.layer == "Relu" and f.exc_type is AttributeError and "'_flat_mask'" in f.exc_text:
        return "relu-mask-without-forward"
    if (prog.layer == "SoftmaxWithLoss" and AttributeError in (f.exc_type, r.exc_type)
            and ("'_y_shape'" in texts or "'_labels'" in texts)):
        return "softmax-y-without-forward"
    if prog.layer == "Affine" and isinstance(f.state.get("W"), np.ndarray) and isinstance(
            f.state.get("x"), np.ndarray) and f.state["x"].ndim == 2 and f.state["W"].ndim == 2 and (
            f.state["W"].shape[0] != f.state["x"].shape[1]):
        return "affine-W-rows-changed"
    if (prog.layer == "SoftmaxWithLoss" and not f.ok and not r.ok and f.exc_text.split(": ", 1)[-1].startswith(
            "dout") and "SoftmaxWithLoss.y" in r.exc_text):
        return "softmax-check-order"
    if (prog.layer == "Relu" and step.kwargs.get("out") == "fr" and f.ok != r.ok
            and "contiguous like the input" in texts):
        return "relu-forward-result-order"
    if prog.layer in ("Relu", "Sigmoid"):
        attr = "mask" if prog.layer == "Relu" else "out"
        fs, rs = f.state.get(attr), r.state.get(attr)
        if (isinstance(rs, np.generic) and isinstance(fs, np.ndarray) and fs.ndim == 0) or (
                r.out_scalar and not f.out_scalar) or (scalar_state and prog.uses_runtime_names()):
            return "zero-d-state-is-scalar"
    if (prog.layer == "Sigmoid" and "layer's saved output" in f.exc_text and not r.ok
            and "out must have dtype" in r.exc_text and isinstance(fs, np.ndarray)
            and fs.dtype not in (np.float32, np.float64)):
        return "sigmoid-out-alias-check"
    return None


def _blas_noise(prog: Program, step: Step | None, caught: list[str], state: dict[str, Any]) -> bool:
    """NumPy's dot warns ("invalid value encountered in dot") when the BLAS
    kernel it picks raised a floating-point flag, which depends on the dtype
    and memory layout (OpenBLAS's dgemm does, a strided float32 product does
    not), so the same values can warn in one implementation only.  Accepted
    for Affine when an operand is non-finite or large enough to overflow
    (an operand of the program, or the layer's x, W, b after the call: state
    changed between calls may have put NaN there)."""
    if prog.layer != "Affine" or step is None or not all(w.endswith("encountered in dot") for w in caught):
        return False
    values = [build(a) for a in prog.ctor_args + step.args] + [
        build(s.args[0]) for s in prog.steps if s.args and s.method not in STATE_STEPS]
    values += [state.get(a) for a in ("x", "W", "b")]
    for v in values:
        try:
            arr = np.asarray(v) if not isinstance(v, (str, bytes)) else np.zeros(0)
        except (TypeError, ValueError):  # a ragged list
            continue
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
    scalar_state = False
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
        if f.ok and f.warnings and r.ok and not r.warnings and not _blas_noise(prog, step, f.warnings, f.state):
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
                for (fa, ra), attr in zip(pairs, ("x", "dW", "db", "dx"), strict=False):
                    if isinstance(fa, np.ndarray) and isinstance(ra, np.ndarray) and fa.dtype != ra.dtype:
                        problems.append(f"{where}: Affine {attr} dtype {fa.dtype} (fast) != {ra.dtype} (reference)")
        if step is not None and step.method == "forward" and f.ok and r.ok:
            scalar_state = _scalar_state(prog, f, r)
        if problems:
            tag = _known_divergence(prog, step, f, r, scalar_state)
            if tag:
                known.append(tag)
                problems = []
        failures += problems
        if diverged:
            break
    return failures, known


def _affine_bounds(x2d: Any, W: Any, b: Any, dout: Any | None) -> dict[str, np.ndarray | None]:
    """Per element, the sum of |terms| of each product (the scale of the rounding
    error of a sum formed in another order, e.g. by another BLAS kernel); None
    for a product whose shapes do not match (a W reassigned since forward)."""
    def product(a: Any, b: Any) -> np.ndarray | None:
        try:
            return np.abs(np.asarray(a, dtype=np.float64)) @ np.abs(np.asarray(b, dtype=np.float64))
        except ValueError:
            return None

    with np.errstate(all="ignore"):
        W64 = np.asarray(W, dtype=np.float64)
        if dout is None:
            result = product(x2d, W64)
            return {"result": None if result is None else result + np.abs(np.asarray(b, dtype=np.float64))}
        ad = np.abs(np.asarray(dout, dtype=np.float64))
        return {"result": product(ad, W64.T), "dW": product(np.asarray(x2d, dtype=np.float64).T, ad),
                "db": ad.sum(axis=0)}


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
        if not _same_plain_value(f.state["original_x_shape"], r.state["original_x_shape"]):  # (maybe reassigned)
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
            if r.value is None or result_bound is None or np.size(result_bound) != np.size(r.value):
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
        y_dtype = np.asarray(r.state["y"]).dtype  # (a list, when y was reassigned one)
        x_max = _finite_max(r.state["y"]) if step.method == "backward" else _finite_max(build(step.args[0]))
        scale = 1.0 + (0.0 if math.isinf(x_max) else x_max)
        if step.method == "forward":
            return (compare_values(f.value, r.value, "loss", scale, dtype=y_dtype)
                    or compare_values(f.state["y"], r.state["y"], "SoftmaxWithLoss.y")
                    or compare_values(f.state["loss"], r.state["loss"], "SoftmaxWithLoss.loss", scale, dtype=y_dtype))
        # dx = (y - onehot) * dout / N: y - 1 cancels, so the error scales with dout / N.
        dout = float(build(step.args[0])) if step.args else 1.0
        n = max(1, np.asarray(r.state["y"]).reshape(-1, np.shape(r.state["y"])[-1]).shape[0])
        # A y reassigned from the forward's (layer.y.astype('float64')) is only
        # as accurate as the forward's dtype: the precision of the program.
        changed = precision if any(s.method in STATE_STEPS for s in prog.steps) else None
        return compare_values(f.value, r.value, "dx", abs(dout) / n if math.isfinite(dout) else 0.0, dtype=changed)
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


def _same_plain_value(a: Any, b: Any) -> bool:
    """Equal types and values (an attribute reassigned alike in both: a tuple,
    a list, an array, None, or an object of no value such as ``object()``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list, np.ndarray, int, float, str, bytes)):
        return repr(a) == repr(b)
    return True


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
