"""The book's ``common`` package, module for module, on zk_layers' compiled core.

『ゼロから作るDeep Learning』 keeps its shared code in ``common/``; this
package has the same modules with the same names, signatures, attributes
and behaviour, so that the book's scripts run on it unchanged::

    zk_layers.book.layers                  Relu, Sigmoid, Affine, SoftmaxWithLoss,
                                           Dropout, BatchNormalization,
                                           Convolution, Pooling (+ the functions)
    zk_layers.book.functions               the book's 10 functions
    zk_layers.book.gradient                numerical_gradient (+ the 1-D and 2-D forms)
    zk_layers.book.optimizer               SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam
    zk_layers.book.multi_layer_net         MultiLayerNet
    zk_layers.book.multi_layer_net_extend  MultiLayerNetExtend
    zk_layers.book.trainer                 Trainer
    zk_layers.book.util                    smooth_curve, shuffle_dataset,
                                           conv_output_size, im2col, col2im
    zk_layers.book.deep_convnet            DeepConvNet (chapter 8; not in common/)

Random draws (initial weights, Dropout masks, minibatches, shuffles) come
from NumPy's global generator in the book's order, so a script seeded with
``np.random.seed(N)`` prints the book's numbers.

``zk-layers book run SCRIPT`` (or ``python -m zk_layers.book run SCRIPT``)
runs one of the book's scripts with ``common`` served from here;
``zk-layers book check BOOK_DIR`` compares every script of chapters 5-8
both ways.  See :mod:`zk_layers.book._run` and :mod:`zk_layers.book._check`.
"""
from __future__ import annotations

# The book's common/__init__.py is empty: importing the package imports
# nothing else.  The submodules are imported on use, as in the book.
