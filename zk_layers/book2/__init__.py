"""The second volume's ``common`` package, module for module, on zk_layers' compiled core.

『ゼロから作るDeep Learning ❷』 (oreilly-japan/deep-learning-from-scratch-2)
keeps its shared code in ``common/``; this package has the same modules with
the same names, classes, signatures and attributes, so that the book's
scripts of chapters 1-8 run on it unchanged::

    zk_layers.book2.config                   GPU (False; True is refused: CPU code)
    zk_layers.book2.np                       np (NumPy) and GPU
    zk_layers.book2.functions                sigmoid, relu, softmax, cross_entropy_error
    zk_layers.book2.layers                   MatMul, Affine, Softmax, SoftmaxWithLoss,
                                             Sigmoid, SigmoidWithLoss, Dropout, Embedding
    zk_layers.book2.time_layers              RNN, TimeRNN, LSTM, TimeLSTM, TimeEmbedding,
                                             TimeAffine, TimeSoftmaxWithLoss, TimeDropout,
                                             TimeBiLSTM, GRU, TimeGRU, ... (chapters 5-8)
    zk_layers.book2.optimizer                SGD, Momentum, Nesterov, AdaGrad, RMSprop,
                                             Adam, over lists of arrays
    zk_layers.book2.trainer                  Trainer, RnnlmTrainer, remove_duplicate
    zk_layers.book2.util                     preprocess, create_co_matrix, ppmi,
                                             create_contexts_target, most_similar, ...
    zk_layers.book2.base_model               BaseModel (the book's pickles)
    zk_layers.book2.negative_sampling_layer  EmbeddingDot, UnigramSampler,
                                             NegativeSamplingLoss (the book's ch04/)
    zk_layers.book2.attention_layer          WeightSum, AttentionWeight, Attention,
                                             TimeAttention (the book's ch08/)

As in the book, ``params`` and ``grads`` are lists of arrays, ``backward``
writes the gradients in place, optimizers take lists, and the scripts'
arrays are float32.  Random draws (initial weights, Dropout masks, negative
samples, shuffles) come from NumPy's global generator in the book's order,
so a seeded script prints the book's numbers (chapters 1-4 bit for bit;
the time layers of chapters 5-8 sum in another order, and agree to
rounding).
"""
from __future__ import annotations

# The book's common/__init__.py is empty: importing the package imports
# nothing else.  The submodules are imported on use, as in the book.
