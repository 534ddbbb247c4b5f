"""zk_layers.datasets: the shipped digits and MNIST read from local IDX files."""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import struct
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from conftest import run_python

from zk_layers import datasets
from zk_layers.datasets import load_digits, load_mnist, write_idx

DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
N_DIGITS, N_TRAIN, N_TEST = 1797, 1438, 359  # test = samples i with i % 5 == 4
MNIST_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def shipped_bytes() -> bytes:
    return (resources.files("zk_layers") / "data" / "digits.csv.gz").read_bytes()


@pytest.fixture(scope="module")
def raw_digits() -> np.ndarray:
    """The CSV read independently of the module under test: (1797, 65) int64."""
    text = gzip.decompress(shipped_bytes()).decode("ascii")
    return np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64)


@pytest.fixture
def fresh_cache():
    """Empty the digits cache around a test that feeds it corrupt data."""
    datasets._digits_raw.cache_clear()
    yield
    datasets._digits_raw.cache_clear()


# ---------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------

def test_digits_shapes_and_dtypes():
    (x_train, t_train), (x_test, t_test) = load_digits()
    assert x_train.shape == (N_TRAIN, 64) and x_test.shape == (N_TEST, 64)
    assert t_train.shape == (N_TRAIN,) and t_test.shape == (N_TEST,)
    assert x_train.dtype == x_test.dtype == np.float64
    assert t_train.dtype == t_test.dtype == np.int64
    for a in (x_train, t_train, x_test, t_test):
        assert a.flags.c_contiguous and a.flags.writeable


def test_digits_value_ranges():
    (x_train, t_train), (x_test, t_test) = load_digits()
    x = np.concatenate([x_train, x_test])
    t = np.concatenate([t_train, t_test])
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(x * 16, np.round(x * 16))  # sixteenths exactly
    assert set(np.unique(t)) == set(range(10))


def test_digits_split_rule(raw_digits):
    (x_train, t_train), (x_test, t_test) = load_digits(normalize=False)
    assert raw_digits.shape == (N_DIGITS, 65)
    test_rows = raw_digits[4::5]  # rows 4, 9, 14, ...
    train_rows = np.delete(raw_digits, np.s_[4::5], axis=0)
    assert len(test_rows) == N_TEST and len(train_rows) == N_TRAIN
    np.testing.assert_array_equal(x_test, test_rows[:, :64])
    np.testing.assert_array_equal(t_test, test_rows[:, 64])
    np.testing.assert_array_equal(x_train, train_rows[:, :64])
    np.testing.assert_array_equal(t_train, train_rows[:, 64])


def test_digits_split_is_deterministic():
    first, second = load_digits(), load_digits()
    for a, b in zip(first[0] + first[1], second[0] + second[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_digits_class_counts():
    (_, t_train), (_, t_test) = load_digits()
    counts = np.bincount(np.concatenate([t_train, t_test]), minlength=10)
    assert counts.sum() == N_DIGITS
    assert len(counts) == 10 and counts.min() >= 174 and counts.max() <= 183, counts


def test_digits_one_hot():
    (_, t_index), (_, t_index_test) = load_digits()
    (_, t_train), (_, t_test) = load_digits(one_hot_label=True, dtype=np.float32)
    for onehot, index in ((t_train, t_index), (t_test, t_index_test)):
        assert onehot.shape == (len(index), 10)
        assert onehot.dtype == np.float64  # documented: float64 whatever dtype
        assert set(np.unique(onehot)) == {0.0, 1.0}
        np.testing.assert_array_equal(onehot.sum(axis=1), 1.0)
        np.testing.assert_array_equal(onehot.argmax(axis=1), index)


def test_digits_flatten_false():
    (x_flat, _), (x_flat_test, _) = load_digits()
    (x_train, _), (x_test, _) = load_digits(flatten=False)
    assert x_train.shape == (N_TRAIN, 1, 8, 8) and x_test.shape == (N_TEST, 1, 8, 8)
    np.testing.assert_array_equal(x_train, x_flat.reshape(-1, 1, 8, 8))
    np.testing.assert_array_equal(x_test.reshape(N_TEST, 64), x_flat_test)


def test_digits_normalize_false():
    (x_norm, _), _ = load_digits()
    # dtype is documented as ignored without normalization.
    (x_train, t_train), (x_test, _) = load_digits(normalize=False, dtype=np.float32)
    assert x_train.dtype == x_test.dtype == np.uint8
    assert x_train.min() == 0 and x_train.max() == 16 and x_test.max() <= 16
    assert t_train.dtype == np.int64
    np.testing.assert_array_equal(x_train, x_norm * 16)


def test_digits_float32():
    (x64, _), (x64_test, _) = load_digits()
    (x32, _), (x32_test, _) = load_digits(dtype=np.float32)
    assert x32.dtype == x32_test.dtype == np.float32
    # Sixteenths are exact in float32, so the two agree exactly.
    np.testing.assert_array_equal(x32, x64)
    np.testing.assert_array_equal(x32_test, x64_test)
    (x, _), _ = load_digits(dtype="float32")
    assert x.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.complex128, "not-a-dtype"])
