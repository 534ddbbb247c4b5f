"""The book's ``common/multi_layer_net_extend.py``: :class:`zk_layers.MultiLayerNetExtend`.

``MultiLayerNetExtend(input_size, hidden_size_list, output_size,
activation='relu', weight_init_std='relu', weight_decay_lambda=0,
use_dropout=False, dropout_ration=0.5, use_batchnorm=False)`` on the
compiled layers (BatchNormalization and Dropout included).
"""
from __future__ import annotations

from collections import OrderedDict  # noqa: F401 (the book's module namespace)

import numpy as np  # noqa: F401

from ..nets import MultiLayerNetExtend  # noqa: F401
from .gradient import numerical_gradient  # noqa: F401
