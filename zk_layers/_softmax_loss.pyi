# Type stubs for zk_layers._softmax_loss, compiled once from
# src/_softmax_loss.pyx (the glue; its kernels are src/_cpu_softmax_loss.pyx,
# built per instruction set).  Conventions: see _activations.pyi.

import numpy as np
from numpy.typing import NDArray

def bind(kernels: object, policy: object) -> None: ...

# Index of the first label outside [0, n_classes), or -1 if none is.
def first_invalid_label(t: NDArray[np.intp], n_classes: int) -> int: ...

# (mean loss, y, the layer's own intp labels); None when the arrays are not
# ready (and then nothing was written).  ``y``: the last forward's y, handed
# back by the layer, written over when it is an owning, writeable,
# C-contiguous array of x's dtype and shape that does not overlap x.
def softmax_loss_forward(
    x: object, t: object, eps: float, y: np.ndarray | None = None
) -> tuple[float, np.ndarray, NDArray[np.intp]] | None: ...

# dx for a Python int or float dout and the shape of forward's y; None when
# the arrays are not ready.
def softmax_loss_backward(y: object, labels: object, dout: object, y_shape: object) -> np.ndarray | None: ...
