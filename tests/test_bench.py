"""The benchmark: its baseline is the book's code and computes what the oracle
computes; its rows compare like with like; the report says what it promises;
its options validate."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from conftest import tolerance

import zk_layers as zk
from zk_layers import baseline, bench
from zk_layers import layers as fast_layers
from zk_layers.bench import _cli, _driver, _torch, _workloads
from zk_layers.cli import main
from zk_layers.datasets import write_idx


# ---------------------------------------------------------------- baseline
def test_baseline_layers_agree_with_the_oracle(dtype, rng):
    tol = tolerance(dtype)
    x = rng.standard_normal((6, 5)).astype(dtype)
    x[0, :2] = 0  # the gradient at 0 is 0 in both
    dout = rng.standard_normal((6, 5)).astype(dtype)
    for book, oracle in ((baseline.Relu(), zk.reference.Relu()), (baseline.Sigmoid(), zk.reference.Sigmoid())):
        np.testing.assert_allclose(book.forward(x), oracle.forward(x), **tol)
        expected = oracle.backward(dout)
        np.testing.assert_allclose(book.backward(dout.copy()), expected, **tol)

    # Affine on a batch of 3-D samples (flattened to D = 12), dx in their shape.
    W = rng.standard_normal((12, 4)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    x3 = rng.standard_normal((6, 3, 4)).astype(dtype)
    dy = rng.standard_normal((6, 4)).astype(dtype)
    book_affine, oracle_affine = baseline.Affine(W, b), zk.reference.Affine(W, b)
    np.testing.assert_allclose(book_affine.forward(x3), oracle_affine.forward(x3), **tol)
    dx = book_affine.backward(dy)
    assert dx.shape == x3.shape
    np.testing.assert_allclose(dx, oracle_affine.backward(dy), **tol)
    np.testing.assert_allclose(book_affine.dW, oracle_affine.dW, **tol)
    np.testing.assert_allclose(book_affine.db, oracle_affine.db, **tol)

    scores = (3 * rng.standard_normal((6, 10))).astype(dtype)
    labels = rng.integers(0, 10, 6)
    for t in (labels, np.eye(10)[labels]):  # class indices and one-hot rows
        book_loss, oracle_loss = baseline.SoftmaxWithLoss(), zk.reference.SoftmaxWithLoss()
        assert book_loss.forward(scores, t) == pytest.approx(oracle_loss.forward(scores, t), rel=tol["rtol"])
        np.testing.assert_allclose(book_loss.y, oracle_loss.y, **tol)
        np.testing.assert_allclose(book_loss.backward(1), oracle_loss.backward(1), **tol)


def test_baseline_relu_backward_writes_into_dout_as_the_book_does():
    relu = baseline.Relu()
    relu.forward(np.array([[-1.0, 2.0, 0.0]]))
    dout = np.array([[5.0, 6.0, 7.0]])
    dx = relu.backward(dout)
    assert dx is dout
    np.testing.assert_array_equal(dout, [[0.0, 6.0, 0.0]])


def test_baseline_softmax_of_one_vector_and_cross_entropy_of_one_sample():
    y = baseline.softmax(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(y, np.exp([1.0, 2.0, 3.0]) / np.exp([1.0, 2.0, 3.0]).sum(), rtol=1e-15)
    assert baseline.cross_entropy_error(y, np.array([0.0, 0.0, 1.0])) == pytest.approx(-np.log(y[2] + 1e-7))


def _book_nets(dtype=np.float64):
    """The book's net twice from one seed: its own layers, and zk_layers'."""
    return [baseline.TwoLayerNet(12, 7, 4, layer_module=module, rng=np.random.RandomState(3), dtype=dtype)
            for module in (baseline, fast_layers)]


@pytest.mark.parametrize("one_hot", [False, True])
def test_book_net_gradients_agree_on_either_layer_set_and_with_the_oracle_net(dtype, rng, one_hot):
    book, ours = _book_nets(dtype)
    assert isinstance(ours.layers["Affine1"], fast_layers.Affine)
    assert isinstance(ours.lastLayer, fast_layers.SoftmaxWithLoss)
    oracle = zk.TwoLayerNet(12, 7, 4, dtype=dtype, backend="reference")
    for key in book.params:
        oracle.params[key][...] = book.params[key]
        np.testing.assert_array_equal(ours.params[key], book.params[key])
    x = rng.random((5, 12)).astype(dtype)
    labels = rng.integers(0, 4, 5)
    t = np.eye(4)[labels] if one_hot else labels
    tol = tolerance(dtype)
    expected = oracle.gradient(x, t)
    for net in (book, ours):
        grads = net.gradient(x, t)
        assert sorted(grads) == ["W1", "W2", "b1", "b2"]
        for key, value in expected.items():
            np.testing.assert_allclose(grads[key], value, **tol)
        assert net.loss(x, t) == pytest.approx(oracle.loss(x, t), rel=tol["rtol"])
        assert net.accuracy(x, t) == oracle.accuracy(x, t)


def test_train_iteration_is_the_books_loop_body():
    """One iteration draws the batch with rng.choice, updates with
    params -= 0.1 * grad, and returns the loss after the update; both layer
    sets follow the same trajectory."""
    rng = np.random.default_rng(0)
    x_train = rng.random((30, 12)).astype(np.float32)
    t_train = np.eye(4)[rng.integers(0, 4, 30)]
    book, ours = _book_nets()
    before = {key: value.copy() for key, value in book.params.items()}
    batch = np.random.RandomState(7).choice(30, 8)
    copy = baseline.TwoLayerNet(12, 7, 4, rng=np.random.RandomState(3))
    grads = copy.gradient(x_train[batch], t_train[batch])

    losses = {}
    for name, net in (("book", book), ("ours", ours)):
        draws = np.random.RandomState(7)
        losses[name] = [float(baseline.train_iteration(net, x_train, t_train, batch_size=8, rng=draws))
                        for _ in range(4)]
    np.testing.assert_allclose(losses["ours"], losses["book"], rtol=1e-10)

    first = baseline.TwoLayerNet(12, 7, 4, rng=np.random.RandomState(3))
    loss = baseline.train_iteration(first, x_train, t_train, batch_size=8, rng=np.random.RandomState(7))
    for key in before:
        np.testing.assert_allclose(first.params[key], before[key] - 0.1 * grads[key], rtol=1e-12, atol=1e-15)
    assert float(loss) == pytest.approx(losses["book"][0], rel=1e-12)


# ---------------------------------------------------------------- book-loop data
def test_book_loop_data_upscales_the_digits_without_mnist(monkeypatch):
    monkeypatch.delenv(bench.MNIST_ENV, raising=False)
    x, t, source = bench.book_loop_data()
    (digits, labels), _ = zk.load_digits(one_hot_label=True, dtype=np.float32)
    assert x.shape == (len(digits), 784) and x.dtype == np.float32 and x.flags.c_contiguous
    assert t.dtype == np.float64 and np.array_equal(t, labels)  # one-hot, as the book's loader gives them
    images = x.reshape(-1, 28, 28)
    assert not images[:, :2].any() and not images[:, -2:].any() and not images[:, :, :2].any()
    np.testing.assert_array_equal(images[:, 2:26:3, 2:26:3], digits.reshape(-1, 8, 8))
    np.testing.assert_array_equal(images[:, 4:26:3, 4:26:3], digits.reshape(-1, 8, 8))
    assert 0 <= x.min() and x.max() <= 1
    assert "digits" in source and "28x28" in source


def test_book_loop_data_reads_mnist_from_the_environment(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (20, 28, 28))
    train_labels = rng.integers(0, 10, 20)
    write_idx(tmp_path / "train-images-idx3-ubyte", train)
    write_idx(tmp_path / "train-labels-idx1-ubyte", train_labels)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", train[:3])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", train_labels[:3])
    monkeypatch.setenv(bench.MNIST_ENV, str(tmp_path))
    x, t, source = bench.book_loop_data()
    np.testing.assert_array_equal(x, (train.astype(np.float32) / np.float32(255.0)).reshape(20, 784))
    np.testing.assert_array_equal(t.argmax(axis=1), train_labels)
    assert "MNIST" in source and "20 training images" in source


# ---------------------------------------------------------------- like for like
@pytest.mark.parametrize("op", ["relu", "sigmoid"])
def test_out_rows_compute_the_same_on_both_sides(op, dtype):
    spec = {"N": 16, "H": 33}
    results = [_workloads._out_workload(side, op, spec, np.dtype(dtype), np.random.default_rng(0))()
               for side in ("fast", "book")]
    assert results[0].dtype == results[1].dtype == dtype
    np.testing.assert_allclose(results[0], results[1], **tolerance(dtype))


def test_step_rows_run_the_books_net_on_both_sides():
    rows = _workloads._step_workloads(bench.SIZES["n8"], np.dtype(np.float64), np.random.default_rng(0))
    assert set(rows) == {bench.BOOK_NET_MODE, bench.PACKAGE_NET_MODE}
    grads = {side: step() for side, step in rows[bench.BOOK_NET_MODE].items()}
    for key in grads["book"]:
        np.testing.assert_allclose(grads["fast"][key], grads["book"][key], rtol=1e-10, atol=1e-15)


# ---------------------------------------------------------------- the report
def test_run_reports_the_book_loop_first_and_ratios_against_the_book(monkeypatch):
    monkeypatch.delenv(bench.MNIST_ENV, raising=False)
    monkeypatch.setattr(_driver, "OUT_SIZES", ("n1",))  # forward(out=) rows without large arrays
    report = bench.run(["relu", "softmax", "step", "book-loop"], ["n1"], ["float64"], [1], samples=3,
                       sample_ms=0.5, use_torch=False)
    cases = report["cases"]
    assert [(c["op"], c["mode"]) for c in cases] == [
        ("book-loop", bench.BOOK_LOOP_MODE),
        ("relu", "forward"), ("relu", "backward"), ("relu", "forward+backward"), ("relu", bench.FRESH_MODE),
        ("relu", "forward(out=)"),
        ("softmax", "forward"), ("softmax", "backward"), ("softmax", "forward+backward"),
        ("step", bench.BOOK_NET_MODE), ("step", bench.PACKAGE_NET_MODE)]
    for c in cases:
        assert "reference" not in c["medians_s"]
        assert c["medians_s"]["fast"] > 0 and c["medians_s"]["book"] > 0
        assert c["ratio_book"] == pytest.approx(c["medians_s"]["book"] / c["medians_s"]["fast"])
        assert c["threads"] == 1
        # The oracle is timed only where it does the same work as a layer call.
        assert ("oracle" in c["medians_s"]) == (c["mode"] in (*bench.MODES, bench.FRESH_MODE))
        if "oracle" in c["medians_s"]:
            assert c["ratio_oracle"] == pytest.approx(c["medians_s"]["oracle"] / c["medians_s"]["fast"])
    book_loop = cases[0]
    assert book_loop["size"] == "book" and book_loop["dtype"] == "mixed" and book_loop["shape"] == "N=100, 784-50-10"
    assert "digits upscaled" in book_loop["note"] and "digits upscaled" in report["book_loop_data"]
    assert "first layer's dx" in cases[-1]["note"] and "skips" in cases[-1]["note"]
    assert "same work" in cases[-2]["note"]
    assert "np.maximum" in cases[5]["note"]
    assert "fresh layer per call" in cases[4]["note"]
    assert report["machine"]["usable_cpus"] >= 1
    assert any(p["user_api"] == "blas" for p in report["config"]["blas"]) or report["config"]["blas"] == []
    json.dumps(report)  # JSON-ready

    table = bench.format_table(report)
    lines = table.splitlines()
    assert "benchmark on" in lines[0] and any(line.startswith("book-loop data: the embedded") for line in lines)
    header = next(i for i, line in enumerate(lines) if line.startswith("op "))
    assert "book/fast" in lines[header] and "oracle" in lines[header] and "ref/" not in lines[header]
    assert lines[header + 1].startswith("book-loop ")
    assert any(line.startswith("[6] step zk.TwoLayerNet: ") for line in lines)  # [5]: the softmax note
    markdown = bench.format_table(report, markdown=True)
    assert markdown.count("\n| relu") == 5
    assert "| book-loop | book | mixed | 1 | train_neuralnet body [1] |" in markdown


def test_cli_bench_writes_json_and_markdown(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(bench.MNIST_ENV, raising=False)
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    assert main(["bench", "--ops", "sigmoid,book-loop", "--sizes", "tiny", "--threads", "1", "--samples", "3",
                 "--sample-ms", "0.5", "--no-torch", "--no-progress", "--json", str(out_json),
                 "--markdown", str(out_md)]) == 0
    data = json.loads(out_json.read_text())
    assert data["cases"][0]["op"] == "book-loop"
    assert {c["size"] for c in data["cases"][1:]} == {"n1", "n8"}
    assert "| sigmoid | n1 | float64 | 1 | forward |" in out_md.read_text()
    assert "sigmoid" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["bench", "--ops", "lstm"], "ops must be a comma-separated subset of book-loop, convnet-step, relu"),
    (["bench", "--ops", "conv,pooling"], "ops must be a comma-separated subset"),
    (["bench", "--sizes", "huge"], "sizes must be a comma-separated subset"),
    (["bench", "--threads", "0"], "threads must be comma-separated positive integers"),
    (["bench", "--dtypes", "float16"], "dtypes must be a comma-separated subset"),
])
def test_bad_bench_options(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("args,message", [
    (["--samples", "2"], "--samples must be at least 3, got 2"),
    (["--sample-ms", "0"], "--sample-ms must be positive, got 0.0"),
])
def test_bad_sample_options_are_value_errors(args, message, capsys):
    assert main(["bench", "--no-torch", "--no-progress", *args]) == 1
    assert message in capsys.readouterr().err


class _FakeClock:
    """A perf_counter whose every timed interval (one call between two reads)
    lasts ``step`` seconds: the probe's GB/s is then its byte count alone."""

    def __init__(self, step):
        self.now, self.step, self.reads = 0.0, step, 0

    def perf_counter(self):
        self.reads += 1
        if self.reads % 2 == 0:
            self.now += self.step
        return self.now