def test_digits_rejects_other_dtypes(dtype):
    with pytest.raises(ValueError, match="float32 or float64"):
        load_digits(dtype=dtype)


def test_digits_arrays_are_fresh():
    (x_train, t_train), (x_test, t_test) = load_digits()
    expected = [a.copy() for a in (x_train, t_train, x_test, t_test)]
    for a in (x_train, t_train, x_test, t_test):
        a[...] = 7
    (x_train2, t_train2), (x_test2, t_test2) = load_digits()
    for a, b in zip((x_train2, t_train2, x_test2, t_test2), expected, strict=True):
        np.testing.assert_array_equal(a, b)
    # Raw pixels (no float conversion) and the 4-D view must be copies too.
    (raw, labels), _ = load_digits(normalize=False, flatten=False)
    raw[...] = 99
    labels[...] = 99
    (raw2, labels2), _ = load_digits(normalize=False, flatten=False)
    assert raw2.max() == 16 and labels2.max() == 9
    cached_images, cached_labels = datasets._digits_raw()
    assert not np.shares_memory(raw2, cached_images)
    assert not np.shares_memory(labels2, cached_labels)


def test_digits_cache_is_read_only_and_reused():
    images, labels = datasets._digits_raw()
    assert datasets._digits_raw() is datasets._digits_raw()
    assert not images.flags.writeable and not labels.flags.writeable
    assert images.dtype == np.uint8 and images.shape == (N_DIGITS, 64)


def test_digits_file_sha256():
    assert hashlib.sha256(shipped_bytes()).hexdigest() == DIGITS_SHA256


def test_digits_attribution_shipped():
    readme = (resources.files("zk_layers") / "data" / "README.md").read_text(encoding="utf-8")
    for needed in ("digits.csv.gz", "CC BY 4.0", "UCI", "scikit-learn", "Alpaydin", "Kaynak",
                   DIGITS_SHA256):
        assert needed in readme, needed


# -- corrupt digits data ------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _shipped_lines() -> tuple[str, ...]:
    return tuple(gzip.decompress(shipped_bytes()).decode("ascii").splitlines())


def _csv_lines() -> list[str]:
    return list(_shipped_lines())


def _set_field(lines: list[str], row: int, col: int, value: str) -> list[str]:
    fields = lines[row].split(",")
    fields[col] = value
    return lines[:row] + [",".join(fields)] + lines[row + 1:]


CORRUPTIONS = {
    "row missing": lambda lines: lines[:-1],
    "row added": lambda lines: lines + [lines[0]],
    "extra column": lambda lines: [line + ",0" for line in lines],
    "pixel 17": lambda lines: _set_field(lines, 100, 30, "17"),
    "pixel -1": lambda lines: _set_field(lines, 5, 0, "-1"),
    "label 10": lambda lines: _set_field(lines, 1796, 64, "10"),
    "fraction": lambda lines: _set_field(lines, 3, 3, "1.5"),
    "nan": lambda lines: _set_field(lines, 3, 3, "nan"),
    "text": lambda lines: _set_field(lines, 3, 3, "x"),
    "ragged": lambda lines: lines[:10] + [lines[10] + ",1"] + lines[11:],
    "empty": lambda lines: [],
}


