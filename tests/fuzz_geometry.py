#!/usr/bin/env python3
"""Fuzz the window geometry of Convolution, Pooling, im2col and col2im.

Each case draws a random geometry -- batch, channels, image size, window,
and a stride and a pad anywhere from 0 (or 1) up to beyond 2**64 -- and
runs the fast layers on it, forward and backward, at 1 and 2 threads, in
float32 and float64.  The oracle is a plain-Python definition of each
layer (:func:`conv_forward` and friends below), with Python's unbounded
integers for every index, so it cannot overflow.  Inputs are small
integers, so every sum is exact in both dtypes and results must be equal,
not close.

A case ends in one of two ways:

* the outputs and gradients equal the plain definition's;
* a ``ValueError`` naming ``pad`` or ``stride``, where the padded batch or
  the patch matrix would have more elements than an array can hold
  (``zk_layers._validate.MAX_ELEMENTS``).  The plain definition says
  beforehand which cases must raise.

Anything else -- a difference, another exception, a crash -- fails.  The
command line runs the cases in child processes, a batch each, so a crash
(a signal) is caught and reported with the seed that reproduces it::

    python tests/fuzz_geometry.py --cases 100000      # about 25 s on 2 cores
    python tests/fuzz_geometry.py --seed 17 --cases 1 --in-process   # one case, here

tests/test_geometry.py runs a short batch; scripts/asan.sh runs it under
AddressSanitizer, where any out-of-bounds read or write aborts.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from dataclasses import dataclass

# The case: drawn from its own seed, so one case can be replayed alone.
HUGE = (2**31, 2**40, 2**62 - 1, 2**62, 2**63 - 1, 2**63, 2**64, 10**30)
MAX_WORK = 4000  # multiply-adds of the plain definition per case
MAX_ELEMENTS = sys.maxsize // 8


@dataclass(frozen=True)
class Case:
    seed: int
    layer: str  # "conv", "pool", "im2col"
    n: int
    c: int
    h: int
    w: int
    fn: int
    fh: int
    fw: int
    stride: int
    pad: int
    dtype: str
    threads: int


def _extent(rng: random.Random, small: int) -> int:
    roll = rng.random()
    if roll < 0.6:
        return rng.randint(0, small)
    if roll < 0.8:
        return rng.randint(small, 2**rng.randint(4, 30))
    if roll < 0.9:
        return rng.choice(HUGE)
    return rng.randint(2**20, 2**rng.randint(21, 70))


def out_size(size: int, window: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - window) // stride + 1


def expected_error(case: Case) -> bool:
    """Must the geometry checks refuse the case?  The documented limit: no
    padded batch or patch matrix (or convolution output) of more elements
    than an array of float64 can have."""
    n = max(case.n, 1)
    if n * case.c * (case.h + 2 * case.pad) * (case.w + 2 * case.pad) > MAX_ELEMENTS:
        return True
    oh, ow = out_size(case.h, case.fh, case.stride, case.pad), out_size(case.w, case.fw, case.stride, case.pad)
    if n * oh * ow * case.c * case.fh * case.fw > MAX_ELEMENTS:
        return True
    return case.layer == "conv" and n * case.fn * oh * ow > MAX_ELEMENTS


def draw(seed: int) -> Case | None:
    """The case of ``seed``, or None when the plain definition would take too
    long (or the window does not fit: another check, tested elsewhere)."""
    rng = random.Random(seed)
    layer = rng.choice(("conv", "conv", "pool", "im2col"))
    h, w = rng.randint(1, 7), rng.randint(1, 7)
    fh, fw = rng.randint(1, 5), rng.randint(1, 5)
    stride = max(1, _extent(rng, 4))
    pad = _extent(rng, 3)
    n = rng.choice((0, 1, 1, 1, 2, 2, 2, 2, 2, 2))  # an empty batch one time in ten
    case = Case(seed, layer, n, rng.randint(1, 2), h, w, rng.randint(1, 2), fh, fw, stride, pad,
                rng.choice(("float32", "float64")), rng.choice((1, 2)))
    if h + 2 * pad < fh or w + 2 * pad < fw:
        return None
    if expected_error(case):
        return case
    oh, ow = out_size(h, fh, stride, pad), out_size(w, fw, stride, pad)
    if max(case.n, 1) * case.fn * oh * ow * case.c * fh * fw > MAX_WORK:
        return None
    return case


# ------------------------------------------------------- the plain definition
def _pixel(x, n, c, y, xx, case):  # x[n, c, y - pad, xx - pad], 0 in the padding
    y, xx = y - case.pad, xx - case.pad
    return x[n][c][y][xx] if 0 <= y < case.h and 0 <= xx < case.w else 0


def _windows(case):
    oh, ow = out_size(case.h, case.fh, case.stride, case.pad), out_size(case.w, case.fw, case.stride, case.pad)
    return [(a, b) for a in range(oh) for b in range(ow)], oh, ow


def conv_forward(x, W, b, case):
    windows, oh, ow = _windows(case)
    out = [[[[0] * ow for _ in range(oh)] for _ in range(case.fn)] for _ in range(case.n)]
    for n in range(case.n):
        for f in range(case.fn):
            for a, bb in windows:
                total = b[f]
                for c in range(case.c):
                    for i in range(case.fh):
                        for j in range(case.fw):
                            total += W[f][c][i][j] * _pixel(x, n, c, a * case.stride + i, bb * case.stride + j, case)
                out[n][f][a][bb] = total
    return out


def conv_backward(x, W, dout, case):
    windows, _, _ = _windows(case)
    dx = [[[[0] * case.w for _ in range(case.h)] for _ in range(case.c)] for _ in range(case.n)]
    dW = [[[[0] * case.fw for _ in range(case.fh)] for _ in range(case.c)] for _ in range(case.fn)]
    db = [sum(dout[n][f][a][bb] for n in range(case.n) for a, bb in windows) for f in range(case.fn)]
    for n in range(case.n):
        for f in range(case.fn):
            for a, bb in windows:
                d = dout[n][f][a][bb]
                for c in range(case.c):
                    for i in range(case.fh):
                        for j in range(case.fw):
                            y, xx = a * case.stride + i - case.pad, bb * case.stride + j - case.pad
                            if 0 <= y < case.h and 0 <= xx < case.w:
                                dW[f][c][i][j] += d * x[n][c][y][xx]
                                dx[n][c][y][xx] += d * W[f][c][i][j]
    return dx, dW, db


def pool(x, dout, case):
    """Max pooling forward and backward: the first maximum of each window
    (row-major), zeros in the padding, as the book's im2col and argmax."""
    windows, oh, ow = _windows(case)
    out = [[[[0] * ow for _ in range(oh)] for _ in range(case.c)] for _ in range(case.n)]
    dx = [[[[0] * case.w for _ in range(case.h)] for _ in range(case.c)] for _ in range(case.n)]
    for n in range(case.n):
        for c in range(case.c):
            for a, bb in windows:
                best = None
                for i in range(case.fh):
                    for j in range(case.fw):
                        v = _pixel(x, n, c, a * case.stride + i, bb * case.stride + j, case)
                        if best is None or v > best[0]:
                            best = (v, a * case.stride + i - case.pad, bb * case.stride + j - case.pad)
                out[n][c][a][bb] = best[0]
                if 0 <= best[1] < case.h and 0 <= best[2] < case.w:
                    dx[n][c][best[1]][best[2]] += dout[n][c][a][bb]
    return out, dx


