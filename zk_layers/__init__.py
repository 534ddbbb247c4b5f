"""zk_layers: the layers of chapter 5 of Deep Learning from Scratch, fast.

The default classes run compiled Cython/OpenMP kernels; the same classes in
plain NumPy, written like the book, live in :mod:`zk_layers.reference`::

    import zk_layers as zk
    relu = zk.Relu()
    y = relu.forward(x)
    dx = relu.backward(dy)

    zk.reference.Relu()        # the NumPy oracle, same API
"""
import os as _os

# GNU OpenMP's worker threads spin for a while after each parallel region.
# Next to OpenBLAS's own spinning threads on a machine with few cores they
# take the cores from each other (measured: docs/performance.md).  Unless the
# user chose a policy, libgomp is started with the passive one: idle threads
# sleep at once.  The variable is set only while our compiled modules load
# libgomp (it reads it then) and removed again, so the user's environment and
# child processes are untouched; if another library loaded libgomp first,
# its setting stands.  show_config() reports which case applies.


def _openmp_runtime_already_loaded() -> bool:
    try:
        with open("/proc/self/maps") as maps:
            return any("libgomp" in line or "libomp" in line for line in maps)
    except OSError:  # not Linux: assume not loaded yet
        return False


_PASSIVE_WAIT_SET = not any(
    k in _os.environ for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
) and not _openmp_runtime_already_loaded()
if _PASSIVE_WAIT_SET:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
try:
    from . import _platform  # noqa: F401  (the compiled core)
except ImportError as exc:  # pragma: no cover - only in an unbuilt source tree
    raise ImportError(
        "zk_layers' compiled kernels are missing: install the package with "
        "`pip install .` (or build in place with `python setup.py build_ext "
        "--inplace`) instead of importing it from an unbuilt source tree"
    ) from exc
finally:
    if _PASSIVE_WAIT_SET:
        del _os.environ["OMP_WAIT_POLICY"]

from . import reference, shopping
from ._config import show_config
from ._threads import get_num_threads, limit_threads, set_num_threads
from ._validate import ForwardNotCalledError
from ._version import __version__
from .convnet import SimpleConvNet
from .convolution import Convolution, Pooling, col2im, im2col
from .datasets import load_digits, load_mnist
from .deepconvnet import DeepConvNet
from .embedding import Embedding
from .gradient import GradientComparison, gradient_check, numerical_gradient
from .layers import AddLayer, Affine, MulLayer, Relu, Sigmoid, SoftmaxWithLoss
from .nets import MultiLayerNet, MultiLayerNetExtend, TwoLayerNet
from .optimizers import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from .regularization import BatchNormalization, Dropout
from .train import TrainResult, train, train_convnet, train_deepconvnet
from .word2vec import CBOW

__all__ = [
    "__version__",
    "MulLayer",
    "AddLayer",
    "Relu",
    "Sigmoid",
    "Affine",
    "SoftmaxWithLoss",
    "Convolution",
    "Pooling",
    "im2col",
    "col2im",
    "Embedding",
    "CBOW",
    "SimpleConvNet",
    "DeepConvNet",
    "reference",
    "shopping",
    "numerical_gradient",
    "gradient_check",
    "GradientComparison",
    "ForwardNotCalledError",
    "get_num_threads",
    "set_num_threads",
    "limit_threads",
    "show_config",
    "TwoLayerNet",
    "MultiLayerNet",
    "MultiLayerNetExtend",
    "BatchNormalization",
    "Dropout",
    "Nesterov",
    "AdaGrad",
    "RMSprop",
    "SGD",
    "Momentum",
    "Adam",
    "train",
    "train_convnet",
    "train_deepconvnet",
    "TrainResult",
    "load_digits",
    "load_mnist",
]
