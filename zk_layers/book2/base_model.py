"""The second volume's ``common/base_model.py``: BaseModel, whose
``save_params``/``load_params`` write and read the book's pickles (a list
of the parameters as float16 arrays; float32 in memory).

Reading runs no code from the file: the pickle is read by an unpickler that
builds NumPy arrays and nothing else (:func:`read_params`; the book's
``pickle.load`` would run whatever the file names).  A file name ending in
``.npz`` is read and written as NumPy's archive instead, without pickle
(``np.load(allow_pickle=False)``), the arrays in order, float16 as in the
book's files.

``load_params`` checks what it reads before writing anything: a list of
arrays with the model's number of parameters and each parameter's shape,
else ValueError naming the file and the first mismatch.  The book would
copy what fits and fail part way.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from .np import GPU  # noqa: F401 (the book's module namespace)

__all__ = ["BaseModel", "read_params", "write_params", "np"]

# What a pickle of NumPy arrays names (NumPy 1 and 2, protocols 2-5): the
# unpickler of read_params finds these and refuses every other name.
_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("_codecs", "encode"): ("_codecs", "encode"),  # protocol 2's bytes
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        found = _ARRAY_GLOBALS.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refused {module}.{name}: only NumPy arrays are read")
        return getattr(__import__(found[0], fromlist=[found[1]]), found[1])


def read_params(file_name: str) -> list[np.ndarray]:
    """The arrays of a file that the book's ``save_params`` (a pickle) or
    :func:`write_params` (``.npz``) wrote, in order, without running code
    from it.  ValueError names the file when it holds anything else."""
    if file_name.endswith(".npz"):
        with np.load(file_name, allow_pickle=False) as archive:
            names = sorted(archive.files, key=lambda n: int(n[4:]) if n[4:].isdigit() else -1)
            if names != [f"arr_{i}" for i in range(len(names))]:
                raise ValueError(f"{file_name} does not hold arr_0, arr_1, ... (write_params' format)")
            return [archive[n] for n in names]
    with open(file_name, "rb") as f:
        try:
            loaded = _ArrayUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError) as error:
            raise ValueError(f"{file_name} is not a pickle of NumPy arrays: {error}") from None
    if not isinstance(loaded, (list, tuple)) or not all(isinstance(p, np.ndarray) for p in loaded):
        raise ValueError(f"{file_name} does not hold a list of arrays (the book's save_params format)")
    return list(loaded)


def write_params(file_name: str, params: Sequence[Any]) -> None:
    """The parameters as float16, in the book's pickle, or in NumPy's
    archive (``arr_0``, ``arr_1``, ...) when ``file_name`` ends in ``.npz``."""
    arrays = [np.asarray(p).astype(np.float16) for p in params]
    if file_name.endswith(".npz"):
        np.savez(file_name, *arrays)
        return
    with open(file_name, "wb") as f:
        pickle.dump(arrays, f)


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
        write_params(file_name, self.params)

    def load_params(self, file_name: str | None = None) -> None:
        if file_name is None:
            file_name = self.__class__.__name__ + '.pkl'
        if '/' in file_name:
            file_name = file_name.replace('/', os.sep)
        if not os.path.exists(file_name):
            raise OSError('No file: ' + file_name)
        loaded = read_params(file_name)
        if len(loaded) < len(self.params):
            raise ValueError(f"{file_name} holds {len(loaded)} arrays, but the model has "
                             f"{len(self.params)} parameters")
        for i, param in enumerate(self.params):
            if loaded[i].shape != param.shape:
                raise ValueError(f"{file_name}: array {i} has shape {loaded[i].shape}, but parameter {i} "
                                 f"of {type(self).__name__} has shape {param.shape}")
        for i, param in enumerate(self.params):
            param[...] = loaded[i].astype('f')
