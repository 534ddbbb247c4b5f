"""The peers a performance-minded user would pick instead: numba and JAX.

``zk-layers bench --peers`` times these next to zk_layers and the book's
code (PyTorch has its own workloads in :mod:`zk_layers.bench`).  They are
never dependencies: each peer is used only when it imports.

Every peer computes the same thing as the layer pair it stands for,
written the way a user of that tool would write it:

* numba: ``@njit`` functions in NumPy style (``np.where``, ``@`` for the
  products, which numba sends to BLAS through SciPy), one call per
  forward+backward pair;
* JAX: one ``jax.jit`` function per forward+backward pair (the forward and
  the hand-written backward fused by XLA), inputs already on the device,
  timed until ``block_until_ready``.

Before anything is timed, each peer's outputs are compared with
``zk_layers.reference`` (:func:`check`); a peer that disagrees is an error,
not a row.  JAX runs in float64 (``jax_enable_x64``).

Each peer gets the row's thread budget, BLAS included:

* numba's ``@`` calls SciPy's OpenBLAS, a library of its own next to NumPy's.
  :func:`available` loads it at once, so that the ``threadpool_limits`` the
  benchmark enters for each row reach it too: threadpoolctl limits only the
  libraries loaded when the block is entered, and SciPy's BLAS would
  otherwise load at numba's first compile, inside that block, and keep its
  default of every CPU.
* XLA sizes its thread pool once, from the CPUs the process may run on when
  JAX starts; ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false
  intra_op_parallelism_threads=1`` does not limit it (measured with JAX
  0.10.2: docs/performance.md).  :func:`available` therefore starts JAX while the
  calling thread, which creates XLA's pool, may run on ``threads`` CPUs only,
  and widens its mask again at once; the pool's threads keep the narrow
  one (threads that XLA would create later get the wide one: the test
  ``test_peers_get_the_rows_thread_budget`` checks the CPU time JAX takes).
  JAX then stands only in the rows of that thread count (:func:`workloads`).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

PEER_OPS = ("relu", "sigmoid", "affine", "softmax", "step")

# The size of JAX's thread pool, once :func:`available` has started JAX.
jax_threads: int | None = None
# Whether numba can call a BLAS (SciPy's) for ``@``, once :func:`available` ran.
numba_has_blas = False
NUMBA_BLAS_OPS = ("affine", "step")


def available(threads: int = 1) -> dict[str, str]:
    """{peer name: version} of the peers that import here.

    ``threads``: the size to give JAX's thread pool, which cannot change once
    JAX has started; JAX is then timed only in the rows of that thread count
    (:data:`jax_threads`).  If JAX's CPU client was started before, its pool
    has JAX's default size, one thread per usable CPU, and keeps it.
    """
    global numba_has_blas
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    found = {}
    try:
        import numba

        found["numba"] = str(numba.__version__)
    except Exception:  # noqa: BLE001 - any failure to import means "not available"
        pass
    else:
        try:
            # Loads SciPy's BLAS now: see the module's docstring.  Without
            # SciPy, numba cannot compile ``@``: it then stands only in the
            # rows without products.
            import scipy.linalg.cython_blas  # noqa: F401

            numba_has_blas = True
        except ImportError:
            numba_has_blas = False
    try:
        found["jax"] = _start_jax(threads)
    except Exception:  # noqa: BLE001
        pass
    return found


def _start_jax(threads: int) -> str:
    """Import JAX and start its CPU client while this thread may run on only
    ``threads`` CPUs (see the module's docstring); returns JAX's version."""
    global jax_threads
    import jax

    jax.config.update("jax_enable_x64", True)
    if jax_threads is not None:
        return str(jax.__version__)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    narrow = not _jax_started() and 0 < threads < len(cpus)
    if narrow:
        os.sched_setaffinity(0, cpus[:threads])
    try:
        jax.devices("cpu")  # starts the client and its pool
    finally:
        if narrow:
            os.sched_setaffinity(0, cpus)
    jax_threads = threads if narrow else (len(cpus) or os.cpu_count() or 1)
    return str(jax.__version__)


def _jax_started() -> bool:
    """Whether JAX's backends exist already (then its pool has its size)."""
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge._backends)
    except (ImportError, AttributeError):
        return True  # unknown: assume the default pool


# --------------------------------------------------------------- numba
_NUMBA: dict[str, Callable[..., Any]] = {}