def test_bandwidth_probe_counts_bytes_read_and_written(monkeypatch):
    """The probe's arithmetic, without timing it: with each copy made to take
    exactly 10 ms, the figure is the bytes of one pass over 2**25 elements
    (an 8-byte read, a 1-byte mask read and an 8-byte write each) per 10 ms.  A wrong byte count, sample count or clock
    use moves it.  Timing the probe against np.copyto in a test is what
    failed under CI's parallel load, so only the arithmetic is asserted."""
    import types

    from zk_layers.bench import _timing

    clock = _FakeClock(0.010)
    monkeypatch.setattr(_timing, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    gbps = bench.measure_bandwidth(1, samples=5)
    assert clock.reads == 10
    assert gbps == pytest.approx(17 * (1 << 25) / 0.010 / 1e9, rel=1e-12)


def test_bandwidth_probe_runs_the_stream():
    """The real probe: a finite positive rate, with the kernel's first touch
    and samples done (no band on its value: a machine's bandwidth under load
    is not a test's to assert)."""
    gbps = bench.measure_bandwidth(1, samples=3)
    assert np.isfinite(gbps) and gbps > 0


def test_peer_outputs_are_checked_before_timing():
    """A peer that computes something else is an error, not a row."""
    from zk_layers import peers

    x = np.linspace(-1, 1, 12).reshape(3, 4)
    dout = np.ones((3, 4))
    expected = peers._expected("relu", x, dout, None, None, None, None, None)
    peers.check("numba", "relu", expected, expected)
    wrong = (np.maximum(x, 0), np.where(x >= 0, dout, 0))  # gradient 1 at x == 0: not the book's
    with pytest.raises(AssertionError, match="numba relu"):
        peers.check("numba", "relu", (expected[0], expected[1] + 1e-6), expected)
    peers.check("numba", "relu", wrong, expected)  # x has no exact zero: equal here
    with pytest.raises(AssertionError):
        peers.check("jax", "sigmoid", (x, dout), peers._expected("sigmoid", x, dout, None, None, None, None, None))


@pytest.mark.parametrize("peer", ["numba", "jax"])
def test_bench_peers_columns(peer):
    """In a child process: JAX starts threads, and later tests fork."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec(peer) is None:
        pytest.skip(f"{peer} is not installed")
    code = f"""if True:
        from zk_layers import bench
        report = bench.run(["relu", "softmax", "step"], ["n1"], ["float64"], [1], samples=3, sample_ms=1,
                           use_torch=False, with_peers=True)
        assert {peer!r} in report["peers"], report["peers"]
        fb = [c for c in report["cases"] if c["mode"] in ("forward+backward", "zk.TwoLayerNet")]
        assert fb and all({peer!r} in c["medians_s"] and c["best_peer"] is not None for c in fb)
        assert "best peer" in bench.format_table(report)
        print("ok")
    """
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr


@pytest.mark.parametrize("peer", ["numba", "jax"])
def test_peers_get_the_rows_thread_budget(peer):
    """A peer timed in a 1-thread row runs its products on one CPU: the
    process's CPU time stays near the wall time (two threads would take
    about twice).  Before: numba's SciPy BLAS loaded inside the
    threadpool_limits block and kept both CPUs; XLA_FLAGS did not size
    JAX's pool.  In a child process, as JAX's pool is sized once."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec(peer) is None:
        pytest.skip(f"{peer} is not installed")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs to tell one thread from two")
    code = f"""if True:
        import time
        import numpy as np
        from threadpoolctl import threadpool_limits
        from zk_layers import bench, peers

        versions = peers.available(1)
        assert {peer!r} in versions, versions
        spec = dict(bench.SIZES["mid"], affine_N=1000)
        with threadpool_limits(limits=1):
            work = peers.workloads("affine", spec, np.dtype("float64"), np.random.default_rng(0), versions, 1)
            fn = work[{peer!r}]
            fn()
            ratios = []
            for _ in range(3):
                wall, cpu = time.perf_counter(), time.process_time()
                fn(); fn()
                ratios.append((time.process_time() - cpu) / (time.perf_counter() - wall))
        assert min(ratios) < 1.3, ratios
        if {peer!r} == "jax":
            assert peers.jax_threads == 1
            two = peers.workloads("affine", spec, np.dtype("float64"), np.random.default_rng(0), versions, 2)
            assert "jax" not in two, "JAX's 1-thread pool in a 2-thread row"
        print("ok")
    """
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


