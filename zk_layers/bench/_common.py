"""What the benchmark's parts share: ops, sizes, modes, the book's settings, row notes, one case."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

OPS = ("book-loop", "convnet-step", "relu", "sigmoid", "affine", "softmax", "step", "conv", "pool",
       "embedding", "negsampling", "cbow-step")

# Without --ops or --full: the chapter-5 ops (about a minute); the chapter-7
# ones take as long again, and only when asked for.
QUICK_OPS = ("book-loop", "relu", "sigmoid", "affine", "softmax", "step")

# Ops that run at their own (the book's) shapes, whatever --sizes says.
CONV_OPS = ("conv", "pool")

# The second volume's chapter 4: W of W2V_VOCAB x W2V_HIDDEN float32 (the
# book's), the batch from --sizes (embedding, negsampling); the CBOW step at
# the book's batch of 100 and window of 5 (cbow-step), on the Penn Treebank
# from $ZK_LAYERS_PTB_DIR or else a Zipf sample of the same vocabulary.
W2V_OPS = ("embedding", "negsampling")
W2V_VOCAB, W2V_HIDDEN, W2V_WINDOW = 10000, 100, 5
PTB_ENV = "ZK_LAYERS_PTB_DIR"
CBOW_BOOK_NET_MODE = "book net, our layers"
CBOW_PACKAGE_MODE = "zk.CBOW"

CONV_SHAPES: dict[str, dict[str, int]] = {
    # ch07: 100 MNIST images, 30 filters 5x5, stride 1, no padding ...
    "conv": {"N": 100, "C": 1, "H": 28, "W": 28, "FN": 30, "FH": 5, "FW": 5, "stride": 1, "pad": 0},
    # ... and the 2x2 max-pooling of its 30 maps of 24x24.
    "pool": {"N": 100, "C": 30, "H": 24, "W": 24, "FH": 2, "FW": 2, "stride": 2, "pad": 0},
}

MODES = ("forward", "backward", "forward+backward")
# Relu and Sigmoid also run forward+backward on a layer made for the call:
# every array fresh, where "forward+backward" calls one layer again and again.
FRESH_MODE = "forward+backward, fresh layer"

SIZES: dict[str, dict[str, Any]] = {
    # N: batch; D -> H -> C: input, hidden, classes.  Elementwise ops run on
    # (N, H), Affine on (N, D) @ (D, H), the loss on (N, C).
    "n1": {"N": 1, "D": 784, "H": 50, "C": 10},
    "n8": {"N": 8, "D": 784, "H": 50, "C": 10},
    "book": {"N": 100, "D": 784, "H": 50, "C": 10},
    "mid": {"N": 1000, "D": 784, "H": 1000, "C": 10},
    # Large: 8192x4096 elementwise, 8192x1000 softmax-loss, 4096^3 Affine.
    "large": {"N": 8192, "D": 4096, "H": 4096, "C": 1000, "affine_N": 4096},
}

SIZE_GROUPS = {"tiny": ("n1", "n8"), "book": ("book",), "mid": ("mid",), "large": ("large",)}

QUICK_SIZES = ("book", "mid")

# Sizes with forward(out=) rows: where a reused buffer saves page faults.
OUT_SIZES = ("mid", "large")

# The book-loop workload: ch05/train_neuralnet.py's settings.
BOOK_BATCH_SIZE, BOOK_HIDDEN_SIZE, BOOK_LEARNING_RATE, BOOK_WEIGHT_INIT_STD = 100, 50, 0.1, 0.01

BOOK_LOOP_MODE = "train_neuralnet body"

BOOK_NET_MODE = "book net, our layers"

PACKAGE_NET_MODE = "zk.TwoLayerNet"

CONVNET_MODE = "zk.SimpleConvNet"

CONVNET32_MODE = "zk.SimpleConvNet float32"

CONVNET_LEARNING_RATE = 0.001  # ch07/train_convnet.py's Adam

MNIST_ENV = "ZK_LAYERS_MNIST_DIR"

NOTES = {
    ("book-loop", BOOK_LOOP_MODE):
        "one iteration of the book's ch05/train_neuralnet.py loop (batch of 100 by np.random.choice, "
        "gradient, params[key] -= 0.1 * grad[key], loss) on {data}; x float32 as the book's loader "
        "gives it, one-hot t, W float64 (dtype 'mixed'); book: the book's TwoLayerNet and layers, "
        "fast: the same net code with zk_layers.layers swapped in",
    ("step", BOOK_NET_MODE):
        "the book's TwoLayerNet code and update loop with zk_layers.layers swapped in, against the "
        "book's layers: the same work (first layer's dx computed)",
    ("step", PACKAGE_NET_MODE):
        "zk_layers.TwoLayerNet + zk.SGD against the book's net: it skips the first layer's dx and "
        "updates each parameter in one compiled pass, so it does less work than the book",
    ("convnet-step", BOOK_NET_MODE):
        "one step of the book's ch07 SimpleConvNet (conv 30 filters 5x5 - relu - 2x2 max-pool - affine 100 - "
        "relu - affine 10; batch of 100 by np.random.choice, gradient, the book's Adam lr 0.001) on {data} as "
        "1x28x28, float32 images with float64 weights (dtype 'mixed'); book: the book's net, layers and Adam; "
        "fast: the same net code and Adam on zk_layers' layers (the same work, Conv1's dx included)",
    ("convnet-step", CONVNET_MODE):
        "zk_layers.SimpleConvNet + zk.Adam against the book's step: it skips Conv1's dx (need_dx=False), widens "
        "the float32 images inside the compiled im2col and updates each parameter in one compiled pass, so it "
        "does less work than the book; torch: PyTorch eager, the same net, F.cross_entropy, torch.optim.Adam, "
        "float64",
    ("convnet-step", CONVNET32_MODE):
        "zk_layers.SimpleConvNet(dtype=float32) + zk.Adam: float32 weights and arithmetic, against the book's "
        "float64 step (less precision, not the same work); torch: PyTorch eager in float32",
    ("conv", "*"):
        "Convolution at the book's shapes (100 images 1x28x28, 30 filters 5x5, stride 1, pad 0); book: im2col, "
        "np.dot, col2im in float64 as the book's im2col makes them; fast: zk.Convolution (dx computed), one "
        "layer called again and again, so it writes its patches over the last call's buffers while the book "
        "allocates them on every call; torch: F.conv2d (forward+backward by autograd)",
    ("softmax", "*"):
        "SoftmaxWithLoss, one layer called again and again: the fast layer writes y over the last forward's y "
        "(it holds the only reference) while the book allocates y on every call",
    ("pool", "*"):
        "2x2 max-pooling, stride 2, of 100x30x24x24 maps (the book's Pool1); book: im2col, argmax, col2im; fast: "
        "zk.Pooling (one pass, no im2col); torch: F.max_pool2d (forward+backward by autograd)",
    ("embedding", "*"):
        "the second volume's Embedding, W 10,000 x 100 float32; book: W[idx], then dW[...] = 0 and np.add.at; "
        "fast: zk_layers.book2's, which clears only the rows it wrote last (its gradient is read-only to "
        "callers); the ids drawn uniformly",
    ("negsampling", "*"):
        "ch04's NegativeSamplingLoss (5 negative words per target, power 0.75, W 10,000 x 100 float32), "
        "forward and backward; book: the book's classes, one np.random.choice(replace=False, p=p) per row; "
        "fast: zk_layers.book2's, the same draws from the same generator",
    ("cbow-step", CBOW_BOOK_NET_MODE):
        "one step of the book's ch04 CBOW (V 10,000, hidden 100, window 5, batch 100: forward, backward, "
        "remove_duplicate, Adam) on {data}; book: the book's model, layers, Adam; fast: the same model code on "
        "zk_layers.book2's layers, trainer and Adam (what `zk-layers book run ch04/train.py` runs): the same "
        "losses, bit for bit",
    ("cbow-step", CBOW_PACKAGE_MODE):
        "zk.CBOW + zk.Adam against the book's step: the same model, draws and numbers, bit for bit, its "
        "gradients summed over the touched rows only",
    ("*", FRESH_MODE):
        "a fresh layer per call (Relu() or Sigmoid(), forward, backward), so every output and mask is a new "
        "array; the row above it, forward+backward, calls one layer again and again; the peers keep no state",
    ("*", "forward(out=)"):
        "book: NumPy's own out= path into reused buffers (relu: np.less_equal into a mask buffer and "
        "np.maximum; sigmoid: np.negative, np.exp, np.add 1, np.reciprocal in place)",
}

@dataclass
class Case:
    op: str
    size: str
    dtype: str
    threads: int
    mode: str
    shape: str
    medians_s: dict[str, float] = field(default_factory=dict)
    iqrs_s: dict[str, float] = field(default_factory=dict)
    bytes_moved: int = 0

    def ratio(self, other: str) -> float | None:
        if other in self.medians_s and "fast" in self.medians_s:
            return self.medians_s[other] / self.medians_s["fast"]
        return None

def note_for(op: str, mode: str) -> str | None:
    """The footnote of a row, if it has one (with ``{data}`` unfilled)."""
    return NOTES.get((op, mode)) or NOTES.get((op, "*")) or NOTES.get(("*", mode))

def _conv_arrays(op: str, dtype: np.dtype, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The inputs of a conv or pool case at its CONV_SHAPES: x, dout and, for
    conv, W (std 0.01, as the book draws it) and b; the same draws for every
    contender built from the same seed."""
    shape = CONV_SHAPES[op]
    n, c, h, w, fh, fw = shape["N"], shape["C"], shape["H"], shape["W"], shape["FH"], shape["FW"]
    out_h = (h + 2 * shape["pad"] - fh) // shape["stride"] + 1
    out_w = (w + 2 * shape["pad"] - fw) // shape["stride"] + 1
    channels = shape.get("FN", c)
    arrays = {"x": rng.standard_normal((n, c, h, w)).astype(dtype),
              "dout": rng.standard_normal((n, channels, out_h, out_w)).astype(dtype)}
    if op == "conv":
        arrays["W"] = (rng.standard_normal((shape["FN"], c, fh, fw)) * 0.01).astype(dtype)
        arrays["b"] = (rng.standard_normal(shape["FN"]) * 0.01).astype(dtype)
    return arrays