def im2col_rows(x, case):
    windows, _, _ = _windows(case)
    return [[_pixel(x, n, c, a * case.stride + i, bb * case.stride + j, case)
             for c in range(case.c) for i in range(case.fh) for j in range(case.fw)]
            for n in range(case.n) for a, bb in windows]


def col2im_of_im2col(x, case):
    windows, _, _ = _windows(case)
    dx = [[[[0] * case.w for _ in range(case.h)] for _ in range(case.c)] for _ in range(case.n)]
    for n in range(case.n):
        for a, bb in windows:
            for c in range(case.c):
                for i in range(case.fh):
                    for j in range(case.fw):
                        y, xx = a * case.stride + i - case.pad, bb * case.stride + j - case.pad
                        if 0 <= y < case.h and 0 <= xx < case.w:
                            dx[n][c][y][xx] += x[n][c][y][xx]
    return dx


# ------------------------------------------------------------------- running
def run_case(case: Case) -> str | None:
    """None if the fast layers agree with the plain definition, else what differs."""
    import numpy as np

    import zk_layers as zk
    from zk_layers._threads import forced_grain

    rng = np.random.default_rng(case.seed)
    dtype = np.dtype(case.dtype)
    windows, oh, ow = _windows(case) if not expected_error(case) else ([], 1, 1)
    x = rng.integers(-8, 9, (case.n, case.c, case.h, case.w)).astype(dtype)
    W = rng.integers(-8, 9, (case.fn, case.c, case.fh, case.fw)).astype(dtype)
    b = rng.integers(-8, 9, case.fn).astype(dtype)
    fn = case.fn if case.layer == "conv" else case.c
    dout = rng.integers(-8, 9, (case.n, fn, oh, ow)).astype(dtype)
    try:
        with zk.limit_threads(case.threads), forced_grain(1):
            if case.layer == "conv":
                layer = zk.Convolution(W, b, stride=case.stride, pad=case.pad)
                got = [layer.forward(x), layer.backward(dout), layer.dW, layer.db]
            elif case.layer == "pool":
                layer = zk.Pooling(case.fh, case.fw, stride=case.stride, pad=case.pad)
                got = [layer.forward(x), layer.backward(dout)]
            else:
                col = zk.im2col(x, case.fh, case.fw, case.stride, case.pad)
                got = [col, zk.col2im(col, x.shape, case.fh, case.fw, case.stride, case.pad)]
    except ValueError as e:
        if expected_error(case) and ("pad=" in str(e)):
            return None
        return f"ValueError: {e}"
    except Exception as e:  # noqa: BLE001  (any other exception is a failure to report)
        return f"{type(e).__name__}: {e}"
    if expected_error(case):
        return "no ValueError where the padded input or the output cannot be an array"
    xl, Wl, bl, dl = x.astype(int).tolist(), W.astype(int).tolist(), b.astype(int).tolist(), dout.astype(int).tolist()
    if case.layer == "conv":
        want = [conv_forward(xl, Wl, bl, case), *conv_backward(xl, Wl, dl, case)]
    elif case.layer == "pool":
        want = list(pool(xl, dl, case))
    else:
        # col2im of the patches: each pixel times the number of windows that cover it
        want = [im2col_rows(xl, case), col2im_of_im2col(xl, case)]
    for i, (g, e) in enumerate(zip(got, want, strict=True)):
        e = np.array(e, dtype=dtype).reshape(g.shape) if np.size(e) else np.zeros(g.shape, dtype)
        if g.dtype != dtype or not np.array_equal(g, e):
            return f"output {i}: got {g.ravel()[:12]} ({g.dtype}), expected {e.ravel()[:12]}"
    return None


