# Type stubs for zk_layers._activations, compiled once from src/_activations.pyx
# (the glue; its kernels are src/_cpu_activations.pyx, built per instruction set).
#
# Each entry point is the one compiled path of a layer method: it takes the
# layer's arrays as they are when they are ready for the kernels (exact
# float32/float64 ndarrays in native byte order, contiguous, all in one memory
# order and of one shape; given outputs may be subclasses and must be
# writeable) and returns None, doing nothing, when they are not.  Outputs not
# given are allocated in the input's memory order.

import numpy as np

def bind(kernels: object, policy: object) -> None: ...

# mask = x <= 0; out = 0 where mask else x
def relu_forward(x: object, out: np.ndarray | None = None,
                 mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None: ...

# dx = 0 where mask else dout
def relu_backward(dout: object, mask: object, out: np.ndarray | None = None) -> np.ndarray | None: ...

# out = 1 / (1 + exp(-x))
def sigmoid_forward(x: object, out: np.ndarray | None = None,
                    kept: np.ndarray | None = None) -> np.ndarray | None: ...

# dx = dout * (1 - out) * out
def sigmoid_backward(dout: object, y: object, out: np.ndarray | None = None) -> np.ndarray | None: ...
