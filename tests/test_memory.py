"""No leaks: resident memory stays flat over many calls, and no call -- one
that succeeds or one that raises -- keeps a reference to its inputs.

The RSS test runs in a child interpreter (so that what the test runner
allocates does not blur the numbers) and reads the resident set from
/proc/self/statm: unlike ``resource.getrusage``'s ``ru_maxrss``, a high-water
mark, it can show that memory stays *flat*.  ``scripts/leak_check.py`` is the
long version (100,000 calls per layer, a table; see docs/reliability.md).
"""
from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_python

import zk_layers as zk

IMPLS = [pytest.param(zk, id="fast"), pytest.param(zk.reference, id="reference")]
LIMIT_MB = 5.0

needs_statm = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
# Under AddressSanitizer (scripts/asan.sh) freed memory sits in ASan's
# quarantine (256 MB) instead of going back: RSS grows by design there.
not_under_asan = pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                                    reason="ASan's quarantine keeps freed memory resident")

LEAK_CHECK = Path(__file__).resolve().parents[1] / "scripts" / "leak_check.py"


def _rss_rows(calls: int, *options: str) -> list[dict]:
    """scripts/leak_check.py (the workloads are defined there once) in a child
    interpreter that imports the zk_layers under test."""
    if not LEAK_CHECK.exists():
        pytest.skip("scripts/leak_check.py is not in this checkout")
    argv = ["leak_check.py", "--json", "--calls", str(calls), "--warmup", "1000", *options]
    code = (f"import runpy, sys; sys.argv = {argv!r}; "
            f"runpy.run_path({str(LEAK_CHECK)!r}, run_name='__main__')")
    proc = run_python(code, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: a leak, judged below
    return json.loads(proc.stdout.strip().splitlines()[-1])


@needs_statm
@not_under_asan
@pytest.mark.parametrize("options", [(), ("--tiny-grain", "--threads", "2")],
                         ids=["default-grains", "parallel-regions"])
def test_resident_memory_stays_flat(options):
    """20,000+ forward/backward calls per layer (and thousands of rejected
    calls) after a warm-up: RSS grows by less than 5 MB.  The control row
    keeps 1 KB per round and must grow (the measurement is not blind)."""
    calls = 20_000 if not options else 6_000
    rows = _rss_rows(calls, *options)
    control = rows.pop()
    assert control["layer"].startswith("control")
    assert control["growth_mb"] > 0.5 * control["rounds"] * 1024 / 2**20, control
    assert {r["layer"] for r in rows} == {"Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "MulLayer+AddLayer"}
    for r in rows:
        assert r["calls"] >= calls and r["rejected"] > 0
        assert r["growth_mb"] < LIMIT_MB, (f"{r['layer']}: RSS {r['rss_before_mb']:.1f} MB -> "
                                           f"{r['rss_after_mb']:.1f} MB after {r['calls']} calls")
        assert r["gc_objects_growth"] < 100, r  # no Python objects piling up either


# ---------------------------------------------------------------------------
# Reference counts of the inputs
# ---------------------------------------------------------------------------

def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {
        "x": rng.standard_normal((6, 4)),
        "x3": rng.standard_normal((6, 2, 2)),
        "x32": rng.standard_normal((6, 4)).astype(np.float32),
        "xbig": rng.standard_normal((100, 100)),  # the GIL-free kernel path
        "dout": rng.standard_normal((6, 4)),
        "dout_affine": rng.standard_normal((6, 3)),
        "W": rng.standard_normal((4, 3)),
        "b": rng.standard_normal(3),
        "t": np.array([0, 3, 1, 2, 3, 0]),
        "onehot": np.eye(4)[[0, 3, 1, 2, 3, 0]],
        "bad_t": np.array([0, 4, 1, 2, 3, 0]),
        "out": np.empty((6, 4)),
    }


def _successful_calls(impl, a: dict[str, np.ndarray]) -> None:
    relu = impl.Relu()
    relu.forward(a["x"])
    relu.backward(a["dout"])
    relu.forward(a["xbig"])
    relu.backward(a["xbig"])
    relu.forward(a["x"], out=a["out"])
    relu.backward(a["dout"], out=a["out"])
    sig = impl.Sigmoid()
    sig.forward(a["x32"])
    sig.backward(a["dout"])
    sig.forward(a["x"], out=a["out"])
    sig.backward(a["dout"])
    affine = impl.Affine(a["W"], a["b"])
    affine.forward(a["x"])
    affine.backward(a["dout_affine"])
    affine.forward(a["x3"])
    affine.backward(a["dout_affine"])
    affine.forward(a["x32"])
    affine.backward(a["dout_affine"])
    for t in (a["t"], a["onehot"]):
        loss = impl.SoftmaxWithLoss(eps=0)
        loss.forward(a["x"], t)
        loss.backward()
    loss = impl.SoftmaxWithLoss()
    loss.forward(a["x"][0], a["t"][1])
    loss.backward()
    mul = impl.MulLayer()
    mul.forward(a["x"], a["dout"])
    mul.backward(a["dout"])


def _failing_calls(impl, a: dict[str, np.ndarray]) -> int:
    """Calls that raise TypeError/ValueError after some of the work is done."""
    calls = [
        lambda: impl.Relu().backward(a["dout"]),                       # before forward
        lambda: _forwarded(impl.Relu(), a["x"]).backward(a["xbig"]),   # dout shape
        lambda: impl.Relu().forward(a["x"], out=a["dout_affine"]),     # out shape
        lambda: impl.Relu().forward(a["x"], out=a["x32"]),             # out dtype
        lambda: _forwarded(impl.Sigmoid(), a["x"]).backward(a["dout_affine"]),
        lambda: impl.Sigmoid().forward(a["t"].astype(complex)),
        lambda: impl.Affine(a["W"], a["b"][:2]),
        lambda: impl.Affine(a["W"], a["b"]).forward(a["xbig"]),
        lambda: _forwarded(impl.Affine(a["W"], a["b"]), a["x"]).backward(a["dout"]),
        lambda: impl.SoftmaxWithLoss().forward(a["x"], a["bad_t"]),
        lambda: impl.SoftmaxWithLoss().forward(a["x"], a["t"].astype(float)),
        lambda: impl.SoftmaxWithLoss().forward(a["x"], a["onehot"][:, ::-1] * 2),
        lambda: impl.SoftmaxWithLoss().forward(a["x3"], a["t"]),
        lambda: _forwarded(impl.SoftmaxWithLoss(), a["x"], a["t"]).backward(a["dout"]),
        lambda: impl.MulLayer().forward(a["x"], "y"),
    ]
    for call in calls:
        try:
            call()
        except (TypeError, ValueError):
            pass  # the traceback (and its frames) are dropped at the end of this block
        else:
            raise AssertionError(f"{call} did not raise")
    return len(calls)


def _forwarded(layer, *inputs):
    layer.forward(*inputs)
    return layer


def _refcounts(a: dict[str, np.ndarray]) -> dict[str, int]:
    return {k: sys.getrefcount(v) for k, v in a.items()}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("path", ["success", "error"])
def test_inputs_refcounts_return_to_start(impl, path):
    """After many calls (successful, or raising TypeError/ValueError) and the
    layers gone, every input has its starting reference count: no kernel,
    memoryview or validation path keeps one."""
    a = _inputs()
    gc.collect()
    start = _refcounts(a)
    run = _successful_calls if path == "success" else _failing_calls
    for _ in range(50):
        run(impl, a)
    gc.collect()
    assert _refcounts(a) == start


@pytest.mark.parametrize("impl", IMPLS)
def test_layer_holds_a_bounded_number_of_references(impl):
    """While a layer lives it may hold its last inputs (the book's state), but
    a hundred more calls add nothing."""
    a = _inputs()
    gc.collect()
    start = _refcounts(a)
    affine = impl.Affine(a["W"], a["b"])
    loss = impl.SoftmaxWithLoss()

    def once(affine, loss):
        affine.forward(a["x"])
        affine.backward(a["dout_affine"])
        loss.forward(a["x"], a["t"])
        loss.backward()

    once(affine, loss)
    gc.collect()
    after_one = _refcounts(a)
    for _ in range(100):
        once(affine, loss)
    gc.collect()
    assert _refcounts(a) == after_one
    assert after_one["W"] > start["W"]  # the layer keeps W itself (in-place updates reach it)
    del affine, loss
    gc.collect()
    assert _refcounts(a) == start


def test_refcount_check_is_not_blind():
    """The counting catches a call that keeps a reference (a list here)."""
    a = _inputs()
    start = _refcounts(a)
    kept = [a["x"]]
    during = _refcounts(a)
    del kept
    after = _refcounts(a)
    assert during["x"] == start["x"] + 1 and during != start
    assert after == start
