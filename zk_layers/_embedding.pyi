# Type stubs for zk_layers._embedding, compiled once from src/_embedding.pyx
# (the glue; its kernels are src/_cpu_embedding.pyx, built per instruction
# set).  Every entry point returns None, doing nothing, when its arrays are
# not ready: exact C-contiguous ndarrays, W and dW (V, D) of one float dtype,
# idx intp with every index in [0, V), dout (*idx.shape, D).

import numpy as np

def bind(kernels: object, policy: object) -> None: ...

# out = W[idx], shape (*idx.shape, D)
def embedding_forward(W: np.ndarray, idx: np.ndarray) -> np.ndarray | None: ...

# dW[...] = 0; np.add.at(dW, idx, dout), in place; True when done
def embedding_backward(dout: np.ndarray, idx: np.ndarray, dW: np.ndarray) -> bool | None: ...
