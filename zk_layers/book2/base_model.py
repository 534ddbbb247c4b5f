"""The second volume's ``common/base_model.py``: BaseModel, whose
``save_params``/``load_params`` write and read the book's pickles (a list
of the parameters as float16 arrays; float32 in memory).

``load_params`` checks what it reads before writing anything: a list of
arrays with the model's number of parameters and each parameter's shape,
else ValueError naming the file and the first mismatch.  The book would
copy what fits and fail part way.  A pickle runs code when it is loaded:
load only files you trust, as with the book's.
"""
from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from .np import GPU  # noqa: F401 (the book's module namespace)

__all__ = ["BaseModel", "np"]


class BaseModel:
    """What the book's models share: ``params``, ``grads`` and the pickles."""

    def __init__(self) -> None:
        self.params: Any = None
        self.grads: Any = None

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError

    def backward(self, *args: Any) -> Any:
        raise NotImplementedError

    def save_params(self, file_name: str | None = None) -> None:
        if file_name is None:
            file_name = self.__class__.__name__ + '.pkl'
        params = [p.astype(np.float16) for p in self.params]
        with open(file_name, 'wb') as f:
            pickle.dump(params, f)

    def load_params(self, file_name: str | None = None) -> None:
        if file_name is None:
            file_name = self.__class__.__name__ + '.pkl'
        if '/' in file_name:
            file_name = file_name.replace('/', os.sep)
        if not os.path.exists(file_name):
            raise OSError('No file: ' + file_name)
        with open(file_name, 'rb') as f:
            loaded = pickle.load(f)  # noqa: S301 (the book's format; see the module docstring)
        if not isinstance(loaded, (list, tuple)) or not all(isinstance(p, np.ndarray) for p in loaded):
            raise ValueError(f"{file_name} does not hold a list of arrays (the book's save_params format)")
        if len(loaded) < len(self.params):
            raise ValueError(f"{file_name} holds {len(loaded)} arrays, but the model has "
                             f"{len(self.params)} parameters")
        for i, param in enumerate(self.params):
            if loaded[i].shape != param.shape:
                raise ValueError(f"{file_name}: array {i} has shape {loaded[i].shape}, but parameter {i} "
                                 f"of {type(self).__name__} has shape {param.shape}")
        for i, param in enumerate(self.params):
            param[...] = loaded[i].astype('f')