@pytest.mark.parametrize("corruption", CORRUPTIONS, ids=list(CORRUPTIONS))
@pytest.mark.parametrize("compress", [True, False], ids=["gz", "plain"])
def test_parse_digits_rejects_corrupt_data(corruption, compress):
    text = "\n".join(CORRUPTIONS[corruption](_csv_lines())) + "\n"
    data = text.encode("ascii")
    if compress:
        data = gzip.compress(data, compresslevel=1)  # fast; the level does not matter
    with pytest.raises(ValueError, match="zk_layers/data/digits.csv.gz"):
        datasets._parse_digits(data)


def test_parse_digits_rejects_broken_gzip():
    with pytest.raises(ValueError, match="digits.csv.gz.*decompress"):
        datasets._parse_digits(shipped_bytes()[:-100])


def test_parse_digits_accepts_the_shipped_file_and_paths(tmp_path, raw_digits):
    from_bytes = datasets._parse_digits(shipped_bytes())
    path = tmp_path / "copy.csv.gz"
    path.write_bytes(shipped_bytes())
    from_path = datasets._parse_digits(path)
    for images, labels in (from_bytes, from_path):
        assert images.dtype == np.uint8 and labels.dtype == np.int64
        np.testing.assert_array_equal(images, raw_digits[:, :64])
        np.testing.assert_array_equal(labels, raw_digits[:, 64])
    # Errors on a path name that path.
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="bad.csv"):
        datasets._parse_digits(bad)


def test_load_digits_verifies_the_shipped_file(monkeypatch, fresh_cache):
    lines = _set_field(_csv_lines(), 0, 64, "12")
    corrupt = gzip.compress(("\n".join(lines) + "\n").encode("ascii"))
    monkeypatch.setattr(datasets, "_read_digits_bytes", lambda: corrupt)
    with pytest.raises(ValueError, match=r"digits\.csv\.gz.*row 0 holds label 12"):
        load_digits()
    monkeypatch.undo()
    datasets._digits_raw.cache_clear()
    assert load_digits()[0][0].shape == (N_TRAIN, 64)  # and recovers from the real file


def test_missing_digits_resource(monkeypatch, fresh_cache):
    class Missing:
        def __truediv__(self, other):
            return self

        def read_bytes(self):
            raise FileNotFoundError("gone")

    monkeypatch.setattr(datasets.resources, "files", lambda package: Missing())
    with pytest.raises(FileNotFoundError, match="digits.csv.gz.*reinstall"):
        load_digits()


# ---------------------------------------------------------------------------
# MNIST from IDX files
# ---------------------------------------------------------------------------

@pytest.fixture
def mnist_arrays():
    """20 training and 7 test images of 28x28 random bytes, labels 0..9."""
    rng = np.random.default_rng(2024)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": np.arange(20, dtype=np.uint8) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 7, dtype=np.uint8),
    }


def write_mnist(directory: Path, arrays: dict, suffix: str = "") -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return {name: write_idx(directory / (name + suffix), arr) for name, arr in arrays.items()}


@pytest.fixture(params=["", ".gz"], ids=["plain", "gz"])
def suffix(request):
    return request.param


@pytest.fixture
def mnist_dir(tmp_path, mnist_arrays, suffix):
    directory = tmp_path / "mnist"
    write_mnist(directory, mnist_arrays, suffix)
    return directory


def check_mnist(result, arrays, *, normalized=True):
    (x_train, t_train), (x_test, t_test) = result
    for x, t, prefix in ((x_train, t_train, "train"), (x_test, t_test, "t10k")):
        images = arrays[f"{prefix}-images-idx3-ubyte"]
        labels = arrays[f"{prefix}-labels-idx1-ubyte"]
        assert x.shape == (len(images), 784) and t.shape == (len(labels),)
        assert t.dtype == np.int64
        np.testing.assert_array_equal(t, labels)
        if normalized:
            assert x.dtype == np.float64 and 0.0 <= x.min() and x.max() <= 1.0
            np.testing.assert_array_equal(np.rint(x * 255).astype(np.uint8), images.reshape(-1, 784))
        else:
            assert x.dtype == np.uint8
            np.testing.assert_array_equal(x, images.reshape(-1, 784))


