"""Concurrency: Python threads, OpenMP inside threads, fork/spawn/forkserver,
a second OpenMP runtime (PyTorch's), threadpoolctl, and bitwise determinism.

The thread-safety rules these tests back are written down in
docs/reliability.md: kernels and the reference are reentrant and may run in
any number of Python threads at once on shared read-only inputs; a layer
object keeps state between ``forward`` and ``backward``, so one layer object
must not be used by two threads at the same time.
"""
from __future__ import annotations

import importlib.util
import os
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import arrange, run_python
from numpy.testing import assert_allclose, assert_array_equal

import zk_layers as zk
from zk_layers import _platform
from zk_layers import reference as ref

needs_openmp = pytest.mark.skipif(not _platform.openmp_enabled(), reason="built without OpenMP")

N_PYTHON_THREADS = 8


# ---------------------------------------------------------------------------
# Shared inputs: >= 1e5 elements each, so every kernel runs without the GIL
# ---------------------------------------------------------------------------

def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _shared_inputs(dtype) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2024)
    n, d, m, c = 400, 300, 50, 60
    inputs = {
        "x": rng.standard_normal((n, d)).astype(dtype) * 4,   # 120,000 elements
        "dout": rng.standard_normal((n, d)).astype(dtype),
        "W": rng.standard_normal((d, m)).astype(dtype) / 10,
        "b": rng.standard_normal(m).astype(dtype),
        "dout_affine": rng.standard_normal((n, m)).astype(dtype),
        "scores": rng.standard_normal((2000, c)).astype(dtype) * 3,  # 120,000 elements
        "labels": rng.integers(0, c, 2000),
    }
    inputs["labels"][:2] = [0, c - 1]
    return {k: _read_only(v) for k, v in inputs.items()}


