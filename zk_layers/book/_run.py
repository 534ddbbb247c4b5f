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

The check (``zk-layers book check``) is :mod:`zk_layers.book._check`; the
command line, :mod:`zk_layers.book._cli`.
"""
from __future__ import annotations

import builtins
import contextlib
import importlib
import os
import runpy
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["run_script", "StepLimitReached", "COMMON_MODULES", "MAX_STEPS_VARIABLE"]


# The book's common/ package, module for module.
COMMON_MODULES = ("functions", "gradient", "layers", "multi_layer_net", "multi_layer_net_extend",
                  "optimizer", "trainer", "util")

MAX_STEPS_VARIABLE = "ZK_LAYERS_BOOK_MAX_STEPS"


class StepLimitReached(BaseException):  # noqa: N818 (BaseException: a script's `except Exception` must not catch it)
    """Raised inside a script when it starts more training steps than allowed."""


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


@contextlib.contextmanager
def _served_common(side: str) -> Iterator[Any]:
    """Make ``common`` and ``common.*`` zk_layers.book's (side "zk") for the
    block; yields the ``common.layers`` module the script will get."""
    saved = {name: mod for name, mod in sys.modules.items() if name == "common" or name.startswith("common.")}
    if side == "zk":
        package = importlib.import_module("zk_layers.book")
        sys.modules["common"] = package
        for name in COMMON_MODULES:
            sys.modules[f"common.{name}"] = importlib.import_module(f"zk_layers.book.{name}")
    try:
        yield importlib.import_module("common.layers")
    finally:
        for name in [n for n in sys.modules if n == "common" or n.startswith("common.")]:
            del sys.modules[name]
        sys.modules.update(saved)


@contextlib.contextmanager
def _step_limit(layers_module: Any, max_steps: int | None, counter: dict[str, int]) -> Iterator[None]:
    """Count training steps (SoftmaxWithLoss.backward calls); stop the script
    when step max_steps + 1 starts."""
    if max_steps is None:
        yield
        return
    cls = layers_module.SoftmaxWithLoss
    original = cls.__dict__.get("backward")
    inherited = original is None
    backward = cls.backward

    def counted_backward(self: Any, *args: Any, **kwargs: Any) -> Any:
        if counter["steps"] >= max_steps:
            raise StepLimitReached(max_steps)
        counter["steps"] += 1
        return backward(self, *args, **kwargs)

    cls.backward = counted_backward
    try:
        yield
    finally:
        if inherited:
            del cls.backward
        else:
            cls.backward = original


@contextlib.contextmanager
def _writes_outside(book_dir: str, output_dir: str | None, redirected: dict[str, str]) -> Iterator[None]:
    """Send every file the script opens for writing inside ``book_dir`` to
    ``output_dir`` (created on first use), and later opens of that file there."""
    real_open = builtins.open
    root = os.path.realpath(book_dir) + os.sep
    state = {"dir": output_dir}

    def guarded_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, bytes, os.PathLike)) and not isinstance(file, int):
            path = os.path.realpath(os.fsdecode(file))
            if path in redirected:
                file = redirected[path]
            elif path.startswith(root) and any(flag in mode for flag in "wax+"):
                out_dir = state["dir"]
                if out_dir is None:
                    out_dir = state["dir"] = tempfile.mkdtemp(prefix="zk-book-run-")
                target = os.path.join(out_dir, os.path.relpath(path, root))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                redirected[path] = target
                print(f"zk-layers book run: the script writes {os.path.relpath(path, root)}; "
                      f"written to {target} instead (the book's checkout is left as it is)",
                      file=sys.stderr)
                file = target
        return real_open(file, mode, *args, **kwargs)

    builtins.open = guarded_open
    try:
        yield
    finally:
        builtins.open = real_open


def run_script(script: str, args: Sequence[str] = (), *, seed: int | None = None, common: str = "zk",
               max_steps: int | None = None, book_dir: str | None = None,
               output_dir: str | None = None) -> dict[str, Any]:
    """Run one of the book's scripts in this process (see the module docstring).

    Returns a report: ``script_s`` (seconds in the script), ``steps`` (training
    steps counted when a limit was set), ``stopped`` (True when the limit cut
    the run) and ``redirected`` (book path -> where its writes went).  The
    working directory, ``sys.path``, ``sys.argv``, ``MPLBACKEND``, the served
    ``common`` modules and every patch are restored afterwards.
    """
    if common not in ("zk", "book"):
        raise ValueError(f"common must be 'zk' or 'book', got {common!r}")
    script = resolve_script(script, book_dir)
    book_dir = find_book_dir(script, book_dir)
    script_dir = os.path.dirname(script)
    if max_steps is None:
        max_steps = _max_steps_from_environment()
    saved_backend = os.environ.get("MPLBACKEND")
    os.environ.setdefault("MPLBACKEND", "Agg")  # plt.show() must not wait for a window

    saved_path, saved_argv, saved_cwd = list(sys.path), list(sys.argv), os.getcwd()
    counter = {"steps": 0}
    redirected: dict[str, str] = {}
    report: dict[str, Any] = {"script": script, "common": common, "seed": seed, "max_steps": max_steps,
                              "stopped": False}
    # As `cd <script's folder> && python <script>` has it, plus the book's
    # root (which the scripts append themselves, relatively, as os.pardir).
    sys.path[:0] = [script_dir, book_dir]
    os.chdir(script_dir)
    start = time.perf_counter()
    try:
        with _served_common(common) as layers_module, _step_limit(layers_module, max_steps, counter), \
                _writes_outside(book_dir, output_dir, redirected):
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
        sys.stdout.flush()
        sys.path[:], sys.argv[:] = saved_path, saved_argv
        os.chdir(saved_cwd)
        if saved_backend is None:  # leave the caller's environment as it was
            os.environ.pop("MPLBACKEND", None)
    if report["stopped"]:
        assert max_steps is not None  # only _step_limit's StepLimitReached sets "stopped"
        print(f"zk-layers book run: stopped at the start of training step {max_steps + 1} "
              f"(--max-steps / {MAX_STEPS_VARIABLE})", file=sys.stderr)
    return report
