"""The benchmark suite: zk_layers against the book's plain NumPy code (and PyTorch).

The baseline of every ratio is :mod:`zk_layers.baseline`, the book's
chapter-5 code written in its style ("book" in the report), not the
validated oracle :mod:`zk_layers.reference`, whose checks cost microseconds
that the book does not pay; the oracle's times are shown for information
("oracle").  Rows compare like with like:

``book-loop``
    The loop body of the book's ``ch05/train_neuralnet.py`` (mini-batch of
    100 drawn at random, gradient, ``params[key] -= 0.1 * grad[key]``,
    loss) on MNIST from ``$ZK_LAYERS_MNIST_DIR`` or, without it, the
    embedded digits upscaled to 28x28; float32 images as the book's loader
    gives them, one-hot labels, float64 weights.  The book's net with its
    own layers against the same net code with zk_layers' layers.  First in
    the report: it is what a reader of the book runs.
layers (relu, sigmoid, affine, softmax)
    forward, backward and forward+backward of each layer; ``forward(out=)``
    (relu and sigmoid at mid and large sizes) against NumPy's own ``out=``
    ufunc path, not against an allocating one.
``step``
    One training step of the 784-H-10 net.  "book net, our layers": the
    book's TwoLayerNet code and update loop with zk_layers' layers swapped
    in (the same work) against the book's.  "zk.TwoLayerNet":
    zk_layers.TwoLayerNet with zk.SGD against the book's, which does more:
    the package's net skips the first layer's dx and updates in one pass.
``convnet-step`` (``--ops`` or ``--full``)
    One step of the book's chapter-7 ``SimpleConvNet`` (conv 30 filters
    5x5 - relu - 2x2 max-pool - affine 100 - relu - affine 10, batch 100,
    gradient + the book's Adam, as in ``ch07/train_convnet.py``) on the
    book-loop's images as 1x28x28, float32 images with float64 weights:
    the book's net on its own layers against the same net code on
    zk_layers' layers; zk_layers.SimpleConvNet + zk.Adam against the book's
    (it skips Conv1's dx); and zk_layers.SimpleConvNet in float32.
``embedding``, ``negsampling`` (``--ops`` or ``--full``)
    The second volume's Embedding and ch04's NegativeSamplingLoss (W of
    10,000 x 100 float32, the batch from ``--sizes``), float32 as the book:
    its classes (:mod:`zk_layers.baseline2`) against zk_layers.book2's.
``cbow-step`` (``--ops`` or ``--full``)
    One step of the book's ch04 CBOW (V 10,000, hidden 100, window 5,
    batch 100, ``remove_duplicate`` and Adam) on the Penn Treebank from
    ``$ZK_LAYERS_PTB_DIR`` or a Zipf sample: the book's model on its layers
    against the same model on zk_layers.book2 (what ``zk-layers book run``
    runs), and against zk.CBOW + zk.Adam.
``conv``, ``pool`` (``--ops`` or ``--full``)
    forward, backward and forward+backward of Convolution (100 images
    1x28x28, 30 filters 5x5) and Pooling (2x2, stride 2, on 100x30x24x24),
    the book's shapes whatever ``--sizes`` says, against the book's
    im2col-based layers.

Protocol (the team's, see docs/performance.md): one process; the implementations of
one case run interleaved (A B C A B C ...) after a warm-up; each sample is
a loop of calls lasting about ``sample_ms`` with the garbage collector off;
medians and interquartile ranges of many samples; ratios book/fast and
torch/fast.  Every implementation gets the same thread budget, BLAS
included (threadpoolctl), and the report names the machine, the BLAS kernel
that ran and the OMP_*/OPENBLAS_* variables.

Used by ``zk-layers bench`` and by the scripts in ``benchmarks/``.  The
package: ``_common`` (ops, sizes, notes, ``Case``), ``_timing``,
``_workloads``, ``_torch``, ``_driver`` (``run``), ``_report`` and ``_cli``.
"""
from __future__ import annotations

from ._cli import add_arguments, main, run_from_args
from ._common import (
    BOOK_LOOP_MODE,
    BOOK_NET_MODE,
    CBOW_BOOK_NET_MODE,
    CBOW_PACKAGE_MODE,
    CONV_OPS,
    CONV_SHAPES,
    CONVNET32_MODE,
    CONVNET_MODE,
    FRESH_MODE,
    MNIST_ENV,
    MODES,
    NOTES,
    OPS,
    PACKAGE_NET_MODE,
    PTB_ENV,
    QUICK_OPS,
    QUICK_SIZES,
    SIZE_GROUPS,
    SIZES,
    W2V_OPS,
    Case,
    note_for,
)
from ._driver import run
from ._report import COLUMNS, PEER_NAMES, format_table, plot_ratios
from ._timing import compare, cpu_model, measure_bandwidth, pinned_to_one_core
from ._workloads import book_loop_data, convnet_step_data, w2v_corpus

__all__ = [
    "BOOK_LOOP_MODE", "BOOK_NET_MODE", "CBOW_BOOK_NET_MODE", "CBOW_PACKAGE_MODE", "PTB_ENV", "W2V_OPS",
    "w2v_corpus", "CONV_OPS", "CONV_SHAPES", "CONVNET32_MODE", "CONVNET_MODE",
    "FRESH_MODE", "MNIST_ENV", "MODES", "NOTES", "OPS", "PACKAGE_NET_MODE", "QUICK_OPS", "QUICK_SIZES", "SIZE_GROUPS",
    "SIZES", "Case", "note_for", "run", "COLUMNS", "PEER_NAMES", "format_table", "plot_ratios", "compare",
    "measure_bandwidth", "pinned_to_one_core", "cpu_model", "book_loop_data", "convnet_step_data", "add_arguments",
    "main", "run_from_args",
]