def test_mnist_from_argument(mnist_dir, mnist_arrays, monkeypatch):
    monkeypatch.delenv("ZK_LAYERS_MNIST_DIR", raising=False)
    check_mnist(load_mnist(mnist_dir), mnist_arrays)
    check_mnist(load_mnist(str(mnist_dir)), mnist_arrays)
    check_mnist(load_mnist(mnist_dir, normalize=False), mnist_arrays, normalized=False)


def test_mnist_from_environment(mnist_dir, mnist_arrays, monkeypatch):
    monkeypatch.setenv("ZK_LAYERS_MNIST_DIR", str(mnist_dir))
    check_mnist(load_mnist(), mnist_arrays)


def test_mnist_argument_wins_over_environment(mnist_dir, mnist_arrays, monkeypatch, tmp_path):
    monkeypatch.setenv("ZK_LAYERS_MNIST_DIR", str(tmp_path / "nowhere"))
    check_mnist(load_mnist(mnist_dir), mnist_arrays)


def test_mnist_options(mnist_dir, mnist_arrays):
    (x, t), (x_test, t_test) = load_mnist(mnist_dir, flatten=False, one_hot_label=True,
                                          dtype=np.float32)
    assert x.shape == (20, 1, 28, 28) and x_test.shape == (7, 1, 28, 28)
    assert x.dtype == np.float32
    images = mnist_arrays["train-images-idx3-ubyte"]
    # The book's float32 path: astype(float32) then /= 255.0.
    np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / np.float32(255))
    assert t.shape == (20, 10) and t_test.shape == (7, 10) and t.dtype == np.float64
    np.testing.assert_array_equal(t.sum(axis=1), 1.0)
    np.testing.assert_array_equal(t.argmax(axis=1), mnist_arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(t_test.argmax(axis=1), mnist_arrays["t10k-labels-idx1-ubyte"])


def test_mnist_arrays_are_fresh(mnist_dir):
    (x, t), _ = load_mnist(mnist_dir, normalize=False)
    assert x.flags.writeable and t.flags.writeable
    expected = x.copy()
    x[...] = 0
    (x2, _), _ = load_mnist(mnist_dir, normalize=False)
    np.testing.assert_array_equal(x2, expected)


def test_mnist_prefers_uncompressed(tmp_path, mnist_arrays):
    write_mnist(tmp_path, mnist_arrays)
    other = {name: (255 - arr if "images" in name else (arr + 1) % 10)
             for name, arr in mnist_arrays.items()}
    write_mnist(tmp_path, other, ".gz")
    check_mnist(load_mnist(tmp_path), mnist_arrays)
    # Remove one plain file: its .gz twin is read instead.
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    (_, _), (_, t_test) = load_mnist(tmp_path)
    np.testing.assert_array_equal(t_test, other["t10k-labels-idx1-ubyte"])


@pytest.mark.parametrize("dtype", [np.int64, np.float16])
def test_mnist_rejects_other_dtypes(mnist_dir, dtype):
    with pytest.raises(ValueError, match="float32 or float64"):
        load_mnist(mnist_dir, dtype=dtype)


# -- MNIST errors: each names the file ----------------------------------------

def test_mnist_no_directory(monkeypatch):
    monkeypatch.delenv("ZK_LAYERS_MNIST_DIR", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        load_mnist()
    message = str(info.value)
    assert "ZK_LAYERS_MNIST_DIR" in message and "download" in message
    for name in MNIST_NAMES:
        assert name in message
    monkeypatch.setenv("ZK_LAYERS_MNIST_DIR", "")  # empty counts as unset
    with pytest.raises(FileNotFoundError, match="ZK_LAYERS_MNIST_DIR"):
        load_mnist()


def test_mnist_directory_does_not_exist(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(missing)
    assert str(missing) in str(info.value)
    monkeypatch.setenv("ZK_LAYERS_MNIST_DIR", str(missing))
    with pytest.raises(FileNotFoundError) as info:
        load_mnist()
    assert str(missing) in str(info.value) and "ZK_LAYERS_MNIST_DIR" in str(info.value)


def test_mnist_missing_labels_file(mnist_dir, suffix):
    (mnist_dir / ("train-labels-idx1-ubyte" + suffix)).unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(mnist_dir)
    assert "train-labels-idx1-ubyte" in str(info.value)
    assert str(mnist_dir) in str(info.value)


def test_mnist_wrong_magic_swapped_files(tmp_path, mnist_arrays):
    swapped = dict(mnist_arrays)
    swapped["train-images-idx3-ubyte"] = mnist_arrays["train-labels-idx1-ubyte"]
    swapped["train-labels-idx1-ubyte"] = mnist_arrays["train-images-idx3-ubyte"]
    paths = write_mnist(tmp_path, swapped)
    with pytest.raises(ValueError) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert str(paths["train-images-idx3-ubyte"]) in message
    assert "2051" in message and "2049" in message and "swapped" in message


def _rewrite(path: Path, change) -> None:
    """Apply ``change`` to the uncompressed bytes of ``path``, keeping its compression."""
    gz = path.name.endswith(".gz")
    data = path.read_bytes()
    data = change(gzip.decompress(data) if gz else data)
    path.write_bytes(gzip.compress(data) if gz else data)


def _expect_value_error(directory: Path, path: Path, *fragments: str) -> str:
    with pytest.raises(ValueError) as info:
        load_mnist(directory)
    message = str(info.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_mnist_truncated_images(mnist_dir, suffix):
    path = mnist_dir / ("train-images-idx3-ubyte" + suffix)
    _rewrite(path, lambda data: data[:-10])
    _expect_value_error(mnist_dir, path, "truncated", str(20 * 784), str(20 * 784 - 10))


def test_mnist_extra_byte(mnist_dir, suffix):
    path = mnist_dir / ("t10k-images-idx3-ubyte" + suffix)
    _rewrite(path, lambda data: data + b"\x00")
    _expect_value_error(mnist_dir, path, "too long", str(7 * 784), str(7 * 784 + 1))


def test_mnist_extra_label_byte(mnist_dir, suffix):
    path = mnist_dir / ("train-labels-idx1-ubyte" + suffix)
    _rewrite(path, lambda data: data + b"\x01")
    _expect_value_error(mnist_dir, path, "too long", "calls for 20 bytes", "received 21")


def test_mnist_label_out_of_range(tmp_path, mnist_arrays):
    arrays = dict(mnist_arrays)
    labels = arrays["t10k-labels-idx1-ubyte"].copy()
    labels[3] = 10
    arrays["t10k-labels-idx1-ubyte"] = labels
    paths = write_mnist(tmp_path, arrays)
    _expect_value_error(tmp_path, paths["t10k-labels-idx1-ubyte"], "label 10", "index 3")


def test_mnist_count_mismatch(tmp_path, mnist_arrays):
    arrays = dict(mnist_arrays)
    arrays["train-labels-idx1-ubyte"] = arrays["train-labels-idx1-ubyte"][:19]
    paths = write_mnist(tmp_path, arrays)
    message = _expect_value_error(tmp_path, paths["train-labels-idx1-ubyte"], "20", "19")
    assert str(paths["train-images-idx3-ubyte"]) in message


def test_mnist_zero_byte_file(mnist_dir, suffix):
    path = mnist_dir / ("t10k-labels-idx1-ubyte" + suffix)
    _rewrite(path, lambda data: b"")
    _expect_value_error(mnist_dir, path, "empty")


def test_mnist_text_file(mnist_dir, suffix):
    path = mnist_dir / ("train-images-idx3-ubyte" + suffix)
    _rewrite(path, lambda data: b"these are not the images you are looking for\n")
    _expect_value_error(mnist_dir, path, "not an IDX file")


@pytest.mark.parametrize("name, keep", [("train-images-idx3-ubyte", 12),
                                        ("t10k-labels-idx1-ubyte", 6)])
def test_mnist_truncated_header(mnist_dir, suffix, name, keep):
    path = mnist_dir / (name + suffix)
    _rewrite(path, lambda data: data[:keep])  # magic intact, dimensions cut
    _expect_value_error(mnist_dir, path, "truncated inside its header", f"received {keep}")
    _rewrite(path, lambda data: data[:3])
    _expect_value_error(mnist_dir, path, "too short")


def test_mnist_zero_rows(tmp_path, mnist_arrays):
    paths = write_mnist(tmp_path, mnist_arrays)
    path = paths["train-images-idx3-ubyte"]
    path.write_bytes(struct.pack(">IIII", 2051, 20, 0, 28))
    _expect_value_error(tmp_path, path, "0x28", "positive")


def test_mnist_broken_gzip(tmp_path, mnist_arrays):
    paths = write_mnist(tmp_path, mnist_arrays, ".gz")
    path = paths["t10k-images-idx3-ubyte"]
    path.write_bytes(path.read_bytes()[:-20])
    _expect_value_error(tmp_path, path, "gzip")
    path.write_bytes(b"plain bytes, no gzip header")
    _expect_value_error(tmp_path, path, "gzip")


# -- write_idx ----------------------------------------------------------------

def test_write_idx_layout(tmp_path):
    labels = write_idx(tmp_path / "labels", [5, 0, 4])
    assert labels == tmp_path / "labels"
    assert labels.read_bytes() == bytes.fromhex("00000801 00000003 050004")
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(str(tmp_path / "images"), images)
    assert path.read_bytes() == bytes.fromhex("00000803 00000002 00000003 00000004") + images.tobytes()
    # Non-contiguous input is written in C order; .gz is a gzip of the same bytes.
    write_idx(tmp_path / "images.gz", np.asfortranarray(images))
    assert gzip.decompress((tmp_path / "images.gz").read_bytes()) == path.read_bytes()
    # Deterministic: equal arrays give equal compressed files.
    write_idx(tmp_path / "again.gz", images)
    assert (tmp_path / "again.gz").read_bytes() == (tmp_path / "images.gz").read_bytes()


@pytest.mark.parametrize("array, error", [
    (np.zeros((2, 3)), TypeError),
    (np.zeros((2, 3), dtype=np.uint8), ValueError),
    (np.zeros((1, 1, 2, 2), dtype=np.uint8), ValueError),
    (np.zeros((2, 0, 3), dtype=np.uint8), ValueError),
    (np.array([0, 256]), ValueError),
    (np.array([-1, 3]), ValueError),
], ids=["float", "2-D", "4-D", "zero rows", "256", "negative"])
def test_write_idx_rejects(tmp_path, array, error):
    with pytest.raises(error):
        write_idx(tmp_path / "x", array)
    assert not (tmp_path / "x").exists()


def test_nothing_runs_at_import(tmp_path):
    # A fresh interpreter: importing parses nothing, and an MNIST directory
    # full of garbage is not touched until load_mnist is called.
    for name in MNIST_NAMES:
        (tmp_path / name).write_bytes(b"garbage")
    proc = run_python("""
        import zk_layers.datasets as d
        assert d._digits_raw.cache_info().currsize == 0
        print("ok")
    """, {"ZK_LAYERS_MNIST_DIR": str(tmp_path)}, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# ---------------------------------------------------------------------------
# The real MNIST, when a directory is configured
# ---------------------------------------------------------------------------

@pytest.mark.slow
def test_mnist_book_files_if_present():
    directory = os.environ.get("ZK_LAYERS_MNIST_DIR")
    if not directory or not os.path.isdir(directory):
        pytest.skip("set ZK_LAYERS_MNIST_DIR to a directory with the MNIST IDX files")
    (x_train, t_train), (x_test, t_test) = load_mnist()
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert t_train.shape == (60000,) and t_test.shape == (10000,)
    assert x_train.dtype == np.float64 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert set(np.unique(t_train)) == set(range(10))
    (x4, _), _ = load_mnist(flatten=False, normalize=False)
    assert x4.shape == (60000, 1, 28, 28) and x4.dtype == np.uint8
