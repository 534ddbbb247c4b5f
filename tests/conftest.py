"""Shared fixtures: dtypes, memory layouts, thread counts, both implementations."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import textwrap

import fuzz_values
import numpy as np
import pytest

import zk_layers as zk

TOLERANCES = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
LAYOUTS = ["C", "F", "strided", "readonly"]


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture(params=LAYOUTS)
def layout(request):
    return request.param


@pytest.fixture(params=[zk, zk.reference], ids=["fast", "reference"])
def impl(request):
    """Run one test body against both implementations."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def arrange(arr: np.ndarray, layout: str) -> np.ndarray:
    """The same values as ``arr`` in the memory layout ``layout`` (C, F,
    strided, readonly): the fuzzers' arrange, except that "C" hands back a
    C-contiguous ``arr`` itself."""
    if layout == "C" and arr.ndim:
        return np.ascontiguousarray(arr)
    if layout not in LAYOUTS:
        raise ValueError(layout)
    out = fuzz_values.arrange(arr, layout)
    # Every other element of a larger buffer, along every axis.
    assert layout != "strided" or not (out.flags.c_contiguous or out.flags.f_contiguous) or arr.size <= 1
    return out


@contextlib.contextmanager
def restored_imports(names):
    """sys.path and the sys.modules entries ``names`` as they were, after the
    block (a book file appends to sys.path; its ``common`` is ours only
    while it loads)."""
    saved_modules = {name: sys.modules.get(name) for name in names}
    saved_path = list(sys.path)
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name, before in saved_modules.items():
            if before is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before


def tolerance(dtype) -> dict:
    return TOLERANCES[np.dtype(dtype).type]


@pytest.fixture
def tiny_grain():
    """Make every kernel parallelise from 2 elements up, to test chunking
    (the optimizers' too: they read the same grains)."""
    from zk_layers._threads import forced_grain

    with forced_grain(1):
        yield


@pytest.fixture
def threads(request):
    """Set a process-wide thread count for one test, then restore the default."""
    def _set(n):
        zk.set_num_threads(n)
    yield _set
    zk.set_num_threads(None)


def pytest_report_header(config):
    """Say which installation is under test: CI must test the installed build."""
    from zk_layers import _platform
    from zk_layers._kernels import KERNELS

    return (f"zk_layers {zk.__version__} from {zk.__file__}; kernels={KERNELS.level}; "
            f"openmp={'on' if _platform.openmp_enabled() else 'off'}; threads={zk.get_num_threads()}")


# The directory that holds the zk_layers under test (site-packages once
# installed, the source tree for an in-place build).
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(zk.__file__)))


def run_python(code: str, env_update: dict | None = None, timeout: float = 120,
               drop_env: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports the zk_layers under test.

    The child runs in a temporary directory: `python -c` puts its working
    directory first on sys.path, and from the repository root that would be
    the unbuilt source tree instead of the installed package.
    """
    env = dict(os.environ)
    for name in drop_env:
        env.pop(name, None)
    env.update(env_update or {})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=cwd)


def run_module(*args: str, timeout: float = 300, env_update: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m zk_layers ARGS`` in a fresh interpreter, as a user runs it."""
    env = dict(os.environ, **(env_update or {}))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run([sys.executable, "-m", "zk_layers", *args], capture_output=True,
                              text=True, timeout=timeout, env=env, cwd=cwd)


def in_forked_child(case, arg):
    """Run ``case(arg)`` in a forked child, so that a crash fails one test
    instead of the run.  Returns ("ok", value), ("raised", (exception type
    name, message)) or ("crashed", how the child died)."""
    import pickle
    import signal
    import traceback

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            try:
                outcome = ("ok", case(arg))
            except Exception as exc:  # what the code under test raised is the result
                outcome = ("raised", (type(exc).__name__, str(exc)))
            data = pickle.dumps(outcome)
        except BaseException:
            data = pickle.dumps(("raised", ("unpicklable", traceback.format_exc())))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return "crashed", f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    if not data:
        return "crashed", f"exited with status {os.WEXITSTATUS(status)} and no result"
    return pickle.loads(data)
