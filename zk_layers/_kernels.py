"""The kernels, for the best build this CPU runs.

The compiled core has two layers, as PyTorch's ``native/cpu`` kernels behind
their ``DispatchStub``:

* the **kernels**, ``src/_cpu_*.pyx``: pure ``nogil`` functions on raw
  pointers -- no Python object, no allocation, no thread policy -- each of
  which computes a range of its work.  Each module exports its kernels as a
  typed table of function pointers (``TABLE``, a PyCapsule; the types are
  in ``src/_tables.pxd``).  They are the only code built once per
  instruction set (see setup.py): the baseline
  (``zk_layers._cpu_activations``), AVX2 (``_cpu_activations_avx2``) and
  AVX-512 (``_cpu_activations_avx512``), which compute bitwise-identical
  results and differ only in speed;
* the **glue**, one module per kernel module (``GLUE``), built once: it
  owns the checks, the allocation and the thread count, and calls the
  kernels only through the table that ``bind`` hands it with the thread
  policy of ``_platform`` (``POLICY``).  The layers call the glue, typed by
  its .pyi.

At import the best build that the CPU supports, and that exists in this
installation, is bound.  ``ZK_LAYERS_KERNELS=baseline|avx2|avx512`` asks
for a particular one (a level the CPU lacks is refused, never run: it would
crash on an illegal instruction).
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
from collections.abc import Iterator

from . import _platform

# setup.py reads these (with ast, without importing the package) to know
# what to build: the kernel modules, built per instruction set, and, for
# each glue module (built once), the kernel module whose TABLE it calls.
KERNEL_MODULES = ("_cpu_activations", "_cpu_affine", "_cpu_softmax_loss", "_cpu_update", "_cpu_regularization",
                  "_cpu_convolution", "_cpu_embedding", "_cpu_recurrent")
GLUE = {"_activations": "_cpu_activations", "_affine": "_cpu_affine", "_softmax_loss": "_cpu_softmax_loss",
        "_update": "_cpu_update", "_regularization": "_cpu_regularization", "_convolution": "_cpu_convolution",
        "_embedding": "_cpu_embedding", "_recurrent": "_cpu_recurrent"}

LEVELS = ("avx512", "avx2", "baseline")  # best first
_SUFFIX = {"avx512": "_avx512", "avx2": "_avx2", "baseline": ""}


@dataclasses.dataclass(frozen=True)
class Kernels:
    """One build's kernel tables."""

    level: str
    tables: dict[str, object]  # glue module name -> the TABLE capsule it calls


def cpu_supports(level: str) -> bool:
    if level == "avx512":
        return _platform.cpu_has_avx512()
    if level == "avx2":
        return _platform.cpu_has_avx2()
    return level == "baseline"


def _import(level: str) -> Kernels | None:
    """The tables of one build, or None if a module of it is missing."""
    tables = {}
    for glue, name in GLUE.items():
        try:
            tables[glue] = importlib.import_module(f"zk_layers.{name}{_SUFFIX[level]}").TABLE
        except ImportError:
            return None
    return Kernels(level, tables)


def available_levels() -> list[str]:
    """Builds present in this installation that this CPU can run, best first."""
    return [level for level in LEVELS if cpu_supports(level) and _import(level) is not None]


def load(level: str) -> Kernels:
    """The kernel tables of one build (see ``_import``)."""
    if level not in LEVELS:
        raise ValueError(f"kernel level must be one of {', '.join(LEVELS)}, got {level!r}")
    if not cpu_supports(level):
        raise RuntimeError(f"this CPU does not support the {level} kernels")
    kernels = _import(level)
    if kernels is None:
        raise RuntimeError(f"the {level} kernels were not built in this installation")
    return kernels


def bind(kernels: Kernels) -> None:
    """Make the glue modules call the kernels of ``kernels``' build."""
    for glue, table in kernels.tables.items():
        importlib.import_module(f"zk_layers.{glue}").bind(table, _platform.POLICY)


@contextlib.contextmanager
def using(level: str) -> Iterator[Kernels]:
    """The glue modules on the kernels of build ``level`` inside a ``with``
    block, for comparing builds in one process (not for concurrent use:
    the binding is process-wide)."""
    kernels = load(level)
    bind(kernels)
    try:
        yield kernels
    finally:
        bind(KERNELS)


def _select() -> Kernels:
    requested = os.environ.get("ZK_LAYERS_KERNELS", "").strip().lower()
    if requested and requested != "auto":
        return load(requested)
    return load(available_levels()[0])


KERNELS = _select()
bind(KERNELS)


def _direct_products_agree() -> bool:
    """Whether the direct BLAS calls of the Affine glue give np.dot's and
    np.matmul's bits on one probe of each call they make (gemm with each
    transpose, gemv on either layout), in float32 and float64."""
    import numpy as np

    from . import _affine

    values = np.random.default_rng(20261208).standard_normal(64)
    for dtype in (np.float64, np.float32):
        x = values[:21].reshape(3, 7).astype(dtype)
        W = values[21:49].reshape(7, 4).astype(dtype)
        d = values[49:61].reshape(3, 4).astype(dtype)
        row = x[:1]
        padded = np.zeros((3, 9), dtype)[:, :7]  # rows longer than the matrix: lda 9, not 7
        padded[...] = x
        pairs = [(np.dot(a, b), _affine.direct_dot(a, b))
                 for a, b in ((x, W), (np.asfortranarray(x), W), (d, W.T), (row, W), (row, np.asfortranarray(W)))]
        pairs += [(np.matmul(a.T, d), _affine.direct_matmul(a.T, d)) for a in (x, padded)]
        for expected, got in pairs:
            if got is None or not np.array_equal(got.view(np.uint8), expected.view(np.uint8)):
                return False
    return True


def _bind_blas() -> str | None:
    """Let the Affine glue call NumPy's own BLAS routines directly (src/_blas.pxi)
    when it finds them in the library NumPy links and they pass the probe;
    the symbols' prefix, or None (the glue then calls np.dot and np.matmul)."""
    from . import _affine

    try:
        from numpy._core import _multiarray_umath  # type: ignore[attr-defined]

        prefix = _affine.find_blas(_multiarray_umath.__file__)
        if prefix is not None and _affine.use_blas(True) and _direct_products_agree():
            return prefix
    except Exception:  # noqa: BLE001 - whatever went wrong, NumPy's own calls remain
        pass
    _affine.use_blas(False)
    return None


# The prefix of NumPy's CBLAS symbols that Affine calls directly, or None.
DIRECT_BLAS = _bind_blas()