def _numba_functions() -> dict[str, Callable[..., Any]]:
    if _NUMBA:
        return _NUMBA
    from numba import njit

    @njit(cache=False)
    def relu(x, dout):  # type: ignore[no-untyped-def]
        mask = x <= 0
        return np.where(mask, 0.0, x).astype(x.dtype), np.where(mask, 0.0, dout).astype(x.dtype)

    @njit(cache=False)
    def sigmoid(x, dout):  # type: ignore[no-untyped-def]
        y = 1 / (1 + np.exp(-x))
        return y, dout * (1 - y) * y

    @njit(cache=False)
    def affine(x, W, b, dout):  # type: ignore[no-untyped-def]
        out = x @ W + b
        return out, dout @ W.T, x.T @ dout, dout.sum(axis=0)

    @njit(cache=False)
    def softmax(x, t):  # type: ignore[no-untyped-def]
        n, c = x.shape
        dx = np.empty_like(x)
        loss = 0.0
        for i in range(n):
            m = x[i].max()
            e = np.exp(x[i] - m)
            s = e.sum()
            y = e / s
            loss += -np.log(y[t[i]] + 1e-7)
            dx[i] = y / n
            dx[i, t[i]] -= 1.0 / n
        return loss / n, dx

    @njit(cache=False)
    def step(x, t, W1, b1, W2, b2, lr):  # type: ignore[no-untyped-def]
        a1 = x @ W1 + b1
        mask = a1 <= 0
        z1 = np.where(mask, np.zeros_like(a1), a1)
        a2 = z1 @ W2 + b2
        loss, d2 = softmax(a2, t)
        dW2 = z1.T @ d2
        db2 = d2.sum(axis=0)
        g1 = d2 @ W2.T
        dz1 = np.where(mask, np.zeros_like(g1), g1)
        dW1 = x.T @ dz1
        db1 = dz1.sum(axis=0)
        W1 -= lr * dW1
        b1 -= lr * db1
        W2 -= lr * dW2
        b2 -= lr * db2
        return loss

    _NUMBA.update(relu=relu, sigmoid=sigmoid, affine=affine, softmax=softmax, step=step)
    return _NUMBA


# ----------------------------------------------------------------- JAX
_JAX: dict[str, Callable[..., Any]] = {}


def _jax_functions() -> dict[str, Callable[..., Any]]:
    if _JAX:
        return _JAX
    import jax
    import jax.numpy as jnp

    def relu(x, dout):  # type: ignore[no-untyped-def]
        return jnp.maximum(x, 0), jnp.where(x > 0, dout, 0)

    def sigmoid(x, dout):  # type: ignore[no-untyped-def]
        y = jax.nn.sigmoid(x)
        return y, dout * (1 - y) * y

    def affine(x, W, b, dout):  # type: ignore[no-untyped-def]
        return x @ W + b, dout @ W.T, x.T @ dout, dout.sum(axis=0)

    def softmax(x, t):  # type: ignore[no-untyped-def]
        n = x.shape[0]
        y = jax.nn.softmax(x, axis=1)
        loss = -jnp.mean(jnp.log(y[jnp.arange(n), t] + 1e-7))
        return loss, (y - jax.nn.one_hot(t, x.shape[1], dtype=x.dtype)) / n

    def loss_of(params, x, t):  # type: ignore[no-untyped-def]
        W1, b1, W2, b2 = params
        z1 = jnp.maximum(x @ W1 + b1, 0)
        a2 = z1 @ W2 + b2
        # The exact cross-entropy: its gradient is the book's (y - t) / N
        # (the book's loss adds 1e-7 inside the log, its backward does not).
        return -jnp.mean(jax.nn.log_softmax(a2, axis=1)[jnp.arange(x.shape[0]), t])

    def step(params, x, t, lr):  # type: ignore[no-untyped-def]
        loss, grads = jax.value_and_grad(loss_of)(params, x, t)
        return loss, tuple(p - lr * g for p, g in zip(params, grads, strict=True))

    _JAX.update(relu=jax.jit(relu), sigmoid=jax.jit(sigmoid), affine=jax.jit(affine),
                softmax=jax.jit(softmax), step=jax.jit(step))
    return _JAX


