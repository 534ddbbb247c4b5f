"""The kernel table: every compiled kernel, for the best build this CPU runs.

setup.py builds every kernel module of ``KERNEL_MODULES`` from one .pyx
several times with different vector extensions (see its docstring): the
baseline (``zk_layers._activations``), AVX2 (``_activations_avx2``) and
AVX-512 (``_activations_avx512``).  All builds compute bitwise-identical
results; they differ only in speed.  At import the best build that the CPU
supports, and that exists in this installation, is chosen.
``ZK_LAYERS_KERNELS=baseline|avx2|avx512`` asks for a particular one (a
level the CPU lacks is refused, never run: it would crash on an illegal
instruction).

``KERNELS`` is a frozen :class:`Kernels`: one field per kernel, typed.
Kernels on Cython's fused ``floating`` type are stored as a
``(float32, float64)`` pair of specialisations picked once here, because
Cython's fused dispatch inspects the buffers on every call, which costs
more than the work at N=1; callers index the pair with the dtype they
validated, ``KERNELS.relu_forward[x.itemsize == 8]``.  Everyone imports the
table from here.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable
from typing import Any

from . import _platform

# setup.py reads this tuple (with ast, without importing the package) to know
# what to build: one list of kernel modules for the build and the table.
KERNEL_MODULES = ("_activations", "_softmax_loss", "_affine", "_update", "_regularization", "_convolution")

LEVELS = ("avx512", "avx2", "baseline")  # best first
_SUFFIX = {"avx512": "_avx512", "avx2": "_avx2", "baseline": ""}

Kernel = Callable[..., Any]
Pair = tuple[Kernel, Kernel]  # (float32, float64)


@dataclasses.dataclass(frozen=True)
class Kernels:
    """One build's kernels; the contracts are in each module's docstring."""

    level: str
    # src/_activations.pyx
    relu_forward: Pair
    relu_backward: Pair
    sigmoid_forward: Pair
    sigmoid_backward: Pair
    relu_forward_call: Kernel  # one-call entry points: take the layer's
    relu_backward_call: Kernel  # objects, check the common case in C and
    sigmoid_forward_call: Kernel  # return None when it does not apply
    sigmoid_backward_call: Kernel
    # src/_softmax_loss.pyx
    softmax_cross_entropy_forward: Pair
    softmax_cross_entropy_backward: Pair
    first_invalid_label: Kernel  # intp labels only: not fused
    softmax_cross_entropy_forward_call: Kernel
    softmax_cross_entropy_backward_call: Kernel
    # src/_affine.pyx
    bias_add_inplace: Pair
    bias_gradient: Pair
    affine_forward_call: Kernel
    affine_backward_call: Kernel
    # src/_update.pyx
    sgd_update: Pair
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
    # src/_update.pyx: chapter 6's optimizers, one pass each
    momentum_update: Pair
    nesterov_update: Pair
    adagrad_update: Pair
    rmsprop_update: Pair
    adam_update: Pair
    # src/_regularization.pyx: BatchNormalization and Dropout
    batchnorm_forward_train: Pair
    batchnorm_forward_test: Pair
    batchnorm_backward: Pair
    dropout_forward_train: Pair
    dropout_scale: Pair
    dropout_backward: Pair


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
    found: dict[str, Any] = {"level": level}
    for field in dataclasses.fields(Kernels)[1:]:
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


def _select() -> Kernels:
    requested = os.environ.get("ZK_LAYERS_KERNELS", "").strip().lower()
    if requested and requested != "auto":
        return load(requested)
    return load(available_levels()[0])


KERNELS = _select()
