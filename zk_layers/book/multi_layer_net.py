"""The book's ``common/multi_layer_net.py``: :class:`zk_layers.MultiLayerNet`.

``MultiLayerNet(input_size, hidden_size_list, output_size, activation='relu',
weight_init_std='relu', weight_decay_lambda=0)``, on the compiled layers,
weights drawn with ``np.random.randn`` in the book's order.
"""
from __future__ import annotations

from collections import OrderedDict  # noqa: F401 (the book's module namespace)

import numpy as np  # noqa: F401

from ..nets import MultiLayerNet  # noqa: F401
from .gradient import numerical_gradient  # noqa: F401