# ------------------------------------------------------------ workloads
def workloads(op: str, spec: dict[str, Any], dtype: np.dtype, rng: np.random.Generator,
              peers: dict[str, str], threads: int = 1) -> dict[str, Callable[[], object]]:
    """{peer: forward+backward callable} for one op (or one training step),
    each checked against the reference first.  ``threads``: the row's thread
    budget; JAX stands only in rows of its pool's size."""
    if op not in PEER_OPS:
        return {}
    n, d, h, c = spec["N"], spec["D"], spec["H"], spec["C"]
    if op == "affine":
        n = spec.get("affine_N", n)
    x = rng.standard_normal((n, d if op in ("affine", "step") else (c if op == "softmax" else h))).astype(dtype)
    dout = rng.standard_normal((n, h)).astype(dtype)
    W = (rng.standard_normal((d, h)) * 0.01).astype(dtype)
    b = (rng.standard_normal(h) * 0.01).astype(dtype)
    t = rng.integers(0, c, n)
    W2 = (rng.standard_normal((h, c)) * 0.01).astype(dtype)
    b2 = np.zeros(c, dtype)
    expected = _expected(op, x, dout, W, b, t, W2, b2)
    result: dict[str, Callable[[], object]] = {}
    if "numba" in peers and (numba_has_blas or op not in NUMBA_BLAS_OPS):
        fn = _numba_functions()[op]
        args: tuple[Any, ...]
        if op == "step":
            params = [W.copy(), b.copy(), W2.copy(), b2.copy()]
            # The learning rate in the parameters' dtype: numba keeps float32 float32.
            check("numba", op, fn(x, t, *params, dtype.type(0.1)), expected, params, dtype)
            params = [W.copy(), b.copy(), W2.copy(), b2.copy()]
            args = (x, t, *params, dtype.type(0.0))  # lr 0 while timing: the weights stay put
        else:
            args = {"relu": (x, dout), "sigmoid": (x, dout), "affine": (x, W, b, dout),
                    "softmax": (x, t)}[op]
            check("numba", op, fn(*args), expected, dtype=dtype)
        result["numba"] = _bind(fn, args)
    if "jax" in peers and threads == jax_threads:
        import jax

        jfn = _jax_functions()[op]
        if op == "step":
            jparams = tuple(jax.device_put(p) for p in (W, b, W2, b2))
            jx, jt = jax.device_put(x), jax.device_put(t)
            loss, new = jfn(jparams, jx, jt, 0.1)
            check("jax", op, float(loss), expected, [np.asarray(p) for p in new], dtype)
            result["jax"] = _block(lambda: jfn(jparams, jx, jt, 0.0))
        else:
            jargs = tuple(jax.device_put(a) for a in {"relu": (x, dout), "sigmoid": (x, dout),
                                                       "affine": (x, W, b, dout), "softmax": (x, t)}[op])
            check("jax", op, jax.tree_util.tree_map(np.asarray, jfn(*jargs)), expected, dtype=dtype)
            result["jax"] = _block(lambda: jfn(*jargs))
    return result


def _bind(fn: Callable[..., Any], args: tuple[Any, ...]) -> Callable[[], object]:
    return lambda: fn(*args)


def _block(fn: Callable[[], Any]) -> Callable[[], object]:
    import jax

    return lambda: jax.block_until_ready(fn())


def _expected(op: str, x: np.ndarray, dout: np.ndarray, W: np.ndarray, b: np.ndarray, t: np.ndarray,
              W2: np.ndarray, b2: np.ndarray) -> Any:
    from . import reference

    if op in ("relu", "sigmoid"):
        activation = reference.Relu() if op == "relu" else reference.Sigmoid()
        return activation.forward(x), activation.backward(dout)
    if op == "affine":
        affine = reference.Affine(W, b)
        out = affine.forward(x)
        dx = affine.backward(dout)
        return out, dx, affine.dW, affine.db
    if op == "softmax":
        loss_layer = reference.SoftmaxWithLoss()
        return loss_layer.forward(x, t), loss_layer.backward()
    from .nets import TwoLayerNet

    net = TwoLayerNet(W.shape[0], W.shape[1], W2.shape[1], dtype=x.dtype, backend="reference")
    for key, value in (("W1", W), ("b1", b), ("W2", W2), ("b2", b2)):
        net.params[key][...] = value
    loss = net.loss(x, t)
    grads = net.gradient(x, t)
    return loss, [net.params[k] - 0.1 * grads[k] for k in ("W1", "b1", "W2", "b2")]


def check(peer: str, op: str, got: Any, expected: Any, params: list[np.ndarray] | None = None,
          dtype: Any = np.float64) -> None:
    """Raise AssertionError if a peer's outputs differ from the reference's
    (computed in ``dtype``: float32 work is compared at float32 precision)."""
    rtol = 1e-4 if np.dtype(dtype) == np.float32 else 1e-9
    if op == "step":
        # Losses: with or without the book's 1e-7 inside the log.
        np.testing.assert_allclose(float(got), expected[0], rtol=max(rtol, 1e-6), err_msg=f"{peer} {op}: loss")
        for g, e in zip(params or [], expected[1], strict=True):
            scale = float(np.max(np.abs(e))) if e.size else 0.0
            np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * scale + 1e-300,
                                       err_msg=f"{peer} {op}: updated parameters")
        return
    for g, e in zip(got, expected, strict=True):
        e = np.asarray(e, dtype=np.float64)
        # Sums formed in another order (BLAS, XLA) differ by rounding relative
        # to the size of what is summed: the absolute slack scales with it.
        scale = float(np.max(np.abs(e))) if e.size else 0.0
        np.testing.assert_allclose(np.asarray(g, dtype=np.float64), e, rtol=rtol, atol=rtol * scale + 1e-300,
                                   err_msg=f"{peer} {op}")
