"""Thread settings, determinism across thread counts, threadpoolctl, fork safety."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from conftest import run_python
from numpy.testing import assert_array_equal

import zk_layers as zk
from zk_layers import _platform
from zk_layers._threads import threads_for

needs_openmp = pytest.mark.skipif(not _platform.openmp_enabled(), reason="built without OpenMP")


def _run_all_layers(rng_seed: int, dtype) -> list[np.ndarray]:
    """Forward and backward of every layer on odd sizes; every output array."""
    rng = np.random.default_rng(rng_seed)
    x = rng.standard_normal((203, 37)).astype(dtype)
    dout = rng.standard_normal((203, 37)).astype(dtype)
    results = []
    for layer in (zk.Relu(), zk.Sigmoid()):
        results += [layer.forward(x), layer.backward(dout)]
        buffer = np.empty_like(x)  # out=: Sigmoid's kernel writes its own copy too
        results += [layer.forward(x, out=buffer), layer.mask if isinstance(layer, zk.Relu) else layer.out,
                    layer.backward(dout)]
    W, b = rng.standard_normal((37, 29)).astype(dtype), rng.standard_normal(29).astype(dtype)
    affine = zk.Affine(W, b)
    results.append(affine.forward(x))
    results += [affine.backward(rng.standard_normal((203, 29)).astype(dtype)), affine.dW, affine.db]
    t = rng.integers(0, 37, 203)
    for eps in (1e-7, 0.0):
        loss_layer = zk.SoftmaxWithLoss(eps=eps)
        results.append(np.array(loss_layer.forward(x, t)))
        results += [loss_layer.y, loss_layer.backward(0.7)]
    return results


@needs_openmp
@pytest.mark.parametrize("n_threads", [2, 3, 4, 16])
def test_results_bitwise_identical_for_every_thread_count(tiny_grain, threads, dtype, n_threads):
    with zk.limit_threads(1):
        serial = _run_all_layers(7, dtype)
    threads(n_threads)
    assert zk.get_num_threads() == n_threads
    parallel = _run_all_layers(7, dtype)
    for a, b in zip(serial, parallel, strict=True):
        assert_array_equal(a, b)


def test_default_thread_count_follows_openmp_and_cpus():
    expected = 1
    if _platform.openmp_enabled():
        omp = _platform.omp_max_threads()
        expected = omp if os.environ.get("OMP_NUM_THREADS") else min(omp, len(os.sched_getaffinity(0)))
    assert zk.get_num_threads() == expected


@needs_openmp
def test_set_num_threads_and_limit_threads(threads):
    threads(3)
    assert zk.get_num_threads() == 3
    with zk.limit_threads(1):
        assert zk.get_num_threads() == 1
        with zk.limit_threads(2):
            assert zk.get_num_threads() == 2
        assert zk.get_num_threads() == 1
    assert zk.get_num_threads() == 3
    with pytest.raises(RuntimeError):
        with zk.limit_threads(1):
            raise RuntimeError
    assert zk.get_num_threads() == 3
    zk.set_num_threads(None)
    assert zk.get_num_threads() == min(_platform.omp_max_threads(), len(os.sched_getaffinity(0))) or os.environ.get(
        "OMP_NUM_THREADS"
    )


@needs_openmp
def test_limit_threads_is_per_python_thread(threads):
    threads(4)
    seen = {}
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        seen["other"] = zk.get_num_threads()

    thread = threading.Thread(target=worker)
    thread.start()
    with zk.limit_threads(1):
        barrier.wait()
        thread.join()
        assert zk.get_num_threads() == 1
    assert seen["other"] == 4


@pytest.mark.parametrize("bad", [0, -1, 2.5, "2", True, None])
def test_thread_count_validation(bad):
    if bad is None:
        zk.set_num_threads(None)  # None means "back to the default"
        return
    error = ValueError if isinstance(bad, int) and not isinstance(bad, bool) else TypeError
    with pytest.raises(error, match="positive integer"):
        zk.set_num_threads(bad)
    with pytest.raises(error, match="positive integer"):
        with zk.limit_threads(bad):
            pass


def test_thread_counts_beyond_any_c_integer_are_kept_and_used(threads):
    """Like OMP_NUM_THREADS, any positive count is allowed; large work then gets
    one thread per grain (the count never reaches a kernel as is)."""
    from zk_layers._threads import GRAINS, threads_for

    x = np.linspace(-1, 1, 4 * GRAINS.elementwise)
    expected = np.maximum(x, 0)
    threads(10**30)
    if _platform.openmp_enabled():
        assert zk.get_num_threads() == 10**30
        assert threads_for(x.size, GRAINS.elementwise) == 4
    assert_array_equal(zk.Relu().forward(x), expected)
    zk.set_num_threads(None)
    with zk.limit_threads(2**63):
        assert zk.get_num_threads() == (2**63 if _platform.openmp_enabled() else 1)
        assert_array_equal(zk.Relu().forward(x), expected)


def test_numpy_integer_thread_count(threads):
    threads(np.int64(2))
    assert zk.get_num_threads() == (2 if _platform.openmp_enabled() else 1)


@needs_openmp
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc/self/task")
def test_small_work_starts_no_thread_and_large_work_does():
    """The threads the kernels really start, counted in /proc/self/task of a
    fresh interpreter: OpenMP creates its team at the first parallel region,
    so a small call at two threads must leave the count alone, a large one
    must add the second thread."""
    code = """
        import os
        import numpy as np
        import zk_layers as zk
        tasks = lambda: len(os.listdir("/proc/self/task"))
        zk.set_num_threads(2)
        small, large = np.ones(1000), np.ones(4_000_000)
        before = tasks()
        zk.Relu().forward(small)
        zk.Sigmoid().forward(small)
        after_small = tasks()
        zk.Relu().forward(large)
        print(before, after_small, tasks())
    """
    proc = run_python(code, drop_env=("OMP_NUM_THREADS",))
    assert proc.returncode == 0, proc.stderr
    before, after_small, after_large = map(int, proc.stdout.split())
    assert after_small == before
    assert after_large == before + 1


def test_small_work_stays_on_one_thread(threads):
    threads(16)
    assert threads_for(100, 1 << 16) == 1
    assert threads_for((1 << 17) - 1, 1 << 16) == 1
    if _platform.openmp_enabled():
        assert threads_for(1 << 17, 1 << 16) == 2
        assert threads_for(1 << 30, 1 << 16) == 16


@needs_openmp
def test_threadpoolctl_sees_and_limits_our_openmp_runtime():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = threadpoolctl.threadpool_info()
    assert any(p["user_api"] == "openmp" for p in info), info
    before = zk.get_num_threads()
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert zk.get_num_threads() == 1
    assert zk.get_num_threads() == before


@needs_openmp
def test_omp_num_threads_environment_variable_is_honoured():
    proc = run_python("import zk_layers as zk; print(zk.get_num_threads())", {"OMP_NUM_THREADS": "3"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "3"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_after_parallel_region_does_not_hang():
    """GNU OpenMP hangs in a child forked after a parallel region, unless we act."""
    code = """
        import multiprocessing as mp
        import numpy as np
        import zk_layers as zk
        from zk_layers._threads import GRAINS
        GRAINS.elementwise = 1
        zk.set_num_threads(2)
        x = np.linspace(-1, 1, 10_001)
        parent = zk.Relu().forward(x)   # runs a parallel region in the parent

        def child(queue):
            queue.put((zk.get_num_threads(), zk.Relu().forward(x).tolist()))

        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        proc = ctx.Process(target=child, args=(queue,))
        proc.start()
        n_threads, result = queue.get(timeout=60)
        proc.join(60)
        assert proc.exitcode == 0, proc.exitcode
        assert n_threads == 1, n_threads
        assert np.array_equal(np.array(result), parent)
        print("ok")
    """
    proc = run_python(code, timeout=120, drop_env=("OMP_NUM_THREADS",))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_show_config_reports_openmp_threads_and_blas(capsys):
    zk.show_config()
    out = capsys.readouterr().out
    assert f"zk_layers {zk.__version__}" in out
    assert ("openmp:     enabled" in out) == _platform.openmp_enabled()
    assert f"threads:    {zk.get_num_threads()}" in out
    assert "numpy:      " + np.__version__ in out
    assert "blas:" in out


def _longest_stall(call):
    """Run ``call()`` while another Python thread stamps the clock in a loop;
    return (the call's duration, the longest gap between two stamps that
    overlaps the call).  A call that holds the GIL stops the other thread
    for its whole duration; one that releases it, at most for the moments
    it takes the GIL back (a switch interval, 5 ms)."""
    stamps = []
    done = threading.Event()

    def stamp():
        while not done.is_set():
            stamps.append(time.perf_counter())

    thread = threading.Thread(target=stamp)
    thread.start()
    while len(stamps) < 1000:  # the stamping thread is running
        time.sleep(0.001)
    start = time.perf_counter()
    call()
    end = time.perf_counter()
    time.sleep(0.02)  # a few stamps after the call
    done.set()
    thread.join()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False) if b > start and a < end]
    return end - start, max(gaps, default=end - start)


def test_kernels_release_the_gil_on_large_work():
    """While one Python thread runs a long kernel, another makes progress."""
    x = np.random.default_rng(0).standard_normal(20_000_000)
    layer = zk.Sigmoid()
    with zk.limit_threads(1):
        duration, stall = _longest_stall(lambda: layer.forward(x))
    assert duration > 0.05
    assert stall < 0.3 * duration, (duration, stall)


def test_gil_check_fails_for_a_call_that_holds_the_gil():
    """The negative control of the test above: sorting a list is one C call
    that holds the GIL throughout; the same check must see the stall."""
    values = np.random.default_rng(0).standard_normal(1_500_000).tolist()
    duration, stall = _longest_stall(lambda: sorted(values))
    assert duration > 0.05
    assert stall > 0.6 * duration, (duration, stall)


def test_passive_wait_policy_is_set_only_for_the_runtime_and_only_if_unset():
    """libgomp gets OMP_WAIT_POLICY=PASSIVE at load; the environment is left as it was."""
    code = """
        import os, zk_layers
        print(zk_layers._PASSIVE_WAIT_SET, os.environ.get("OMP_WAIT_POLICY"))
    """
    proc = run_python(code, drop_env=("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "None"]
    proc = run_python(code, {"OMP_WAIT_POLICY": "active"})
    assert proc.stdout.split() == ["False", "active"]


def test_the_compiled_core_imports_nothing_of_the_package():
    """No compiled module imports a module of the package: the glue takes
    its kernels and the thread policy as capsules that zk_layers._kernels
    hands it (bind), and the kernels take nothing (src/ holds the sources)."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "src"
    if not src.is_dir():
        pytest.skip("src/ is not next to the tests (a run outside the source tree)")
    pattern = re.compile(r"^\s*(?:from\s+zk_layers\b|c?import\s+zk_layers\b)", re.MULTILINE)
    # The scan sees the imports it forbids (a negative control).
    assert pattern.search("x = 1\nfrom zk_layers._platform import threads_for as _threads_for\n")
    assert pattern.search("    cimport zk_layers._platform\n")
    sources = [*src.glob("*.pyx"), *src.glob("*.pxd"), *src.glob("*.pxi"), *src.glob("*.tp")]
    assert len(sources) > 5
    assert [path.name for path in sources if pattern.search(path.read_text())] == []


def test_the_compiled_core_names_no_layer_attribute():
    """The compiled code reads and writes no attribute of a layer: the
    layers hand arrays in and take arrays back.  The one generic access is
    _platform.take_owned's, whose attribute name comes from its caller."""
    import re
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "src"
    if not src.is_dir():
        pytest.skip("src/ is not next to the tests (a run outside the source tree)")
    pattern = re.compile(r"\b(?:getattr|setattr|delattr)\(|\blayer\.|\.__dict__|\bPyObject_(?:Get|Set)Attr")
    # The scan sees what it forbids (a negative control).
    assert pattern.search("    cdef object pair = getattr(layer, '_y2d', None)")
    assert pattern.search("    layer.y = None")
    found = set()
    for path in [*src.glob("*.pyx"), *src.glob("*.pxd"), *src.glob("*.pxi"), *src.glob("*.tp")]:
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0]
            if pattern.search(code):
                found.add(path.name)
    assert found <= {"_platform.pyx"}, found
