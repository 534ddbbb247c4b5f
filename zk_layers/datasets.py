"""Data sets for the chapter-5 demos: embedded 8x8 digits, and MNIST from local files.

Both loaders return ``((x_train, t_train), (x_test, t_test))`` with the
options of the book's ``dataset/mnist.py`` ``load_mnist`` (``normalize``,
``flatten``, ``one_hot_label``), so the book's training loops run unchanged::

    from zk_layers.datasets import load_digits, load_mnist

    (x_train, t_train), (x_test, t_test) = load_digits()          # shipped, 8x8
    (x_train, t_train), (x_test, t_test) = load_mnist("~/mnist")  # your files

:func:`load_digits`
    1,797 handwritten digits of 8x8 pixels (UCI "Optical Recognition of
    Handwritten Digits", CC BY 4.0; see ``zk_layers/data/README.md``), shipped
    inside the package so that demos and tests need no network.  The
    train/test split is fixed and needs no random numbers: sample ``i`` of
    the file goes to the test set when ``i % 5 == 4`` (359 test samples,
    1,438 training samples).

:func:`load_mnist`
    MNIST read from the four standard IDX files in a local directory (the
    ``data_dir`` argument, else the ``ZK_LAYERS_MNIST_DIR`` environment
    variable).  The files may be gzip-compressed.

Nothing is ever downloaded, and importing this module reads no file: the
digits are parsed on the first call of :func:`load_digits` and cached (every
call still returns fresh arrays that the caller may modify).

:func:`write_idx` writes small MNIST-format files, for tests and for
preparing your own data.
"""
from __future__ import annotations

import functools
import gzip
import io
import math
import os
import struct
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from ._validate import float_dtype

__all__ = ["load_digits", "load_mnist", "write_idx"]

PathLike = str | os.PathLike[str]
Split = tuple[np.ndarray, np.ndarray]

# ---------------------------------------------------------------------------
# Shared post-processing: the book's options, applied the same way to both sets
# ---------------------------------------------------------------------------

_N_CLASSES = 10


def _prepare(images: np.ndarray, labels: np.ndarray, rows: int, cols: int, scale: float, *,
             normalize: bool, flatten: bool, one_hot_label: bool, dtype: DTypeLike) -> Split:
    """Apply the book's options to one split; always returns new arrays.

    ``images`` is uint8 with ``rows * cols`` values per sample (any shape with
    that many values per leading index), ``labels`` holds integers 0..9.  The
    inputs may be cached or read-only: nothing here writes to them, and every
    output is a fresh C-contiguous array, so callers may modify what they get.
    """
    n = images.shape[0]
    if normalize:
        resolved = float_dtype(dtype)
        # Divide in the target dtype, as the book does (astype then /=): for
        # float32 this is the correctly rounded float32 quotient.
        x = images.astype(resolved) / resolved.type(scale)
    else:
        # dtype is ignored on purpose: raw pixels are small integers.
        x = np.array(images, dtype=np.uint8)  # a copy, even of a uint8 input
    x = x.reshape((n, rows * cols) if flatten else (n, 1, rows, cols))

    if one_hot_label:
        # float64 like the book's _change_one_hot_label (np.zeros), whatever dtype.
        t = np.zeros((n, _N_CLASSES), dtype=np.float64)
        t[np.arange(n), labels] = 1.0
    else:
        t = np.array(labels, dtype=np.int64)  # a copy
    return x, t


# ---------------------------------------------------------------------------
# Embedded digits
# ---------------------------------------------------------------------------

_DIGITS_FILE = "digits.csv.gz"
_DIGITS_NAME = "zk_layers/data/digits.csv.gz"
_DIGITS_ROWS = 1797
_DIGITS_SIDE = 8
_DIGITS_PIXELS = _DIGITS_SIDE * _DIGITS_SIDE
_DIGITS_MAX = 16  # pixel values are counts of set bits in 4x4 blocks: 0..16
_GZIP_MAGIC = b"\x1f\x8b"


