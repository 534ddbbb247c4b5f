"""The kernel builds (baseline, AVX2, AVX-512) and how one is chosen."""
from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import run_python
from numpy.testing import assert_array_equal

import zk_layers as zk
from zk_layers import _kernels


def _everything(dtype) -> list[np.ndarray]:
    """Outputs of every kernel, on sizes that exercise vector tails and NaN/inf."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((37, 53)) * 20).astype(dtype)
    x[0, :6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30]
    # A NaN in the second of the 32 lanes that find a row's (or a block's)
    # extremes, and an out-of-range value later in the same lane.
    x[1, 1], x[1, 33] = np.nan, -1000
    x[2, 1], x[2, 33] = np.nan, np.inf
    dout = rng.standard_normal(x.shape).astype(dtype)
    results = []
    for layer in (zk.Relu(), zk.Sigmoid()):
        results += [layer.forward(x), layer.backward(dout)]
    sigmoid_blocks = np.zeros(3000, dtype=dtype)  # three blocks of the range check
    sigmoid_blocks[1], sigmoid_blocks[33], sigmoid_blocks[1025], sigmoid_blocks[2100] = np.nan, 1000, np.nan, -np.inf
    results.append(zk.Sigmoid().forward(sigmoid_blocks))
    affine = zk.Affine(rng.standard_normal((53, 11)).astype(dtype), rng.standard_normal(11).astype(dtype))
    results += [affine.forward(x[1:]), affine.backward(rng.standard_normal((36, 11)).astype(dtype)), affine.db]
    # Row spreads (max - min) of 67-121 (the first three rows: inf, NaN),
    # then 8-15: float32 rows take both exponentials (the moderate one up to
    # 86), float64 rows the moderate one.
    for eps, logits in ((1e-7, x), (0.0, x), (1e-7, x[3:] / 8)):
        loss = zk.SoftmaxWithLoss(eps=eps)
        results += [np.array(loss.forward(logits, rng.integers(0, 53, len(logits)))), loss.y, loss.backward(1.5)]
    for optimizer in (zk.SGD(lr=0.3), zk.Momentum(), zk.Nesterov(), zk.AdaGrad(), zk.RMSprop(), zk.Adam()):
        params = {"W": x.copy()}
        for _ in range(2):
            optimizer.update(params, {"W": dout})
        results.append(params["W"])
    # Chapters 6-7: images with a NaN, infinities and a signed zero.
    images = rng.standard_normal((3, 2, 9, 9)).astype(dtype)
    images[0, 0, 0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    conv = zk.Convolution(rng.standard_normal((4, 2, 3, 3)).astype(dtype), rng.standard_normal(4).astype(dtype), 1, 1)
    with np.errstate(invalid="ignore"):  # BLAS meets inf * 0
        out = conv.forward(images)
        results += [out, conv.backward(rng.standard_normal(out.shape).astype(dtype)), conv.dW, conv.db]
    pool = zk.Pooling(2, 2, 2)
    out = pool.forward(images)
    results += [out, pool.backward(rng.standard_normal(out.shape).astype(dtype))]
    batch = x[3:].copy()
    norm = zk.BatchNormalization(np.ones(53, dtype=dtype), np.zeros(53, dtype=dtype))
    results += [norm.forward(batch, train_flg=True), norm.backward(dout[3:]), norm.dgamma, norm.dbeta]
    np.random.seed(5)  # noqa: NPY002 (Dropout draws from the book's generator)
    drop = zk.Dropout(0.5)
    results += [drop.forward(x, train_flg=True), drop.backward(dout)]
    # Chapters 5-6: H = 150 is a block of 128 columns and a tail; the
    # sequence has a NaN, infinities and gate arguments beyond the
    # moderate exponential's range (|x| > 86 in float32).
    from zk_layers import recurrent

    seq = rng.standard_normal((3, 4, 5)).astype(dtype)
    seq[0, 0, :3] = [np.nan, np.inf, -np.inf]
    seq[1] *= 100
    for cls, gates in ((recurrent.TimeRNN, 1), (recurrent.TimeLSTM, 4)):
        layer = cls(rng.standard_normal((5, gates * 150)).astype(dtype),
                    (rng.standard_normal((150, gates * 150)) / 10).astype(dtype), np.zeros(gates * 150, dtype))
        with np.errstate(invalid="ignore"):
            hs = layer.forward(seq)
            results += [hs, layer.backward(rng.standard_normal(hs.shape).astype(dtype)), *layer.grads]
    return results


@pytest.mark.parametrize("level", ["avx2", "avx512"])
def test_every_build_gives_bitwise_identical_results(dtype, level):
    if level not in _kernels.available_levels():
        pytest.skip(f"{level} kernels not built or not supported by this CPU")

    def everything(build: str) -> list[np.ndarray]:
        with _kernels.using(build):
            return _everything(dtype)

    baseline, other = everything("baseline"), everything(level)
    for a, b in zip(baseline, other, strict=True):
        # Bits, not values: NaN signs and payloads and the sign of zero too.
        assert_array_equal(np.atleast_1d(a).view(np.uint8), np.atleast_1d(b).view(np.uint8))


def test_best_available_build_is_selected_by_default():
    if os.environ.get("ZK_LAYERS_KERNELS", "auto") in ("", "auto"):
        assert _kernels.KERNELS.level == _kernels.available_levels()[0]
    assert "baseline" in _kernels.available_levels()


def test_unknown_or_unsupported_level_is_refused():
    with pytest.raises(ValueError, match="kernel level must be one of"):
        _kernels.load("sse9")
    for level in ("avx2", "avx512"):
        if not _kernels.cpu_supports(level):
            with pytest.raises(RuntimeError, match="does not support"):
                _kernels.load(level)


def test_environment_variable_selects_the_build():
    code = "from zk_layers._kernels import KERNELS; print(KERNELS.level)"
    proc = run_python(code, {"ZK_LAYERS_KERNELS": "baseline"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "baseline"
