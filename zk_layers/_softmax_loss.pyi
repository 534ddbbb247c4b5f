# Type stubs for zk_layers._softmax_loss, compiled from src/_softmax_loss.pyx
# (also built as _softmax_loss_avx2 and _softmax_loss_avx512).  Conventions:
# see _activations.pyi.  x, y, dx are (N, C); t and losses have N elements.

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

_Float = TypeVar("_Float", np.float32, np.float64)

# Fill y (softmax of x) and losses; return the sum of the per-sample losses.
def softmax_cross_entropy_forward(
    x: NDArray[_Float],
    t: NDArray[np.intp],
    y: NDArray[_Float],
    losses: NDArray[np.float64],
    eps: float,
    n_threads: int,
) -> float: ...

# Fill dx with (y - onehot(t)) * scale.
def softmax_cross_entropy_backward(
    y: NDArray[_Float], t: NDArray[np.intp], scale: float, dx: NDArray[_Float], n_threads: int
) -> None: ...

# Index of the first label outside [0, n_classes), or -1 if none is.
def first_invalid_label(t: NDArray[np.intp], n_classes: int) -> int: ...

# One-call entry points (see _activations.pyi): (mean loss, y, the layer's
# own intp labels) and dx, for a Python int or float dout and the shape of
# forward's y; None when the common case does not apply (and then nothing
# changed).  forward writes y over ``layer.y`` when the layer holds the only
# references (``y`` and the two slots of ``_y2d``) and it is a writeable
# C-contiguous array of x's dtype and shape that owns its data and does not
# overlap x; that y is then taken out of the layer (``y`` None, ``_y2d``
# (None, None)) until the layer saves the result.
def softmax_cross_entropy_forward_call(
    x: object, t: object, eps: float, grain: int, layer: object = None
) -> tuple[float, np.ndarray, NDArray[np.intp]] | None: ...
def softmax_cross_entropy_backward_call(
    y: object, labels: object, dout: object, y_shape: object, grain: int
) -> np.ndarray | None: ...