def _all_layers(impl, inp: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Forward and backward of every layer, on fresh layer objects."""
    results = []
    relu = impl.Relu()
    results += [relu.forward(inp["x"]), relu.backward(inp["dout"])]
    sigmoid = impl.Sigmoid()
    results += [sigmoid.forward(inp["x"]), sigmoid.backward(inp["dout"])]
    affine = impl.Affine(inp["W"], inp["b"])
    results += [affine.forward(inp["x"]), affine.backward(inp["dout_affine"]), affine.dW, affine.db]
    for eps in (1e-7, 0.0):
        loss = impl.SoftmaxWithLoss(eps=eps)
        results += [np.array(loss.forward(inp["scores"], inp["labels"])), loss.y, loss.backward(0.5)]
    mul = impl.MulLayer()
    results += [mul.forward(inp["x"], inp["dout"]), *mul.backward(inp["dout"])]
    return results


# Affine's products go through BLAS, whose own threading is outside our
# control: compare them to rounding; everything computed by our kernels
# (including Affine's bias add and db) must be bitwise equal.
PRODUCT_INDEXES = {4, 5, 6}  # affine.forward, affine.backward (dx), affine.dW


def _assert_same(results: list[np.ndarray], expected: list[np.ndarray], dtype) -> None:
    assert len(results) == len(expected)
    for i, (a, e) in enumerate(zip(results, expected, strict=True)):
        assert a.dtype == e.dtype and a.shape == e.shape, i
        if i in PRODUCT_INDEXES:
            scale = float(np.max(np.abs(e))) if e.size else 0.0
            rtol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
            assert_allclose(a, e, rtol=rtol, atol=rtol * scale, err_msg=f"result {i}")
        else:
            assert_array_equal(a, e, err_msg=f"result {i}")


def _run_in_threads(impl, inp, expected, dtype, repeats: int = 3) -> None:
    barrier = threading.Barrier(N_PYTHON_THREADS)
    inside = []

    def task(i: int) -> int:
        barrier.wait()  # all threads start together
        inside.append(zk.get_num_threads())
        for _ in range(repeats):
            _assert_same(_all_layers(impl, inp), expected, dtype)
        return i

    with ThreadPoolExecutor(max_workers=N_PYTHON_THREADS) as pool:
        done = list(pool.map(task, range(N_PYTHON_THREADS), timeout=120))
    assert done == list(range(N_PYTHON_THREADS))
    assert len(inside) == N_PYTHON_THREADS


# ---------------------------------------------------------------------------
# (a) Python threads
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_eight_python_threads_share_inputs_default_grains(dtype):
    """8 threads run every layer at once on shared read-only inputs (each
    thread its own layer objects): the results equal the serial ones and the
    inputs are untouched.  Default grains: one OpenMP thread per call, GIL released."""
    inp = _shared_inputs(dtype)
    before = {k: v.copy() for k, v in inp.items()}
    expected = _all_layers(zk, inp)
    _run_in_threads(zk, inp, expected, dtype)
    for k, v in inp.items():
        assert_array_equal(v, before[k], err_msg=k)


@needs_openmp
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_eight_python_threads_each_running_openmp_regions(dtype, tiny_grain, threads):
    """The same with set_num_threads(2) and every grain at 1: each of the 8
    Python threads opens its own 2-thread OpenMP regions, concurrently."""
    inp = _shared_inputs(dtype)
    with zk.limit_threads(1):
        expected = _all_layers(zk, inp)
    threads(2)
    assert zk.get_num_threads() == 2
    _run_in_threads(zk, inp, expected, dtype)


@needs_openmp
def test_python_threads_running_convolutions_that_split_their_images(threads):
    """Convolution splits its images over helper threads (run_parts) when
    more than one thread is allowed.  Eight Python threads, each with its own
    layer on the book's shapes, share those helpers at once: the results
    are bitwise the one-thread ones, and the read-only input is untouched."""
    rng = np.random.default_rng(7)
    x = _read_only(rng.random((100, 1, 28, 28), dtype=np.float32))
    W = _read_only(0.01 * rng.standard_normal((30, 1, 5, 5)))
    b = _read_only(rng.standard_normal(30))
    dout = _read_only(rng.standard_normal((100, 30, 24, 24)))

    def run() -> list[np.ndarray]:
        conv = zk.Convolution(W, b)
        out = conv.forward(x)
        return [out, conv.backward(dout), conv.dW, conv.db]

    with zk.limit_threads(1):
        expected = run()
    threads(2)
    from zk_layers.convolution import _image_parts

    assert _image_parts(100, 30 * 25 * 576, 100 * 25 * 576) == 2
    barrier = threading.Barrier(N_PYTHON_THREADS)

    def worker(_: int) -> list[np.ndarray]:
        barrier.wait()
        return [r for _ in range(3) for r in run()][-4:]

    with ThreadPoolExecutor(N_PYTHON_THREADS) as pool:
        results = list(pool.map(worker, range(N_PYTHON_THREADS)))
    for got in results:
        for a, e in zip(got, expected, strict=True):
            assert_array_equal(a, e)


def test_reference_is_reentrant():
    """The NumPy reference, too, runs in 8 threads at once with equal results."""
    inp = _shared_inputs(np.float64)
    expected = _all_layers(ref, inp)
    _run_in_threads(ref, inp, expected, np.float64, repeats=1)


@needs_openmp
def test_limit_threads_is_private_to_each_python_thread(tiny_grain, threads):
    """limit_threads in one thread never leaks into another running at the same
    time: each of 8 threads sees its own limit before and after its kernels."""
    threads(2)
    inp = _shared_inputs(np.float64)
    with zk.limit_threads(1):
        expected = _all_layers(zk, inp)
    barrier = threading.Barrier(N_PYTHON_THREADS)

    def task(i: int) -> tuple[int, int, int]:
        limit = 1 + i % 3  # 1, 2 or 3 threads
        with zk.limit_threads(limit):
            barrier.wait()
            seen_before = zk.get_num_threads()
            _assert_same(_all_layers(zk, inp), expected, np.float64)
            seen_after = zk.get_num_threads()
        return limit, seen_before, seen_after

    with ThreadPoolExecutor(max_workers=N_PYTHON_THREADS) as pool:
        for limit, seen_before, seen_after in pool.map(task, range(N_PYTHON_THREADS), timeout=120):
            assert seen_before == seen_after == limit
    assert zk.get_num_threads() == 2


# ---------------------------------------------------------------------------
# (c) fork, spawn and forkserver children
# ---------------------------------------------------------------------------

WORKER_MODULE = '''
"""Picklable worker for the multiprocessing tests (written by test_concurrency.py)."""
import numpy as np
import zk_layers as zk
from zk_layers._threads import GRAINS


def init():
    """Force parallel regions in the worker: every grain 1, two threads."""
    GRAINS.elementwise = GRAINS.exp = GRAINS.rowwise = 1
    zk.set_num_threads(2)


def work(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((301, 67))
    t = rng.integers(0, 67, 301)
    W, b = rng.standard_normal((67, 13)), rng.standard_normal(13)
    out = []
    relu = zk.Relu(); out += [relu.forward(x), relu.backward(x)]
    sig = zk.Sigmoid(); out += [sig.forward(x), sig.backward(x)]
    aff = zk.Affine(W, b); out += [aff.forward(x), aff.backward(np.ones((301, 13))), aff.db]
    loss = zk.SoftmaxWithLoss(eps=0); out += [np.array(loss.forward(x, t)), loss.backward()]
    return zk.get_num_threads(), GRAINS.elementwise, [a.tolist() for a in out]
'''


def _multiprocessing_scenario(method: str, tmp_path) -> None:
    (tmp_path / "zk_mp_worker.py").write_text(WORKER_MODULE)
    code = f"""
        import multiprocessing as mp
        import numpy as np
        import zk_layers as zk
        import zk_mp_worker as w

        w.init()
        zk.set_num_threads(2)
        w.work(0)  # a parallel region in the parent before any child starts
        with zk.limit_threads(1):
            serial = {{seed: w.work(seed)[2] for seed in (1, 2, 3, 4)}}
        ctx = mp.get_context({method!r})
        with ctx.Pool(2, initializer=w.init) as pool:
            results = pool.map_async(w.work, [1, 2, 3, 4]).get(timeout=90)
        for seed, (n_threads, grain, arrays) in zip((1, 2, 3, 4), results):
            assert grain == 1, grain
            for a, e in zip(arrays, serial[seed]):
                assert np.allclose(a, e, rtol=1e-12, atol=1e-14), seed
            print("child", n_threads)
        # The parent still runs parallel regions after its children, with the same results.
        n_threads, _, again = w.work(1)
        assert n_threads == (2 if zk.get_num_threads() > 1 else 1)
        assert all(np.array_equal(a, e) for a, e in zip(again, serial[1]))
        print("ok")
    """
    proc = run_python(code, {"PYTHONPATH": str(tmp_path)}, timeout=150, drop_env=("OMP_NUM_THREADS",))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.split("\n")
    assert lines.count("ok") == 1, proc.stdout
    children = [int(line.split()[1]) for line in lines if line.startswith("child ")]
    assert len(children) == 4
    if _platform.openmp_enabled():
        # A forked child runs its kernels on one thread (GNU OpenMP would hang);
        # spawn and forkserver children are fresh processes with 2 threads.
        assert children == ([1] * 4 if method == "fork" else [2] * 4), children


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pool_workers_after_parent_parallel_region(method, tmp_path):
    """A Pool of each start method, created after the parent ran OpenMP
    regions, completes (timeout) and computes the serial results."""
    import multiprocessing as mp

    if method not in mp.get_all_start_methods():
        pytest.skip(f"no {method} start method on this platform")
    _multiprocessing_scenario(method, tmp_path)


# ---------------------------------------------------------------------------
# (d) PyTorch (its own OpenMP runtime) in the same process
# ---------------------------------------------------------------------------

TORCH_SCENARIO = """
    import numpy as np
    {first}
    {second}
    from zk_layers._threads import GRAINS

    def torch_op():
        a = torch.arange(250_000, dtype=torch.float64).reshape(500, 500) / 250_000
        return float((a @ a).sum())

    def zk_op():
        rng = np.random.default_rng(1)
        x = rng.standard_normal((401, 77))
        t = rng.integers(0, 77, 401)
        relu, sig, loss = zk.Relu(), zk.Sigmoid(), zk.SoftmaxWithLoss(eps=0)
        aff = zk.Affine(rng.standard_normal((77, 9)), rng.standard_normal(9))
        out = [relu.forward(x), relu.backward(x), sig.forward(x), sig.backward(x), aff.forward(x)]
        out += [aff.backward(np.ones((401, 9))), aff.db, np.array(loss.forward(x, t)), loss.backward()]
        return out

    torch.set_num_threads(2)
    reference_sum = torch_op()
    GRAINS.elementwise = GRAINS.exp = GRAINS.rowwise = 1
    with zk.limit_threads(1):
        serial = zk_op()
    zk.set_num_threads(2)
    for round in range(3):  # interleave the two runtimes
        assert torch_op() == reference_sum
        for a, e in zip(zk_op(), serial):
            assert np.array_equal(a, e)
    print("ok", torch.get_num_threads(), zk.get_num_threads())
"""


@pytest.mark.parametrize("order", ["torch-first", "zk-first"])
def test_with_pytorch_openmp_runtime_in_the_same_process(order):
    """torch and zk_layers, each with 2 OpenMP threads, interleaved in one
    process: no hang (timeout), bitwise the serial results."""
    if importlib.util.find_spec("torch") is None:  # not importorskip: keep torch out of this process
        pytest.skip("torch is not installed")
    imports = ["import torch", "import zk_layers as zk"]
    if order == "zk-first":
        imports.reverse()
    code = textwrap.dedent(TORCH_SCENARIO).format(first=imports[0], second=imports[1])
    proc = run_python(code, timeout=180, drop_env=("OMP_NUM_THREADS",))
    assert proc.returncode == 0, proc.stderr[-3000:]
    words = proc.stdout.split()
    assert words[0] == "ok", proc.stdout
    assert words[1] == "2"
    if _platform.openmp_enabled():
        assert words[2] == "2"


# ---------------------------------------------------------------------------
# (e) threadpoolctl
# ---------------------------------------------------------------------------

@needs_openmp
@pytest.mark.parametrize("limit", [1, 2])
def test_results_under_threadpool_limits(limit, tiny_grain):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    inp = _shared_inputs(np.float64)
    with zk.limit_threads(1):
        expected = _all_layers(zk, inp)
    with threadpoolctl.threadpool_limits(limit):
        assert zk.get_num_threads() == min(limit, len(os.sched_getaffinity(0))) or os.environ.get("OMP_NUM_THREADS")
        _assert_same(_all_layers(zk, inp), expected, np.float64)
    with threadpoolctl.threadpool_limits(limit, user_api="openmp"):
        _assert_same(_all_layers(zk, inp), expected, np.float64)


# ---------------------------------------------------------------------------
# (f) bitwise determinism for 1, 2 and 4 threads on other shapes
# ---------------------------------------------------------------------------

def _determinism_suite(dtype) -> list[np.ndarray]:
    """Every layer, forward and backward: 3-D elementwise inputs, Fortran
    order, one-hot labels, eps=0, odd sizes."""
    rng = np.random.default_rng(99)
    out = []
    x3 = arrange((rng.standard_normal((13, 17, 19)) * 6).astype(dtype), "F")
    d3 = rng.standard_normal((13, 17, 19)).astype(dtype)
    for layer in (zk.Relu(), zk.Sigmoid()):
        out += [layer.forward(x3), layer.backward(d3)]
    x4 = rng.standard_normal((5, 3, 7, 11)).astype(dtype)
    for layer in (zk.Relu(), zk.Sigmoid()):
        out += [layer.forward(x4), layer.backward(np.asfortranarray(x4))]
    W = rng.standard_normal((3 * 7 * 11, 23)).astype(dtype)
    b = rng.standard_normal(23).astype(dtype)
    affine = zk.Affine(np.asfortranarray(W), b)
    out.append(affine.forward(x4))
    out += [affine.backward(arrange(rng.standard_normal((5, 23)).astype(dtype), "F")), affine.dW, affine.db]
    scores = arrange((rng.standard_normal((211, 31)) * 5).astype(dtype), "F")
    onehot = np.eye(31)[rng.integers(0, 31, 211)]
    onehot[0], onehot[1] = np.eye(31)[0], np.eye(31)[30]
    for eps in (0.0, 1e-7):
        for t in (onehot, onehot.argmax(axis=1)):
            loss = zk.SoftmaxWithLoss(eps=eps)
            out += [np.array(loss.forward(scores, t)), loss.y, loss.backward(), loss.backward(-1.5)]
    single = zk.SoftmaxWithLoss(eps=0)
    out += [np.array(single.forward(scores[0], 7)), single.backward()]
    return out


@needs_openmp
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_bitwise_identical_for_1_2_4_threads(dtype, tiny_grain, threads):
    results = {}
    for n in (1, 2, 4):
        threads(n)
        assert zk.get_num_threads() == n
        results[n] = _determinism_suite(dtype)
    for n in (2, 4):
        assert len(results[n]) == len(results[1])
        for i, (a, e) in enumerate(zip(results[n], results[1], strict=True)):
            assert a.dtype == e.dtype and a.shape == e.shape, (n, i)
            assert_array_equal(a, e, err_msg=f"{n} threads, result {i}")
