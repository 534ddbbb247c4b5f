"""PyTorch's side of each row (only when torch is installed; never a dependency)."""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import CONV_SHAPES, CONVNET_LEARNING_RATE, _conv_arrays


def _torch_conv_workloads(op: str, dtype: np.dtype, rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """PyTorch CPU for conv and pool: F.conv2d / F.max_pool2d forward, and
    forward+backward by autograd (the gradients of x, and of W and b)."""
    import torch

    shape = CONV_SHAPES[op]
    arrays = {key: torch.from_numpy(value) for key, value in _conv_arrays(op, dtype, rng).items()}
    functional = torch.nn.functional
    params: tuple[Any, ...]
    if op == "conv":
        def forward_of(x: Any, *params: Any) -> Any:
            return functional.conv2d(x, *params, stride=shape["stride"], padding=shape["pad"])
        params = (arrays["W"], arrays["b"])
    else:
        def forward_of(x: Any, *params: Any) -> Any:
            return functional.max_pool2d(x, (shape["FH"], shape["FW"]), stride=shape["stride"],
                                         padding=shape["pad"])
        params = ()
    inputs = (arrays["x"], *params)
    graded = tuple(v.clone().requires_grad_(True) for v in inputs)

    def autograd() -> object:
        forward_of(*graded).backward(arrays["dout"])
        for v in graded:
            v.grad = None
        return None

    return {"forward": lambda: forward_of(*inputs), "autograd": autograd}

def _torch_convnet_step(dtype: np.dtype) -> Callable[[np.ndarray, np.ndarray], object]:
    """PyTorch eager: the book's SimpleConvNet on 1x28x28 images, F.cross_entropy,
    torch.optim.Adam (lr 0.001, eps 1e-7 as the book's)."""
    import torch

    torch.manual_seed(0)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 30, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(30 * 12 * 12, 100), nn.ReLU(), nn.Linear(100, 10)).to(tdtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=CONVNET_LEARNING_RATE, eps=1e-7)

    def step(x: np.ndarray, t: np.ndarray) -> object:
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x).to(tdtype)), torch.from_numpy(t))
        loss.backward()
        optimizer.step()
        return None

    return step

def _torch_workloads(op: str, spec: dict[str, Any], dtype: np.dtype,
                     rng: np.random.Generator) -> dict[str, Callable[[], object]]:
    """PyTorch CPU: explicit forward/backward ops, and autograd for forward+backward."""
    import torch

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    n, d, h, c = spec["N"], spec["D"], spec["H"], spec["C"]
    work: dict[str, Callable[[], object]] = {}
    if op in ("relu", "sigmoid"):
        x = torch.from_numpy(rng.standard_normal((n, h)).astype(dtype))
        dout = torch.from_numpy(rng.standard_normal((n, h)).astype(dtype))
        fwd = torch.relu if op == "relu" else torch.sigmoid
        y = fwd(x)
        if op == "relu":
            work["backward"] = lambda: torch.where(x > 0, dout, 0.0)
        else:
            work["backward"] = lambda: dout * (1 - y) * y
        work["forward"] = lambda: fwd(x)

        def explicit() -> object:
            out = fwd(x)
            return torch.where(x > 0, dout, 0.0) if op == "relu" else dout * (1 - out) * out

        xg = x.clone().requires_grad_(True)

        def autograd() -> object:
            fwd(xg).backward(dout)
            xg.grad = None
            return None

        work["forward+backward"] = explicit
        work["autograd"] = autograd
    elif op == "affine":
        n = spec.get("affine_N", n)
        x = torch.from_numpy(rng.standard_normal((n, d)).astype(dtype))
        w = torch.from_numpy((rng.standard_normal((d, h)) * 0.01).astype(dtype))
        b = torch.zeros(h, dtype=tdtype)
        dout = torch.from_numpy(rng.standard_normal((n, h)).astype(dtype))
        work["forward"] = lambda: torch.addmm(b, x, w)
        work["backward"] = lambda: (dout @ w.T, x.T @ dout, dout.sum(0))

        def explicit() -> object:
            torch.addmm(b, x, w)
            return dout @ w.T, x.T @ dout, dout.sum(0)

        xg, wg, bg = (v.clone().requires_grad_(True) for v in (x, w, b))

        def autograd() -> object:
            torch.addmm(bg, xg, wg).backward(dout)
            xg.grad = wg.grad = bg.grad = None
            return None

        work["forward+backward"] = explicit
        work["autograd"] = autograd
    elif op == "softmax":
        x = torch.from_numpy(rng.standard_normal((n, c)).astype(dtype))
        t = torch.from_numpy(rng.integers(0, c, n))
        onehot = torch.nn.functional.one_hot(t, c).to(tdtype)
        work["forward"] = lambda: torch.nn.functional.cross_entropy(x, t)
        y = torch.softmax(x, 1)
        work["backward"] = lambda: (y - onehot) / n

        def explicit() -> object:
            out = torch.softmax(x, 1)
            loss = -torch.log(out[torch.arange(n), t]).mean()
            return loss, (out - onehot) / n

        xg = x.clone().requires_grad_(True)

        def autograd() -> object:
            torch.nn.functional.cross_entropy(xg, t).backward()
            xg.grad = None
            return None

        work["forward+backward"] = explicit
        work["autograd"] = autograd
    elif op == "step":
        g = torch.Generator().manual_seed(0)
        w1 = (torch.randn(d, h, generator=g, dtype=tdtype) * 0.01).requires_grad_(True)
        b1 = torch.zeros(h, dtype=tdtype, requires_grad=True)
        w2 = (torch.randn(h, c, generator=g, dtype=tdtype) * 0.01).requires_grad_(True)
        b2 = torch.zeros(c, dtype=tdtype, requires_grad=True)
        x = torch.from_numpy(rng.random((n, d)).astype(dtype))
        t = torch.from_numpy(rng.integers(0, c, n))

        def step() -> object:
            loss = torch.nn.functional.cross_entropy(torch.relu(x @ w1 + b1) @ w2 + b2, t)
            loss.backward()
            with torch.no_grad():
                for p in (w1, b1, w2, b2):
                    p -= 0.1 * p.grad
                    p.grad = None
            return None

        work["train"] = step
    return work

def _torch_available() -> bool:
    """Import PyTorch if it is installed, its OpenMP runtime set to the passive
    wait policy unless the user chose one: PyTorch bundles its own libgomp,
    whose spinning threads otherwise take the cores from OpenBLAS's threads in
    the interleaved runs (measured: docs/performance.md)."""

    set_here = "torch" not in sys.modules and not any(
        k in os.environ for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"))
    if set_here:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    finally:
        if set_here:
            del os.environ["OMP_WAIT_POLICY"]
    return True

def _torch_version() -> str:
    import torch

    return str(torch.__version__)