def test_numba_without_scipy_stands_only_in_rows_without_products():
    """numba compiles ``@`` through SciPy's BLAS: without SciPy, the affine
    and step rows leave numba out instead of failing to compile."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed")
    code = """if True:
        import sys
        sys.modules["scipy"] = None  # as if SciPy were not installed
        import numpy as np
        from zk_layers import bench, peers

        versions = peers.available(1)
        versions.pop("jax", None)
        assert "numba" in versions and not peers.numba_has_blas
        spec = bench.SIZES["n1"]
        for op, present in (("relu", True), ("softmax", True), ("affine", False), ("step", False)):
            work = peers.workloads(op, spec, np.dtype("float64"), np.random.default_rng(0), versions, 1)
            assert ("numba" in work) is present, op
        print("ok")
    """
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


def test_peers_available_rejects_a_bad_thread_count():
    from zk_layers import peers

    for bad in (0, -1, 1.0, True, "1"):
        with pytest.raises(ValueError, match="threads must be a positive int"):
            peers.available(bad)


# ---------------------------------------------------------------- chapter 7
@pytest.mark.parametrize("op", ["conv", "pool"])
def test_conv_rows_compute_the_same_on_every_side(op, dtype):
    """fast, book and oracle get equal arrays from one seed and compute the
    same forward and backward (the book's im2col works in float64)."""
    work = {name: _workloads._conv_workloads(impl, op, np.dtype(dtype), np.random.default_rng(0))
            for name, impl in (("fast", zk.convolution), ("book", baseline), ("oracle", zk.reference))}
    tol = tolerance(dtype)
    forward = {name: w["forward"]() for name, w in work.items()}
    backward = {name: w["backward"]() for name, w in work.items()}
    shape = bench.CONV_SHAPES[op]
    expected_out = (100, 30, 24, 24) if op == "conv" else (100, 30, 12, 12)
    assert forward["fast"].shape == expected_out and forward["fast"].dtype == dtype
    assert backward["fast"].shape == (shape["N"], shape["C"], shape["H"], shape["W"])
    for name in ("book", "oracle"):
        np.testing.assert_allclose(forward["fast"], forward[name], **tol)
        np.testing.assert_allclose(backward["fast"], backward[name], **tol)
        np.testing.assert_allclose(work["fast"]["forward+backward"](), backward[name], **tol)


def test_convnet_step_rows_start_from_the_books_weights_and_agree(monkeypatch):
    """Every contender draws the same batches and starts from the book's
    weights after np.random.seed(0); the first step's gradients agree."""
    monkeypatch.delenv(bench.MNIST_ENV, raising=False)
    x_train, t_train = bench.convnet_step_data(bench.book_loop_data())
    assert x_train.shape[1:] == (1, 28, 28) and x_train.dtype == np.float32 and t_train.ndim == 1
    rows = _workloads._convnet_step_workloads(x_train, t_train, use_torch=False)
    assert list(rows) == [bench.BOOK_NET_MODE, bench.CONVNET_MODE, bench.CONVNET32_MODE]
    grads = {mode: {side: step() for side, step in contenders.items()} for mode, contenders in rows.items()}
    book = grads[bench.BOOK_NET_MODE]["book"]
    assert sorted(book) == ["W1", "W2", "W3", "b1", "b2", "b3"] and book["W1"].dtype == np.float64
    for mode, rtol in ((bench.BOOK_NET_MODE, 1e-9), (bench.CONVNET_MODE, 1e-9), (bench.CONVNET32_MODE, 1e-3)):
        for key, value in book.items():
            scale = np.max(np.abs(value))
            assert np.max(np.abs(grads[mode]["fast"][key] - value)) <= rtol * scale, (mode, key)
            np.testing.assert_array_equal(grads[mode]["book"][key], value)
    # The second step draws a new batch: different gradients.
    again = rows[bench.CONVNET_MODE]["fast"]()
    assert not np.allclose(again["W2"], grads[bench.CONVNET_MODE]["fast"]["W2"])


def test_run_reports_the_chapter_7_rows(monkeypatch):
    monkeypatch.delenv(bench.MNIST_ENV, raising=False)
    report = bench.run(["pool", "convnet-step", "relu", "conv"], ["n1"], ["float32"], [1], samples=3,
                       sample_ms=0.5, use_torch=False)
    cases = report["cases"]
    assert [(c["op"], c["size"], c["dtype"], c["mode"]) for c in cases] == [
        ("convnet-step", "book", "mixed", bench.BOOK_NET_MODE),
        ("convnet-step", "book", "mixed", bench.CONVNET_MODE),
        ("convnet-step", "book", "mixed", bench.CONVNET32_MODE),
        ("relu", "n1", "float32", "forward"), ("relu", "n1", "float32", "backward"),
        ("relu", "n1", "float32", "forward+backward"), ("relu", "n1", "float32", bench.FRESH_MODE),
        ("pool", "book", "float32", "forward"), ("pool", "book", "float32", "backward"),
        ("pool", "book", "float32", "forward+backward"),
        ("conv", "book", "float32", "forward"), ("conv", "book", "float32", "backward"),
        ("conv", "book", "float32", "forward+backward")]
    for c in cases:
        assert c["medians_s"]["fast"] > 0
        assert c["ratio_book"] == pytest.approx(c["medians_s"]["book"] / c["medians_s"]["fast"])
    assert cases[0]["shape"] == "N=100, 1x28x28, conv 30x5x5, pool 2x2, 100, 10"
    assert cases[-1]["shape"] == "N=100, 1x28x28, 30 filters 5x5, stride 1, pad 0"
    assert cases[7]["shape"] == "N=100, 30x24x24, max 2x2, stride 2, pad 0"
    assert "same work" in cases[0]["note"] and "digits upscaled" in cases[0]["note"]
    assert "skips Conv1's dx" in cases[1]["note"] and "float32 weights" in cases[2]["note"]
    assert "oracle" in cases[-1]["medians_s"] and "oracle" not in cases[0]["medians_s"]
    assert "100 images 1x28x28, 30 filters 5x5" in cases[-1]["note"]
    table = bench.format_table(report)
    assert any(line.startswith("[5] pool: 2x2 max-pooling") for line in table.splitlines())
    assert table.count("[6]") == 4  # three conv rows and the footnote
    json.dumps(report)


@pytest.mark.parametrize("argv,expected", [
    ([], list(bench.QUICK_OPS)),
    (["--full"], list(bench.OPS)),
    (["--ops", "conv,convnet-step"], ["conv", "convnet-step"]),
])
def test_chapter_7_ops_run_only_when_asked(argv, expected, monkeypatch):
    """The default bench stays quick: conv, pool and convnet-step need --ops or --full."""
    seen = {}

    def fake_run(ops, *args, **kwargs):
        seen["ops"] = ops
        raise KeyboardInterrupt

    monkeypatch.setattr(_cli, "run", fake_run)
    assert main(["bench", "--no-progress", "--no-torch", *argv]) == 130
    assert seen["ops"] == expected
    assert not {"conv", "pool", "convnet-step"} & set(bench.QUICK_OPS)


def test_torch_conv_rows_if_installed():
    pytest.importorskip("torch")
    for op in ("conv", "pool"):
        work = _torch._torch_conv_workloads(op, np.dtype(np.float64), np.random.default_rng(0))
        ours = _workloads._conv_workloads(zk.convolution, op, np.dtype(np.float64), np.random.default_rng(0))
        np.testing.assert_allclose(work["forward"]().numpy(), ours["forward"](), rtol=1e-10, atol=1e-12)
        work["autograd"]()
    x_train, t_train = bench.convnet_step_data(bench.book_loop_data())
    rows = _workloads._convnet_step_workloads(x_train[:300], t_train[:300], use_torch=True)
    assert rows[bench.CONVNET_MODE]["torch"]() is None


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_one_thread_rows_run_on_one_core():
    import os

    saved = os.sched_getaffinity(0)
    seen = []
    with bench.pinned_to_one_core(True):
        seen.append(os.sched_getaffinity(0))
    with bench.pinned_to_one_core(False):
        seen.append(os.sched_getaffinity(0))
    assert seen == [{min(saved)}, saved] and os.sched_getaffinity(0) == saved


def test_compare_interleaves_and_starts_each_sample_with_the_next_contender():
    """Rotation: on a VM that takes back freed memory, the first call after the others pays for it."""
    calls: list[str] = []

    def contender(name):
        def call():
            calls.append(name)
            time.sleep(0.002)  # long enough that calibration settles on one call per sample
        return call

    result = bench.compare({name: contender(name) for name in "abc"}, samples=3, target_s=0.002)
    assert set(result) == {"a", "b", "c"}
    timed = calls[-9:]  # after calibration: 3 samples of one call each
    assert timed == list("abc" "bca" "cab"), timed


@pytest.mark.parametrize("threads,pinned", [((1,), True), ((2,), False)])
def test_the_protocol_line_says_pinned_only_when_there_are_one_thread_rows(threads, pinned, monkeypatch):
    monkeypatch.delenv(bench.MNIST_ENV, raising=False)
    report = bench.run(["relu"], ["n1"], ["float64"], list(threads), samples=3, sample_ms=1.0, use_torch=False)
    assert report["protocol"]["one_thread_rows_pinned"] is (pinned and hasattr(os, "sched_setaffinity"))
    assert ("one-thread rows pinned" in bench.format_table(report)) is report["protocol"]["one_thread_rows_pinned"]


@pytest.mark.parametrize("op", ["embedding", "negsampling"])
def test_word2vec_rows_compute_the_same_on_both_sides(op, monkeypatch):
    """The book's classes (baseline2) and zk_layers.book2's get equal arrays
    from one seed and compute the same, the sampler's draws included."""
    monkeypatch.delenv(bench.PTB_ENV, raising=False)
    corpus, name = bench.w2v_corpus()
    assert "Zipf" in name and corpus.max() == 9999
    spec = bench.SIZES["n8"]
    work = {side: _workloads._w2v_layer_workloads(side, op, spec, corpus, np.random.default_rng(0))
            for side in ("fast", "book")}
    for mode in ("forward", "forward+backward"):
        results = {}
        for side, w in work.items():
            np.random.seed(3)  # noqa: NPY002 (the samplers draw from the global generator)
            results[side] = w[mode]()
        if op == "embedding" and mode == "forward":
            np.testing.assert_array_equal(results["fast"], results["book"])
        elif op == "negsampling":
            np.testing.assert_array_equal(results["fast"], results["book"])  # dh (forward+backward) or loss


def test_cbow_step_rows_take_the_same_steps(monkeypatch):
    monkeypatch.delenv(bench.PTB_ENV, raising=False)
    rows = _workloads._cbow_step_workloads(bench.w2v_corpus()[0][:20000])
    assert list(rows) == [bench.CBOW_BOOK_NET_MODE, bench.CBOW_PACKAGE_MODE]
    losses = []
    for step in (rows[bench.CBOW_BOOK_NET_MODE]["book"], rows[bench.CBOW_BOOK_NET_MODE]["fast"],
                 rows[bench.CBOW_PACKAGE_MODE]["fast"]):
        np.random.seed(1)  # noqa: NPY002 (the samplers draw from the global generator)
        losses.append(step())
    assert losses[0] == losses[1] == losses[2]  # the first batch, the same draws: the book's loss


def test_run_reports_the_word2vec_rows(monkeypatch):
    monkeypatch.delenv(bench.PTB_ENV, raising=False)
    report = bench.run(["embedding", "negsampling"], ["n1"], ["float64"], [1], samples=3, sample_ms=0.5,
                       use_torch=False)
    cases = report["cases"]
    assert [(c["op"], c["dtype"], c["mode"]) for c in cases] == [
        (op, "float32", mode) for op in ("embedding", "negsampling") for mode in bench.MODES]
    assert cases[0]["shape"] == "N=1, W 10000x100" and "np.add.at" in cases[0]["note"]
    assert all(c["ratio_book"] > 0 for c in cases)
