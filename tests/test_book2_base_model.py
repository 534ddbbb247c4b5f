"""zk_layers.book2.base_model: the book's parameter files, read without running code."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from zk_layers.book2.base_model import BaseModel, read_params

BOOK2_DIR = os.environ.get("ZK_LAYERS_BOOK2_DIR")
needs_book = pytest.mark.skipif(
    not (BOOK2_DIR and os.path.isfile(os.path.join(BOOK2_DIR, "ch06", "Rnnlm.pkl"))),
    reason="set ZK_LAYERS_BOOK2_DIR to a checkout of the second volume (deep-learning-from-scratch-2)")


class Model(BaseModel):
    def __init__(self, rng):
        super().__init__()
        self.params = [rng.standard_normal((3, 4)).astype("f"), rng.standard_normal(4).astype("f")]
        self.grads = [np.zeros_like(p) for p in self.params]


@pytest.mark.parametrize("name", ["Model.pkl", "model.npz"])
def test_save_and_load_round_trip_in_float16(tmp_path, name):
    rng = np.random.default_rng(0)
    model, other = Model(rng), Model(rng)
    path = str(tmp_path / name)
    model.save_params(path)
    stored = read_params(path)
    assert [a.dtype for a in stored] == [np.float16, np.float16]  # the book's files: float16 on disk
    kept = other.params[0]
    other.load_params(path)
    assert other.params[0] is kept and kept.dtype == np.float32  # in place, float32 in memory
    for a, b in zip(other.params, model.params, strict=True):
        assert_array_equal(a, b.astype(np.float16).astype(np.float32))
    if name.endswith(".pkl"):
        with open(path, "rb") as f:
            assert all(np.array_equal(a, b) for a, b in zip(pickle.load(f), stored, strict=True))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickles_of_every_protocol_are_read(tmp_path, protocol):
    arrays = [np.arange(6, dtype=np.float16).reshape(2, 3), np.ones(3, np.float32)]
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=protocol))
    for a, b in zip(read_params(str(path)), arrays, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)


class _RunsCode:
    def __reduce__(self):
        return (os.path.join, ("ran", "code"))


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([np.zeros(2), _RunsCode()]))
    with open(path, "rb") as f:  # control: pickle.load runs what the file names
        assert pickle.load(f)[1] == os.path.join("ran", "code")  # noqa: S301
    with pytest.raises(ValueError, match=r"evil.pkl is not a pickle of NumPy arrays: refused .*join"):
        read_params(str(path))
    with pytest.raises(ValueError, match="not a pickle of NumPy arrays"):
        Model(np.random.default_rng(0)).load_params(str(path))


def test_what_does_not_fit_is_refused_before_anything_is_written(tmp_path):
    rng = np.random.default_rng(1)
    model = Model(rng)
    saved = [p.copy() for p in model.params]
    cases = {"short.pkl": [np.zeros((3, 4))], "shape.pkl": [np.zeros((3, 4)), np.zeros(5)],
             "dict.pkl": {"W": np.zeros(3)}}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(pickle.dumps(content))
    with pytest.raises(ValueError, match="holds 1 arrays, but the model has 2 parameters"):
        model.load_params(str(tmp_path / "short.pkl"))
    with pytest.raises(ValueError, match=r"array 1 has shape \(5,\), but parameter 1 of Model has shape \(4,\)"):
        model.load_params(str(tmp_path / "shape.pkl"))
    with pytest.raises(ValueError, match="does not hold a list of arrays"):
        model.load_params(str(tmp_path / "dict.pkl"))
    np.savez(tmp_path / "named.npz", W=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="does not hold arr_0, arr_1"):
        model.load_params(str(tmp_path / "named.npz"))
    with pytest.raises(OSError, match="No file"):
        model.load_params(str(tmp_path / "absent.pkl"))
    for a, b in zip(model.params, saved, strict=True):
        assert_array_equal(a, b)


@needs_book
@pytest.mark.parametrize("name", ["ch06/Rnnlm.pkl", "ch08/AttentionSeq2seq.pkl"])
def test_the_books_own_files_are_read_as_pickle_reads_them(name):
    path = os.path.join(BOOK2_DIR, name)
    with open(path, "rb") as f:
        expected = pickle.load(f)  # noqa: S301 (the book's own file, the oracle)
    found = read_params(path)
    assert len(found) == len(expected)
    for a, b in zip(found, expected, strict=True):
        assert a.dtype == b.dtype == np.float16 and np.array_equal(a, b, equal_nan=True)
