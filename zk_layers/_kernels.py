"""The kernels, for the best build this CPU runs.

setup.py builds every kernel module of ``KERNEL_MODULES`` from one .pyx
several times with different vector extensions (see its docstring): the
baseline (``zk_layers._cpu_activations``), AVX2 (``_cpu_activations_avx2``)
and AVX-512 (``_cpu_activations_avx512``).  All builds compute
bitwise-identical results; they differ only in speed.  At import the best
build that the CPU supports, and that exists in this installation, is
chosen.  ``ZK_LAYERS_KERNELS=baseline|avx2|avx512`` asks for a particular
one (a level the CPU lacks is refused, never run: it would crash on an
illegal instruction).

Two shapes of kernel module.  A ``_cpu_*`` module holds kernels only, pure
``nogil`` functions on raw pointers, and exports them as a typed table of
function pointers (a PyCapsule, ``TABLE``; the types are in
src/_tables.pxd).  Its glue module (``GLUE``: ``_activations`` for
``_cpu_activations``) is built once: it owns the checks, the allocation and
the thread count, and calls the kernels through the table that ``bind``
hands it with the thread policy of ``_platform``.  The layers call the glue
directly (typed by its .pyi).  The other kernel modules still hold their
glue and are built whole per instruction set; their kernels are the fields
of ``KERNELS`` below.

``KERNELS`` is a frozen :class:`Kernels`: one field per kernel, typed.
Kernels on Cython's fused ``floating`` type are stored as a
``(float32, float64)`` pair of specialisations picked once here, because
Cython's fused dispatch inspects the buffers on every call, which costs
more than the work at N=1; callers index the pair with the dtype they
validated, ``KERNELS.relu_forward[x.itemsize == 8]``.  Everyone imports the
table from here.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from . import _platform

# setup.py reads this tuple (with ast, without importing the package) to know
# what to build: one list of kernel modules for the build and the table.
KERNEL_MODULES = ("_cpu_activations", "_cpu_affine", "_cpu_softmax_loss", "_cpu_update", "_cpu_regularization",
                  "_convolution")
# glue module (built once) -> the kernel module whose TABLE it calls
GLUE = {"_activations": "_cpu_activations", "_affine": "_cpu_affine", "_softmax_loss": "_cpu_softmax_loss",
        "_update": "_cpu_update", "_regularization": "_cpu_regularization"}

LEVELS = ("avx512", "avx2", "baseline")  # best first
_SUFFIX = {"avx512": "_avx512", "avx2": "_avx2", "baseline": ""}

Kernel = Callable[..., Any]
Pair = tuple[Kernel, Kernel]  # (float32, float64)


@dataclasses.dataclass(frozen=True)
class Kernels:
    """One build's kernels; the contracts are in each module's docstring."""

    level: str
    tables: dict[str, object]  # glue module name -> the TABLE capsule it calls
    # src/_convolution.pyx (chapter 7: Convolution, Pooling, im2col, col2im)
    im2col: Pair
    im2col_transposed: Pair
    im2col_transposed_widened: Kernel  # float32 images into float64 patches: not fused
    col2im: Pair
    col2im_transposed: Pair
    conv_bias_add_inplace: Pair
    conv_bias_gradient: Pair
    max_pool_forward: Pair
    max_pool_backward: Pair


def cpu_supports(level: str) -> bool:
    if level == "avx512":
        return _platform.cpu_has_avx512()
    if level == "avx2":
        return _platform.cpu_has_avx2()
    return level == "baseline"


def _import(level: str) -> Kernels | None:
    """The kernels of one build, or None if a module of it is missing."""
    modules = []
    for name in KERNEL_MODULES:
        try:
            modules.append(importlib.import_module(f"zk_layers.{name}{_SUFFIX[level]}"))
        except ImportError:
            return None
    found: dict[str, Any] = {"level": level, "tables": {
        glue: modules[KERNEL_MODULES.index(kernels)].TABLE for glue, kernels in GLUE.items()}}
    for field in dataclasses.fields(Kernels)[2:]:
        owners = [m for m in modules if hasattr(m, field.name)]
        if len(owners) != 1:
            raise RuntimeError(f"kernel {field.name} is defined in {len(owners)} modules of the "
                               f"{level} build, expected exactly one")
        function = getattr(owners[0], field.name)
        fused = hasattr(function, "__signatures__")
        if fused != (field.type == "Pair"):
            raise RuntimeError(f"kernel {field.name} of the {level} build is "
                               f"{'' if fused else 'not '}fused on `floating`, unlike its declaration")
        found[field.name] = (function["float"], function["double"]) if fused else function
    return Kernels(**found)


def available_levels() -> list[str]:
    """Builds present in this installation that this CPU can run, best first."""
    return [level for level in LEVELS if cpu_supports(level) and _import(level) is not None]


def load(level: str) -> Kernels:
    """The kernels of one build (see ``_import``)."""
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