def run_seeds(first: int, count: int) -> tuple[int, list[str]]:
    """Cases first .. first+count-1 (those draw() keeps): (cases run, failures)."""
    ran, failures = 0, []
    for seed in range(first, first + count):
        case = draw(seed)
        if case is None:
            continue
        ran += 1
        problem = run_case(case)
        if problem:
            failures.append(f"seed {seed}: {case}: {problem}")
    return ran, failures


def fuzz(cases: int, seed: int = 0, batch: int = 2000, jobs: int = 2) -> tuple[int, list[str]]:
    """At least ``cases`` cases in child processes of ``batch`` seeds each
    (``jobs`` at a time); a child that dies of a signal is a failure."""
    ran, failures, next_seed = 0, [], seed
    script = os.path.abspath(__file__)
    # draw() keeps about three seeds in four; a budget of seeds ends the
    # run even when every child dies.
    while ran < cases and next_seed - seed < 4 * cases + batch * jobs:
        children = []
        for _ in range(jobs):
            children.append((next_seed, subprocess.Popen(
                [sys.executable, script, "--child", str(next_seed), str(batch)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
            next_seed += batch
        for first, child in children:
            out, err = child.communicate()
            if child.returncode != 0:
                failures.append(f"seeds {first}..{first + batch - 1}: the child exited with {child.returncode}"
                                f"{' (signal ' + str(-child.returncode) + ')' if child.returncode < 0 else ''}:"
                                f"\n{err[-2000:]}")
                continue
            lines = out.splitlines()
            ran += int(lines[0])
            failures.extend(lines[1:])
    return ran, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases to run (at least)")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--batch", type=int, default=2000, help="seeds per child process")
    parser.add_argument("--jobs", type=int, default=2, help="child processes at a time")
    parser.add_argument("--in-process", action="store_true", help="run here, no child processes")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        ran, failures = run_seeds(*args.child)
        print(ran, *failures, sep="\n")
        return 0
    if args.in_process:
        ran, failures = run_seeds(args.seed, args.cases)
    else:
        ran, failures = fuzz(args.cases, args.seed, args.batch, args.jobs)
    print(*failures, sep="\n")
    print(f"fuzz_geometry: {ran} cases, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
