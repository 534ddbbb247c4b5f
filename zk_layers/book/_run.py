"""``zk-layers book run`` and ``zk-layers book check``: the book's scripts, unchanged.

``run`` executes one script of the book's repository in this process, as
``cd <script's folder> && python <script>`` would, with one difference: the
modules ``common`` and ``common.*`` are served by :mod:`zk_layers.book`
(aliases in ``sys.modules``, installed before the script starts; the book's
scripts append the book's root to ``sys.path``, but an entry of
``sys.modules`` wins over any path).  The script's own folder (``ch05/
two_layer_net.py``, ``ch07/simple_convnet.py``, ``ch08/deep_convnet.py``)
and the book's ``dataset/`` stay the book's.  Nothing of the book is edited:
a write the script makes into the book's checkout (``ch07/train_convnet.py``
saves ``params.pkl`` next to itself) goes to an output folder instead, and
a later read of that file by the same run is sent there too.

* ``--seed N`` calls ``np.random.seed(N)`` before the script runs.
* ``--common book`` serves the book's own ``common`` instead (everything else
  the same): the other side of ``check``.
* ``--max-steps N`` (or ``ZK_LAYERS_BOOK_MAX_STEPS=N``) stops the script
  cleanly when it starts its (N+1)-th training step, counted as calls of
  ``SoftmaxWithLoss.backward`` of the ``common.layers`` in use.  The count
  is the same for the book's classes and ours, so a seeded run is cut at
  the same place on both sides; long training loops become short checks.
* ``MPLBACKEND`` defaults to ``Agg``, so ``plt.show()`` returns at once.
* With ``--output-dir D``, a file the script reads inside the book that an
  earlier run wrote to ``D`` (``ch04/cbow_params.pkl`` after ``ch04/train.py``)
  is read from ``D``.

The second volume (a checkout with ``common/time_layers.py``, see
:func:`book_volume`) is served by :mod:`zk_layers.book2` instead: the modules
of :data:`COMMON_MODULES_2` and the chapter modules of
:data:`CHAPTER_MODULES_2`, by an import hook (which would take the modules
of :data:`BOOK_OWN_MODULES_2`, none now, from the reader's checkout); the
scripts of ch08 also get ch07/ on ``sys.path`` (:data:`CHAPTER_PATHS_2`).
A training step is a call of ``update`` of one of the
optimizers of the ``common.optimizer`` in use, and ``--data-dir DIR`` (or
``ZK_LAYERS_PTB_DIR``) gives the Penn Treebank, checked against its MD5
sums, to ``dataset/ptb.py`` through a shadow ``dataset/`` folder (see
:func:`run_script`).

The check (``zk-layers book check``) is :mod:`zk_layers.book._check`; the
command line, :mod:`zk_layers.book._cli`.
"""
from __future__ import annotations

import builtins
import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import shutil
import sys
import tempfile
import time
import types
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["run_script", "StepLimitReached", "book_volume", "verify_ptb_dir", "COMMON_MODULES",
           "COMMON_MODULES_2", "CHAPTER_MODULES_2", "BOOK_OWN_MODULES_2", "CHAPTER_PATHS_2", "OPTIMIZERS_2",
           "PTB_MD5",
           "MAX_STEPS_VARIABLE", "PTB_DIR_VARIABLE"]


# The book's common/ package, module for module.
COMMON_MODULES = ("functions", "gradient", "layers", "multi_layer_net", "multi_layer_net_extend",
                  "optimizer", "trainer", "util")

# The second volume's common/ modules that zk_layers.book2 serves.
COMMON_MODULES_2 = ("config", "np", "functions", "layers", "time_layers", "optimizer", "trainer", "util",
                    "base_model")

# The second volume's chapter modules that zk_layers.book2 serves: the book's
# name -> the module of zk_layers.book2.  Each is also served under its last
# part (`negative_sampling_layer`), as a script in its own folder imports it.
CHAPTER_MODULES_2 = {"ch04.negative_sampling_layer": "negative_sampling_layer",
                     "ch08.attention_layer": "attention_layer"}

# The second volume's common/ modules zk_layers does not serve: with common
# served by zk_layers.book2 they would be the reader's own files.  None now.
BOOK_OWN_MODULES_2: tuple[str, ...] = ()

