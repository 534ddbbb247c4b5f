# Type stubs for zk_layers._update, compiled from src/_update.pyx (also built
# as _update_avx2 and _update_avx512).  Conventions: see _activations.pyi.

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_Float = TypeVar("_Float", np.float32, np.float64)

# param -= lr * grad, in place, in one pass (param and grad do not overlap)
def sgd_update(param: NDArray[_Float], grad: NDArray[_Float], lr: float, n_threads: int) -> None: ...