def _read_digits_bytes() -> bytes:
    """The shipped (gzip-compressed) digits file, read through importlib.resources.

    importlib.resources works for zip-imported and other non-filesystem
    installations too, where ``__file__``-relative paths do not.
    """
    resource = resources.files("zk_layers") / "data" / _DIGITS_FILE
    try:
        return resource.read_bytes()
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{_DIGITS_NAME} is missing from this installation of zk_layers; it ships as "
            "package data, so reinstall zk_layers"
        ) from exc


def _parse_digits(source: bytes | PathLike, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse and verify the digits CSV.

    Parameters
    ----------
    source : bytes or path-like
        The file's contents, or a path to the file.  Gzip-compressed data is
        recognised by its magic bytes and decompressed; anything else is read
        as plain CSV text.
    name : str, optional
        The name used in error messages (default: the path, or the name of
        the shipped file for bytes).

    Returns
    -------
    images : ndarray of uint8, shape (1797, 64)
        Pixel values 0..16, one row-major 8x8 image per row.
    labels : ndarray of int64, shape (1797,)
        Class labels 0..9.

    Raises
    ------
    ValueError
        If the data is not 1,797 rows of 65 integers with pixels in 0..16 and
        labels in 0..9; the message names the file.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        name = name or _DIGITS_NAME
    else:
        name = name or os.fspath(source)
        raw = Path(source).read_bytes()

    def corrupt(reason: str) -> ValueError:
        return ValueError(f"{name} is not a valid digits file: {reason} (expected {_DIGITS_ROWS} rows "
                          f"of {_DIGITS_PIXELS} pixel values 0..{_DIGITS_MAX} and a label 0..9)")

    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise corrupt(f"cannot decompress it ({exc})") from exc
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise corrupt(f"it is not ASCII text ({exc})") from exc
    if not text.strip():
        raise corrupt("it is empty")
    try:
        # Parsed as float so that a stray fraction is caught below instead of
        # being truncated silently by an integer conversion.
        table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise corrupt(f"cannot parse it as CSV numbers ({exc})") from exc

    if table.shape != (_DIGITS_ROWS, _DIGITS_PIXELS + 1):
        raise corrupt(f"found {table.shape[0]} rows of {table.shape[1]} columns")
    bad = ~np.isfinite(table) | (table != np.round(table))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise corrupt(f"row {row}, column {col} holds {table[row, col]!r}, not an integer")
    pixels, labels = table[:, :_DIGITS_PIXELS], table[:, _DIGITS_PIXELS]
    bad_pixels = (pixels < 0) | (pixels > _DIGITS_MAX)
    if bad_pixels.any():
        row, col = np.argwhere(bad_pixels)[0]
        raise corrupt(f"row {row}, column {col} holds pixel value {int(pixels[row, col])}")
    bad_labels = (labels < 0) | (labels >= _N_CLASSES)
    if bad_labels.any():
        row = int(np.flatnonzero(bad_labels)[0])
        raise corrupt(f"row {row} holds label {int(labels[row])}")
    return pixels.astype(np.uint8), labels.astype(np.int64)


@functools.lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """The verified digits, parsed once per process (decompressing and parsing is not free).

    The cached arrays are made read-only so that no code path can alter the
    cache; callers of :func:`load_digits` always get copies.
    """
    images, labels = _parse_digits(_read_digits_bytes(), _DIGITS_NAME)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _digits_test_mask(n: int) -> np.ndarray:
    """True for the samples of the fixed test split: index i with i % 5 == 4."""
    return np.arange(n) % 5 == 4


def load_digits(*, normalize: bool = True, flatten: bool = True, one_hot_label: bool = False,
                dtype: DTypeLike = np.float64) -> tuple[Split, Split]:
    """Load the embedded 8x8 handwritten digits, like the book's ``load_mnist``.

    The 1,797 samples ship inside the package (UCI "Optical Recognition of
    Handwritten Digits", CC BY 4.0; attribution in
    ``zk_layers/data/README.md``), so nothing is downloaded.  The split is
    fixed and deterministic: sample ``i`` of the file (0-based) belongs to
    the test set when ``i % 5 == 4``, i.e. samples 4, 9, 14, ..., 1794 (359
    samples); the other 1,438 form the training set.  Both sets keep the
    file's order.

    Parameters
    ----------
    normalize : bool, default True
        If True, pixels are divided by 16 into [0, 1] and returned in
        ``dtype``.  If False, pixels are the raw integers 0..16 as uint8 and
        ``dtype`` is ignored.
    flatten : bool, default True
        If True, each image is a row of 64 values; if False, images have the
        shape (1, 8, 8) (channel, height, width), the book's
        (N, 1, 28, 28) convention.
    one_hot_label : bool, default False
        If True, labels are one-hot rows of 10 float64 values 0.0/1.0
        (float64 whatever ``dtype``, like the book); if False, int64 class
        indices.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of normalized pixels.  Any other dtype raises ValueError
        when ``normalize`` is True.

    Returns
    -------
    (x_train, t_train), (x_test, t_test) : tuple of tuples of ndarray
        ``x_train`` has shape (1438, 64), or (1438, 1, 8, 8) when
        ``flatten=False``; ``x_test`` (359, 64) or (359, 1, 8, 8).
        ``t_train`` / ``t_test`` have shape (1438,) / (359,) (int64), or
        (1438, 10) / (359, 10) (float64) when ``one_hot_label=True``.
        The arrays are new on every call: modifying them affects nothing else.

    Raises
    ------
    ValueError
        If ``dtype`` is not float32 or float64 (with ``normalize=True``), or
        if the shipped file is corrupt (the message names it).

    Examples
    --------
    >>> (x_train, t_train), (x_test, t_test) = load_digits()
    >>> x_train.shape, t_train.shape, x_test.shape, t_test.shape
    ((1438, 64), (1438,), (359, 64), (359,))
    """
    if normalize:
        float_dtype(dtype)  # fail before any work on a bad dtype
    images, labels = _digits_raw()
    test = _digits_test_mask(len(labels))
    prepare = functools.partial(_prepare, rows=_DIGITS_SIDE, cols=_DIGITS_SIDE, scale=_DIGITS_MAX,
                                normalize=normalize, flatten=flatten,
                                one_hot_label=one_hot_label, dtype=dtype)
    return prepare(images[~test], labels[~test]), prepare(images[test], labels[test])


# ---------------------------------------------------------------------------
# MNIST from local IDX files
# ---------------------------------------------------------------------------

_MNIST_ENV = "ZK_LAYERS_MNIST_DIR"
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# IDX magic numbers: two zero bytes, the element type (0x08 = unsigned byte),
# then the number of dimensions.
_IDX_UBYTE = 0x08
_IMAGES_MAGIC = 0x00000803  # 2051: uint8, 3 dimensions (count, rows, cols)
_LABELS_MAGIC = 0x00000801  # 2049: uint8, 1 dimension (count)


def _all_mnist_names() -> list[str]:
    return [name for pair in _MNIST_FILES.values() for name in pair]


def _mnist_dir(data_dir: PathLike | None) -> Path:
    """The directory to read, from the argument or the environment variable."""
    if data_dir is not None:
        directory, origin = Path(data_dir).expanduser(), "data_dir"
    elif os.environ.get(_MNIST_ENV):
        directory, origin = Path(os.environ[_MNIST_ENV]).expanduser(), f"${_MNIST_ENV}"
    else:
        names = ", ".join(_all_mnist_names())
        raise FileNotFoundError(
            f"no MNIST directory: pass data_dir to load_mnist or set the environment variable "
            f"{_MNIST_ENV} to a directory holding the four IDX files {names} (each may also be "
            f"gzip-compressed with a .gz suffix). zk_layers never downloads anything: fetch the "
            "files yourself, or use load_digits() for the data set shipped with the package"
        )
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory {str(directory)!r} (from {origin}) does not exist "
                                "or is not a directory")
    return directory