# Folders a chapter's scripts import from without putting them on the path:
# ch08/train.py imports ch07.peeky_seq2seq, which imports `seq2seq` as if
# run from ch07/ (the book's issue #19: the script fails run from ch08/).
# `book run` appends them to sys.path, on both sides, and says so.
CHAPTER_PATHS_2 = {"ch08": ("ch07",)}

# A training step of the second volume: a call of `update` of one of these
# classes of the common.optimizer in use.
OPTIMIZERS_2 = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")

# The file that tells the second volume's checkout from the first's.
VOLUME_2_MARKER = os.path.join("common", "time_layers.py")

# The Penn Treebank as the second volume's dataset/ptb.py downloads it (the
# sums published with the data); checked before a run that is given it.
PTB_MD5 = {"ptb.train.txt": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
           "ptb.valid.txt": "aa0affc06ff7c36e977d7cd49e3839bf",
           "ptb.test.txt": "8b80168b89c18661a38ef683c0dc3721"}

# The caches dataset/ptb.py derives from the text files: never taken from the
# book's dataset/ into the shadow folder (they may come from other data).
PTB_CACHES = ("ptb.train.npy", "ptb.valid.npy", "ptb.test.npy", "ptb.vocab.pkl")

# The shadow folder's name inside --output-dir (it holds dataset/).
SHADOW_FOLDER = "zk-layers-shadow"

MAX_STEPS_VARIABLE = "ZK_LAYERS_BOOK_MAX_STEPS"
PTB_DIR_VARIABLE = "ZK_LAYERS_PTB_DIR"


class StepLimitReached(BaseException):  # noqa: N818 (BaseException: a script's `except Exception` must not catch it)
    """Raised inside a script when it starts more training steps than allowed."""


def book_volume(book_dir: str) -> int:
    """2 when ``book_dir`` is a checkout of the second volume (it has
    ``common/time_layers.py``), else 1."""
    return 2 if os.path.isfile(os.path.join(book_dir, VOLUME_2_MARKER)) else 1


def find_book_dir(script: str, book_dir: str | None = None) -> str:
    """The book's checkout that holds ``script``: its folder's parent when that
    has ``common/`` or ``dataset/``, else ``book_dir``."""
    parent = os.path.dirname(os.path.dirname(os.path.abspath(script)))
    if os.path.isdir(os.path.join(parent, "common")) or os.path.isdir(os.path.join(parent, "dataset")):
        return parent
    if book_dir:
        return os.path.abspath(book_dir)
    raise ValueError(f"{script} is not in a checkout of the book (no common/ or dataset/ next to its "
                     f"folder); give --book-dir or ZK_LAYERS_BOOK_DIR")


def resolve_script(script: str, book_dir: str | None) -> str:
    """``script`` as given, or relative to ``book_dir``; an absolute path."""
    candidates = [script] + ([os.path.join(book_dir, script)] if book_dir else [])
    for candidate in candidates:
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    where = f" or in {book_dir}" if book_dir else ""
    raise FileNotFoundError(f"no script {script!r} here{where}")


