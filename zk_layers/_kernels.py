"""Choose the kernel build for this CPU: AVX-512, AVX2 or the baseline.

setup.py builds every kernel module from one .pyx several times with
different vector extensions (see its docstring).  All builds compute
bitwise-identical results; they differ only in speed.  At import the best
build that the CPU supports, and that exists in this installation, is
chosen.  ``ZK_LAYERS_KERNELS=baseline|avx2|avx512`` asks for a particular
one (a level the CPU lacks is refused, never run: it would crash on an
illegal instruction).
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType, SimpleNamespace

from . import _platform

LEVELS = ("avx512", "avx2", "baseline")  # best first
_SUFFIX = {"avx512": "_avx512", "avx2": "_avx2", "baseline": ""}
_MODULES = ("activations", "softmax_loss", "affine", "update")


def cpu_supports(level: str) -> bool:
    if level == "avx512":
        return _platform.cpu_has_avx512()
    if level == "avx2":
        return _platform.cpu_has_avx2()
    return level == "baseline"


def _import(level: str) -> SimpleNamespace | None:
    """The kernels of one build, each as a (float32, float64) pair.

    Cython's fused functions pick their specialisation on every call by
    inspecting the buffers, which costs more than the work at N=1; the
    layers pick it once from the dtype they validated instead:
    ``kernels.relu_forward[x.itemsize == 8]``.
    """
    kernels = SimpleNamespace(level=level)
    for name in _MODULES:
        try:
            module: ModuleType = importlib.import_module(f"zk_layers._{name}{_SUFFIX[level]}")
        except ImportError:
            return None
        for attr in dir(module):
            function = getattr(module, attr)
            if hasattr(function, "__signatures__"):  # fused on `floating`
                setattr(kernels, attr, (function["float"], function["double"]))
            elif callable(function) and not attr.startswith("_"):
                setattr(kernels, attr, function)
    return kernels


def available_levels() -> list[str]:
    """Builds present in this installation that this CPU can run, best first."""
    return [level for level in LEVELS if cpu_supports(level) and _import(level) is not None]


def load(level: str) -> SimpleNamespace:
    """The kernels of one build (see ``_import``)."""
    if level not in LEVELS:
        raise ValueError(f"kernel level must be one of {', '.join(LEVELS)}, got {level!r}")
    if not cpu_supports(level):
        raise RuntimeError(f"this CPU does not support the {level} kernels")
    kernels = _import(level)
    if kernels is None:
        raise RuntimeError(f"the {level} kernels were not built in this installation")
    return kernels


def _select() -> SimpleNamespace:
    requested = os.environ.get("ZK_LAYERS_KERNELS", "").strip().lower()
    if requested and requested != "auto":
        return load(requested)
    return load(available_levels()[0])


selected = _select()