def _find_idx(directory: Path, name: str) -> Path:
    """``name`` or ``name.gz`` in ``directory``; the uncompressed file wins if both exist."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"MNIST file {name!r} (or {name + '.gz'!r}) not found in "
                            f"directory {str(directory)!r}")


def _describe_magic(magic: int) -> str:
    kind = {_IMAGES_MAGIC: "images", _LABELS_MAGIC: "labels"}.get(magic)
    return f"0x{magic:08X} ({magic}{', IDX ' + kind if kind else ''})"


def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one uint8 IDX file (plain or .gz) and check its header against its size.

    Returns a read-only array of shape (count,) for labels or
    (count, rows, cols) for images, viewing the file's bytes.
    """
    raw = path.read_bytes()
    where = f"MNIST file {str(path)!r}"
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{where} cannot be decompressed as gzip: {exc}") from exc
    if not raw:
        raise ValueError(f"{where} is empty (0 bytes); expected an IDX file")

    ndim = expected_magic & 0xFF
    header_size = 4 * (1 + ndim)
    if len(raw) < 4:
        raise ValueError(f"{where} is {len(raw)} bytes long, too short for an IDX file "
                         f"(its header alone takes {header_size} bytes)")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        hint = ""
        if magic >> 16:
            hint = "; it is not an IDX file (those start with two zero bytes)"
        elif magic in (_IMAGES_MAGIC, _LABELS_MAGIC):
            hint = "; are the image and label files swapped?"
        raise ValueError(f"{where} has the wrong magic number: expected "
                         f"{_describe_magic(expected_magic)}, received {_describe_magic(magic)}{hint}")
    if len(raw) < header_size:
        raise ValueError(f"{where} is truncated inside its header: expected at least "
                         f"{header_size} bytes, received {len(raw)}")
    dims = struct.unpack(f">{ndim}I", raw[4:header_size])
    if ndim == 3 and (dims[1] == 0 or dims[2] == 0):
        raise ValueError(f"{where} declares images of {dims[1]}x{dims[2]} pixels; rows and "
                         "columns must be positive")

    expected = math.prod(dims)
    received = len(raw) - header_size
    if received != expected:
        problem = "truncated" if received < expected else "too long"
        shape = " x ".join(str(d) for d in dims)
        raise ValueError(f"{where} is {problem}: its header ({shape}) calls for {expected} bytes of "
                         f"data after the {header_size}-byte header, received {received}")
    # frombuffer reads the bytes as they are: no pickle, no code runs.
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def _load_mnist_split(directory: Path, images_name: str, labels_name: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find_idx(directory, images_name)
    labels_path = _find_idx(directory, labels_name)
    images = _read_idx(images_path, _IMAGES_MAGIC)
    labels = _read_idx(labels_path, _LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"MNIST files disagree: {str(images_path)!r} holds {images.shape[0]} images "
                         f"but {str(labels_path)!r} holds {labels.shape[0]} labels")
    bad = np.flatnonzero(labels >= _N_CLASSES)
    if bad.size:
        raise ValueError(f"MNIST file {str(labels_path)!r} holds label {int(labels[bad[0]])} at index "
                         f"{int(bad[0])}; labels must be 0..9")
    return images, labels


def load_mnist(data_dir: PathLike | None = None, *, normalize: bool = True, flatten: bool = True,
               one_hot_label: bool = False, dtype: DTypeLike = np.float64) -> tuple[Split, Split]:
    """Load MNIST from the four standard IDX files in a local directory.

    Nothing is downloaded: the files must already be in ``data_dir``.  Each of
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` may instead be
    gzip-compressed with a ``.gz`` suffix; when both forms exist the
    uncompressed one is read.  The files are read on every call (no cache).

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        The directory holding the files.  Default: the environment variable
        ``ZK_LAYERS_MNIST_DIR``.
    normalize : bool, default True
        If True, pixels are divided by 255 into [0, 1] and returned in
        ``dtype``.  If False, pixels are the raw uint8 values 0..255 and
        ``dtype`` is ignored.
    flatten : bool, default True
        If True, each image is a row of ``rows * cols`` values (784 for
        MNIST); if False, images have the shape (1, rows, cols).
    one_hot_label : bool, default False
        If True, labels are one-hot rows of 10 float64 values 0.0/1.0; if
        False, int64 class indices.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64
        The dtype of normalized pixels (ValueError otherwise, when
        ``normalize`` is True).

    Returns
    -------
    (x_train, t_train), (x_test, t_test) : tuple of tuples of ndarray
        For MNIST: ``x_train`` (60000, 784) and ``x_test`` (10000, 784), or
        (N, 1, 28, 28) when ``flatten=False``; ``t_train`` (60000,) and
        ``t_test`` (10000,) int64, or (N, 10) float64 when
        ``one_hot_label=True``.  The arrays are new on every call.

    Raises
    ------
    FileNotFoundError
        If neither ``data_dir`` nor ``ZK_LAYERS_MNIST_DIR`` is given, if the
        directory does not exist, or if a file is missing (the message names
        the file and the directory).
    ValueError
        If a file is not a valid uint8 IDX file of the expected kind (wrong
        magic number, truncated or too long, zero rows or columns, bad gzip
        data), if a label is outside 0..9, if the image and label counts of a
        split differ, or if ``dtype`` is not float32 or float64.  The message
        names the file(s).

    See Also
    --------
    load_digits : the small data set shipped with the package.
    write_idx : write arrays as IDX files.
    """
    if normalize:
        float_dtype(dtype)  # fail before reading 50 MB on a bad dtype
    directory = _mnist_dir(data_dir)
    splits = []
    for images_name, labels_name in _MNIST_FILES.values():
        images, labels = _load_mnist_split(directory, images_name, labels_name)
        rows, cols = images.shape[1:]
        splits.append(_prepare(images, labels, rows, cols, 255.0, normalize=normalize,
                               flatten=flatten, one_hot_label=one_hot_label, dtype=dtype))
    return splits[0], splits[1]


def write_idx(path: PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file (the MNIST format), for tests and small data sets.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write.  If the name ends with ``.gz`` the file is
        gzip-compressed (with a zero timestamp, so equal arrays give equal
        files).  An existing file is replaced.
    array : array_like of integers, shape (count,) or (count, rows, cols)
        Labels (1-D, written with magic number 2049) or images (3-D, magic
        number 2051, ``rows`` and ``cols`` positive).  Values must lie in
        0..255; they are stored as unsigned bytes in C order.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``array`` does not hold integers.
    ValueError
        If ``array`` is not 1-D or 3-D, has zero rows or columns, a dimension
        too large for the header, or a value outside 0..255.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = write_idx(os.path.join(d, "train-labels-idx1-ubyte"), np.array([5, 0, 4]))
    >>> p.read_bytes()
    b'\\x00\\x00\\x08\\x01\\x00\\x00\\x00\\x03\\x05\\x00\\x04'
    """
    arr = np.asarray(array)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise TypeError(f"write_idx needs an integer array (values 0..255), got dtype {arr.dtype}")
    if arr.ndim not in (1, 3):
        raise ValueError(f"write_idx writes 1-D labels or 3-D images (count, rows, cols), "
                         f"got an array of shape {arr.shape}")
    if arr.ndim == 3 and 0 in arr.shape[1:]:
        raise ValueError(f"images need positive rows and columns, got shape {arr.shape}")
    if any(d > 0xFFFFFFFF for d in arr.shape):
        raise ValueError(f"shape {arr.shape} does not fit the 32-bit dimensions of an IDX header")
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(f"IDX unsigned-byte values must lie in 0..255, got {arr.min()}..{arr.max()}")

    header = struct.pack(f">I{arr.ndim}I", (_IDX_UBYTE << 8) | arr.ndim, *arr.shape)
    data = header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
    out = Path(path)
    if out.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    out.write_bytes(data)
    return out
