"""zk_layers: the layers of chapter 5 of Deep Learning from Scratch, fast.

The default classes run compiled Cython/OpenMP kernels; the same classes in
plain NumPy, written like the book, live in :mod:`zk_layers.reference`::

    import zk_layers as zk
    relu = zk.Relu()
    y = relu.forward(x)
    dx = relu.backward(dy)

    zk.reference.Relu()        # the NumPy oracle, same API
"""
try:
    from . import _platform  # noqa: F401  (the compiled core)
except ImportError as exc:  # pragma: no cover - only in an unbuilt source tree
    raise ImportError(
        "zk_layers' compiled kernels are missing: install the package with "
        "`pip install .` (or build in place with `python setup.py build_ext "
        "--inplace`) instead of importing it from an unbuilt source tree"
    ) from exc

from . import reference
from ._config import show_config
from ._threads import get_num_threads, limit_threads, set_num_threads
from ._validate import ForwardNotCalledError
from ._version import __version__
from .gradient import GradientComparison, gradient_check, numerical_gradient
from .layers import AddLayer, Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss

__all__ = [
    "__version__",
    "MulLayer",
    "AddLayer",
    "Relu",
    "Sigmoid",
    "Affine",
    "SoftmaxWithLoss",
    "reference",
    "numerical_gradient",
    "gradient_check",
    "GradientComparison",
    "ForwardNotCalledError",
    "get_num_threads",
    "set_num_threads",
    "limit_threads",
    "show_config",
]