def _max_steps_from_environment() -> int | None:
    text = os.environ.get(MAX_STEPS_VARIABLE, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{MAX_STEPS_VARIABLE} must be a positive integer, got {text!r}") from None
    if value < 1:
        raise ValueError(f"{MAX_STEPS_VARIABLE} must be a positive integer, got {value}")
    return value


def _md5(path: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_ptb_dir(data_dir: str) -> str:
    """``data_dir`` as an absolute path, once its ``ptb.train.txt``,
    ``ptb.valid.txt`` and ``ptb.test.txt`` have the published MD5 sums
    (:data:`PTB_MD5`); a missing file or another sum raises ValueError."""
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a path, got {type(data_dir).__name__}")
    folder = os.path.abspath(os.fspath(data_dir))
    if not os.path.isdir(folder):
        raise ValueError(f"data_dir must be a folder holding {', '.join(PTB_MD5)}, got {folder!r} "
                         f"(not a folder)")
    for name, expected in PTB_MD5.items():
        path = os.path.join(folder, name)
        found = _md5(path) if os.path.isfile(path) else "none (no such file)"
        if found != expected:
            raise ValueError(f"data_dir {folder}: {name} must have the MD5 sum {expected} (the Penn "
                             f"Treebank as dataset/ptb.py downloads it), found {found}")
    return folder


class _Alias(importlib.abc.Loader):
    """Loads a name (``common.layers``) as a module already imported under its
    own name (``zk_layers.book2.layers``): the same object, as an entry of
    ``sys.modules`` that names it twice."""

    def __init__(self, module: types.ModuleType) -> None:
        self.module = module
        self.own_spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self.module

    def exec_module(self, module: types.ModuleType) -> None:
        # The import system has just set the alias's spec on the module:
        # give it its own back (pickling, reloading and tracebacks use it).
        module.__spec__ = self.own_spec


class _ServedModules(importlib.abc.MetaPathFinder):
    """While the second volume's common is served by zk_layers.book2: the
    served names (``common.layers``, ``ch04.negative_sampling_layer``) as
    aliases of zk_layers.book2's modules, imported on first use, and
    ``common.<name>`` for the names of :data:`BOOK_OWN_MODULES_2` from the
    reader's checkout.  ``loaded`` lists the latter."""

    def __init__(self, book_dir: str, served: dict[str, str]) -> None:
        self.book_dir = book_dir
        self.served = served
        self.loaded: list[str] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.partition(".")
        if package == "common" and name in BOOK_OWN_MODULES_2:
            file = os.path.join(self.book_dir, "common", f"{name}.py")
            if not os.path.isfile(file):
                return None  # the usual "No module named ..."
            if fullname not in self.loaded:
                self.loaded.append(fullname)
                print(f"zk-layers book run: {fullname} is the book's own (not compiled by zk_layers yet): "
                      f"{file}", file=sys.stderr)
            return importlib.util.spec_from_file_location(fullname, file)
        ours = self.served.get(fullname)
        if ours is None:
            return None
        if importlib.util.find_spec(ours) is None:
            raise ModuleNotFoundError(f"{fullname} is served by zk_layers, but this installation has no {ours} "
                                      f"yet; run with --common book for the book's own", name=fullname)
        # Imported only now: a module the script never imports is never
        # loaded, and one that fails to import fails only the scripts using it.
        return importlib.util.spec_from_loader(fullname, _Alias(importlib.import_module(ours)))


def _names_served(volume: int) -> dict[str, str]:
    """The second volume's served names besides ``common``: the book's name
    -> zk_layers.book2's module."""
    if volume == 1:
        return {}
    served = {f"common.{name}": f"zk_layers.book2.{name}" for name in COMMON_MODULES_2}
    for book_name, ours in CHAPTER_MODULES_2.items():
        served[book_name] = served[book_name.rpartition(".")[2]] = f"zk_layers.book2.{ours}"
    return served


@contextlib.contextmanager
def _served_common(side: str, volume: int = 1, book_dir: str = "",
                   book_modules: list[str] | None = None) -> Iterator[None]:
    """Make ``common`` and ``common.*`` (and the second volume's chapter
    modules) zk_layers' (side "zk") for the block; everything is restored
    afterwards.  ``book_modules`` receives the names taken from the reader's
    checkout instead (:data:`BOOK_OWN_MODULES_2`)."""
    served = _names_served(volume)

    def ours(name: str) -> bool:
        return name == "common" or name.startswith("common.") or name in served

    saved = {name: mod for name, mod in sys.modules.items() if ours(name)}
    finder: _ServedModules | None = None
    package: types.ModuleType | None = None
    attributes: dict[str, Any] = {}
    if side == "zk" and volume == 1:
        sys.modules["common"] = importlib.import_module("zk_layers.book")
        for name in COMMON_MODULES:
            sys.modules[f"common.{name}"] = importlib.import_module(f"zk_layers.book.{name}")
    elif side == "zk":
        package = importlib.import_module("zk_layers.book2")
        attributes = {name: value for name, value in vars(package).items() if name in BOOK_OWN_MODULES_2}
        for name in served:  # entries an earlier import left: the finder must see these names
            sys.modules.pop(name, None)
        sys.modules["common"] = package
        finder = _ServedModules(book_dir, served)
        sys.meta_path.insert(0, finder)  # first: before the path finders look for these names
    try:
        yield
    finally:
        if finder is not None:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(finder)
            if book_modules is not None:
                book_modules.extend(finder.loaded)
        if package is not None:
            # Importing common.<name> set the book's module as an attribute
            # of the package (zk_layers.book2): put back what was there.
            for name in BOOK_OWN_MODULES_2:
                if name in attributes:
                    setattr(package, name, attributes[name])
                elif hasattr(package, name):
                    delattr(package, name)
        for name in [n for n in sys.modules if ours(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


def _step_methods(volume: int, side: str) -> list[tuple[type, str]]:
    """What a training step calls, as (class, method name) pairs of the
    served modules: volume 1, SoftmaxWithLoss.backward; volume 2, update of
    each optimizer (none while this installation has no
    zk_layers.book2.optimizer: then no script can train on it)."""
    if volume == 1:
        return [(importlib.import_module("common.layers").SoftmaxWithLoss, "backward")]
    if side == "zk" and importlib.util.find_spec("zk_layers.book2.optimizer") is None:
        return []
    module = importlib.import_module("common.optimizer")
    methods = [(cls, "update") for cls in (getattr(module, name, None) for name in OPTIMIZERS_2)
               if isinstance(cls, type)]
    if not methods:
        raise ValueError(f"{module.__name__} ({getattr(module, '__file__', '?')}) must define one of "
                         f"{', '.join(OPTIMIZERS_2)} to count training steps, found none")
    return methods


@contextlib.contextmanager
def _step_limit(methods: Sequence[tuple[type, str]], max_steps: int | None,
                counter: dict[str, int]) -> Iterator[None]:
    """Count training steps (calls of the given methods; a call made inside
    another counted call is part of the same step: Adam's update calling its
    parent's); stop the script when step max_steps + 1 starts."""
    if max_steps is None:
        yield
        return
    depth = 0

    def counting(method: Any) -> Any:
        def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal depth
            if depth == 0:
                if counter["steps"] >= max_steps:
                    raise StepLimitReached(max_steps)
                counter["steps"] += 1
            depth += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                depth -= 1
        return counted

    patched: list[tuple[type, str, Any]] = []
    try:
        for cls, name in methods:
            if any(cls is done and name == done_name for done, done_name, _ in patched):
                continue  # the same class twice (an alias): one patch
            original = cls.__dict__.get(name)  # None: inherited
            setattr(cls, name, counting(getattr(cls, name)))
            patched.append((cls, name, original))
        yield
    finally:
        for cls, name, original in reversed(patched):
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def _forget_modules(before: set[str], roots: Sequence[str]) -> None:
    """Drop the modules the run imported from ``roots`` (the script's
    helpers, the book's dataset and chapter packages), so that a later run in
    this process, of another checkout say, imports its own."""
    real_roots = [os.path.realpath(root) for root in roots] + [os.path.abspath(root) for root in roots]
    for name in [n for n in sys.modules if n not in before]:
        if name == "zk_layers" or name.startswith("zk_layers."):
            continue
        module = sys.modules[name]
        try:
            files = [getattr(module, "__file__", None), *list(getattr(module, "__path__", None) or [])]
        except Exception:  # noqa: BLE001 (an odd module's __path__; such a module is not the book's)
            continue
        for file in files:
            if isinstance(file, str) and (_under(os.path.abspath(file), real_roots)
                                          or _under(os.path.realpath(file), real_roots)):
                del sys.modules[name]
                break


@contextlib.contextmanager
def _shadow_dataset(book_dir: str, data_dir: str | None, output_dir: str | None) -> Iterator[str | None]:
    """A folder holding ``dataset/``: links to the book's ``dataset/`` files
    and to the PTB files of ``data_dir``; None when there is no data_dir.

    dataset/ptb.py looks for the text files next to itself
    (``os.path.abspath(__file__)``, which keeps links unresolved) and writes
    its caches there: imported through the links it finds ``data_dir``'s
    files and caches into the shadow folder.  The folder is in
    ``output_dir`` when given (the caches are kept for the next run), else
    a temporary one, removed afterwards."""
    if data_dir is None:
        yield None
        return
    temporary = output_dir is None
    root = tempfile.mkdtemp(prefix="zk-book-ptb-") if output_dir is None else os.path.join(
        os.path.abspath(output_dir), SHADOW_FOLDER)
    try:
        folder = os.path.join(root, "dataset")
        os.makedirs(folder, exist_ok=True)
        links: dict[str, str] = {}
        book_dataset = os.path.join(book_dir, "dataset")
        if os.path.isdir(book_dataset):
            for name in sorted(os.listdir(book_dataset)):
                if name != "__pycache__" and name not in PTB_MD5 and name not in PTB_CACHES:
                    links[name] = os.path.join(book_dataset, name)
        links.update((name, os.path.join(data_dir, name)) for name in PTB_MD5)
        for name, target in links.items():
            link = os.path.join(folder, name)
            if os.path.islink(link) or os.path.isfile(link):
                os.remove(link)  # a link of an earlier run (another checkout, say): made afresh
            os.symlink(target, link)
        importlib.invalidate_caches()  # the import system's listings of the folder may be older
        yield root
    finally:
        sys.path_importer_cache.pop(os.path.join(root, "dataset"), None)
        sys.path_importer_cache.pop(root, None)
        if temporary:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _writes_outside(book_dir: str, output_dir: str | None, redirected: dict[str, str],
                    read_back: dict[str, str] | None = None) -> Iterator[None]:
    """Send every file the script opens for writing inside ``book_dir`` to
    ``output_dir`` (created on first use), and later opens of that file there.
    With ``output_dir`` given, a file opened for reading inside the book that
    ``output_dir`` holds (an earlier run wrote it) is read from there too;
    ``read_back`` receives those."""
    real_open = builtins.open
    root = os.path.realpath(book_dir) + os.sep
    # A given output folder inside the book is the output, not the book.
    own = os.path.realpath(output_dir) + os.sep if output_dir is not None else None
    state = {"dir": output_dir}
    read_back = {} if read_back is None else read_back

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, bytes, os.PathLike)) and not isinstance(file, int):
            path = os.path.realpath(os.fsdecode(file))
            if path in redirected:
                file = redirected[path]
            elif path in read_back and not any(flag in mode for flag in "wax+"):
                file = read_back[path]
            elif path.startswith(root) and not (own and path.startswith(own)):
                relative = os.path.relpath(path, root)
                if any(flag in mode for flag in "wax+"):
                    out_dir = state["dir"]
                    if out_dir is None:
                        out_dir = state["dir"] = tempfile.mkdtemp(prefix="zk-book-run-")
                    target = os.path.join(out_dir, relative)
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    redirected[path] = target
                    print(f"zk-layers book run: the script writes {relative}; "
                          f"written to {target} instead (the book's checkout is left as it is)",
                          file=sys.stderr)
                    file = target
                elif output_dir is not None and os.path.isfile(os.path.join(output_dir, relative)):
                    target = os.path.join(output_dir, relative)
                    read_back[path] = target
                    print(f"zk-layers book run: the script reads {relative}; read from {target} instead "
                          f"(an earlier run with this --output-dir wrote it)", file=sys.stderr)
                    file = target
        return real_open(file, mode, *args, **kwargs)

    builtins.open = guarded_open
    try:
        yield
    finally:
        builtins.open = real_open


def _append_chapter_paths(book_dir: str, script: str) -> None:
    """The folders of :data:`CHAPTER_PATHS_2` for the script's chapter, at the
    end of sys.path, each named on stderr."""
    chapter = os.path.basename(os.path.dirname(os.path.abspath(script)))
    for folder in CHAPTER_PATHS_2.get(chapter, ()):
        path = os.path.join(book_dir, folder)
        if os.path.isdir(path):
            sys.path.append(path)
            print(f"zk-layers book run: {folder}/ appended to sys.path for {chapter}/ (its scripts import "
                  f"{folder}'s modules as if run from {folder}/; the book's issue #19)", file=sys.stderr)


def run_script(script: str, args: Sequence[str] = (), *, seed: int | None = None, common: str = "zk",
               max_steps: int | None = None, book_dir: str | None = None,
               output_dir: str | None = None, data_dir: str | None = None) -> dict[str, Any]:
    """Run one of the book's scripts in this process (see the module docstring).

    ``data_dir`` (second volume only; default ``$ZK_LAYERS_PTB_DIR``) is a
    folder with ``ptb.train.txt``, ``ptb.valid.txt`` and ``ptb.test.txt``;
    their MD5 sums are checked first (:func:`verify_ptb_dir`).  The script
    then imports ``dataset`` from a shadow folder (in ``output_dir``, else a
    temporary one) put before the book's root on ``sys.path``: links to the
    book's ``dataset/`` files and to the PTB files, so that the book's
    ``ptb.py`` reads them and writes its caches there, not into the book.

    Returns a report: ``script_s`` (seconds in the script), ``steps`` (training
    steps counted when a limit was set), ``stopped`` (True when the limit cut
    the run), ``redirected`` (book path -> where its writes went),
    ``read_back`` (book path -> the earlier output read instead), ``volume``,
    ``book_modules`` (the modules of common taken from the reader's checkout
    while common was served by zk_layers) and ``data_dir``.  The working
    directory, ``sys.path``, ``sys.argv``, ``MPLBACKEND``, the served modules,
    the import hook and every patch are restored afterwards, and the modules
    imported from the checkout are dropped from ``sys.modules``.
    """
    if common not in ("zk", "book"):
        raise ValueError(f"common must be 'zk' or 'book', got {common!r}")
    script = resolve_script(script, book_dir)
    book_dir = find_book_dir(script, book_dir)
    volume = book_volume(book_dir)
    if volume == 1 and data_dir is not None:
        raise ValueError(f"data_dir is for the second volume's Penn Treebank, and {book_dir} is a checkout "
                         f"of the first volume (no {VOLUME_2_MARKER}); got data_dir={data_dir!r}")
    if volume == 2 and data_dir is None:
        data_dir = os.environ.get(PTB_DIR_VARIABLE) or None
    if data_dir is not None:
        data_dir = verify_ptb_dir(data_dir)
    if max_steps is None:
        max_steps = _max_steps_from_environment()
    saved_backend = os.environ.get("MPLBACKEND")
    os.environ.setdefault("MPLBACKEND", "Agg")  # plt.show() must not wait for a window

    saved_path, saved_argv, saved_cwd = list(sys.path), list(sys.argv), os.getcwd()
    saved_modules = set(sys.modules)
    counter = {"steps": 0}
    redirected: dict[str, str] = {}
    read_back: dict[str, str] = {}
    book_modules: list[str] = []
    report: dict[str, Any] = {"script": script, "common": common, "seed": seed, "max_steps": max_steps,
                              "stopped": False, "volume": volume, "data_dir": data_dir}
    roots = [book_dir, os.path.dirname(script)]
    start = time.perf_counter()
    try:
        with _shadow_dataset(book_dir, data_dir, output_dir) as shadow:
            if shadow is not None:
                roots.append(shadow)
                if os.path.dirname(script) == os.path.join(book_dir, "dataset"):
                    script = os.path.join(shadow, "dataset", os.path.basename(script))  # ptb.py itself
            script_dir = os.path.dirname(script)
            # As `cd <script's folder> && python <script>` has it, plus the
            # book's root (which the scripts append themselves, relatively,
            # as os.pardir); the shadow folder's dataset/ before the book's.
            sys.path[:0] = [script_dir, *([shadow] if shadow else []), book_dir]
            if volume == 2:
                _append_chapter_paths(book_dir, script)
            os.chdir(script_dir)
            with _served_common(common, volume, book_dir, book_modules), \
                    _step_limit(_step_methods(volume, common) if max_steps is not None else (),
                                max_steps, counter), \
                    _writes_outside(book_dir, output_dir, redirected, read_back):
                if seed is not None:
                    import numpy as np

                    np.random.seed(seed)  # noqa: NPY002 (the book draws from the global generator)
                sys.argv = [script, *args]
                start = time.perf_counter()
                try:
                    runpy.run_path(script, run_name="__main__")
                except StepLimitReached:
                    report["stopped"] = True
    finally:
        report["script_s"] = time.perf_counter() - start
        report["steps"] = counter["steps"]
        report["redirected"] = redirected
        report["read_back"] = read_back
        report["book_modules"] = book_modules
        sys.stdout.flush()
        sys.path[:], sys.argv[:] = saved_path, saved_argv
        os.chdir(saved_cwd)
        _forget_modules(saved_modules, roots)
        if saved_backend is None:  # leave the caller's environment as it was
            os.environ.pop("MPLBACKEND", None)
    if report["stopped"]:
        assert max_steps is not None  # only _step_limit's StepLimitReached sets "stopped"
        what = "SoftmaxWithLoss.backward" if volume == 1 else "optimizer update"
        print(f"zk-layers book run: stopped at the start of training step {max_steps + 1} "
              f"({what}; --max-steps / {MAX_STEPS_VARIABLE})", file=sys.stderr)
    return report
