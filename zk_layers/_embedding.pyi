# Type stubs for zk_layers._embedding, compiled once from src/_embedding.pyx
# (the glue; its kernels are src/_cpu_embedding.pyx, built per instruction
# set).  Every entry point returns None, doing nothing, when its arrays are
# not ready: exact C-contiguous ndarrays, W and dW (V, D) of one float dtype,
# idx intp with every index in [0, V), dout (*idx.shape, D) of dW's dtype
# (or float64 into a float32 dW, added in float64 as np.add.at adds them).

import numpy as np

def bind(kernels: object, policy: object) -> None: ...

# out = W[idx], shape (*idx.shape, D)
def embedding_forward(W: np.ndarray, idx: np.ndarray) -> np.ndarray | None: ...

# dW[...] = 0; np.add.at(dW, idx, dout), in place; True when done
def embedding_backward(dout: np.ndarray, idx: np.ndarray, dW: np.ndarray) -> bool | None: ...

# the same for a dW known to be zero outside the rows old (intp): those and
# the rows of idx zeroed, then the rows added; whether a row written holds a
# -0.0 (float64 rows into float32 only), or None when not ready
def embedding_backward_kept(dout: np.ndarray, idx: np.ndarray, dW: np.ndarray,
                            old: np.ndarray) -> bool | None: ...

# np.random.choice(V, size, replace=False, p=p) per target t, with
# p = word_p.copy(); p[t] = 0; p /= p.sum(), drawn from bit_generator (the
# caller holds its lock) into out (int32, (len(target), size)); cdf is
# float64 scratch (rows >= 2, V); True when done
def unigram_negative_samples(word_p: np.ndarray, target: np.ndarray, size: int, out: np.ndarray,
                             cdf: np.ndarray, bit_generator: object) -> bool | None: ...
