# Type stubs for zk_layers._update, compiled from src/_update.pyx (also built
# as _update_avx2 and _update_avx512).  Conventions: see _activations.pyi.

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_Float = TypeVar("_Float", np.float32, np.float64)

# param -= lr * grad, in place, in one pass (param and grad do not overlap)
def sgd_update(param: NDArray[_Float], grad: NDArray[_Float], lr: float, n_threads: int) -> None: ...

# The book's chapter-6 optimizers, one pass each, state arrays updated in place
def momentum_update(param: NDArray[_Float], grad: NDArray[_Float], v: NDArray[_Float],
                    momentum: float, lr: float, n_threads: int) -> None: ...
def nesterov_update(param: NDArray[_Float], grad: NDArray[_Float], v: NDArray[_Float],
                    momentum: float, lr: float, n_threads: int) -> None: ...
def adagrad_update(param: NDArray[_Float], grad: NDArray[_Float], h: NDArray[_Float],
                   lr: float, eps: float, n_threads: int) -> None: ...
def rmsprop_update(param: NDArray[_Float], grad: NDArray[_Float], h: NDArray[_Float],
                   lr: float, decay_rate: float, eps: float, n_threads: int) -> None: ...
def adam_update(param: NDArray[_Float], grad: NDArray[_Float], m: NDArray[_Float], v: NDArray[_Float],
                lr_t: float, beta1: float, beta2: float, eps: float, n_threads: int) -> None: ...
