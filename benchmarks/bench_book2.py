"""The second volume's CBOW step (ch04), the book's code on both sides, interleaved.

* book  the book's ``ch04/cbow.py`` on the book's own ``common`` and
        ``ch04/negative_sampling_layer.py`` (its checkout, unchanged);
* zk    the same ``cbow.py`` on ``zk_layers.book2`` (what
        ``zk-layers book run ch04/train.py`` serves);
* zk.CBOW  zk_layers' own CBOW (``zk-layers train --model cbow``) with
        ``zk.Adam``: the same model, numbers and draws, one compiled model.

One step is what the book's Trainer does per minibatch: ``forward``,
``backward``, ``remove_duplicate`` and ``Adam.update``; the batches are
consecutive rows of ``create_contexts_target(corpus, 5)`` (batch 100), the
model ``CBOW(V, 100, 5, corpus)`` with the book's seeded draws.  Both sides
start from the same seed and take the same steps; their losses are compared
step by step (rtol 2e-4) before any timing is reported, and the sampler's
draws are the same, so the two sides do the same work.  One thread:
BLAS and OpenMP limited by threadpoolctl, the process pinned to one core.

    ZK_LAYERS_BOOK2_DIR=../shared/books/deep-learning-from-scratch-2 \\
    ZK_LAYERS_PTB_DIR=../shared/data/ptb \\
    PYTHONPATH=. python benchmarks/bench_book2.py --steps 40 --markdown benchmarks/results/epyc-2vcpu-book2.md

``--layers`` adds a table of the layers one by one (forward and backward of
the book's class against zk_layers.book2's, the same inputs), at batch 1,
10, 100 and 1,000: W of 10,000 x 100 float32, as in chapter 4.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import statistics
import sys
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from zk_layers.bench import cpu_model

SERVED = ("config", "np", "functions", "layers", "optimizer", "trainer", "util", "base_model")


def _corpus(ptb_dir: str | None) -> tuple[np.ndarray, str]:
    if ptb_dir:
        with open(os.path.join(ptb_dir, "ptb.train.txt")) as f:
            words = f.read().replace("\n", "<eos>").strip().split()
        ids: dict[str, int] = {}
        for w in words:
            ids.setdefault(w, len(ids))
        return np.array([ids[w] for w in words]), "PTB train (929,589 words, V = 10,000)"
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, 10001)  # Zipf-like, 10,000 words
    return rng.choice(10000, size=200_000, p=weights / weights.sum()), "Zipf sample (200,000 words, V = 10,000)"


def _world(book: str, side: str) -> dict[str, Any]:
    """The book's cbow.py, remove_duplicate and Adam on one side's modules."""
    for name in [n for n in sys.modules if n == "common" or n.startswith(("common.", "ch04"))
                 or n in ("cbow", "negative_sampling_layer")]:
        del sys.modules[name]
    if side == "zk":
        sys.modules["common"] = importlib.import_module("zk_layers.book2")
        for name in SERVED:
            sys.modules[f"common.{name}"] = importlib.import_module(f"zk_layers.book2.{name}")
        nsl = importlib.import_module("zk_layers.book2.negative_sampling_layer")
        sys.modules["ch04.negative_sampling_layer"] = sys.modules["negative_sampling_layer"] = nsl
    if book not in sys.path:
        sys.path.insert(0, book)
    spec = importlib.util.spec_from_file_location(f"cbow_{side}", os.path.join(book, "ch04", "cbow.py"))
    assert spec is not None and spec.loader is not None
    cbow = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cbow)
    trainer = importlib.import_module("common.trainer")
    optimizer = importlib.import_module("common.optimizer")
    util = importlib.import_module("common.util")
    return {"CBOW": cbow.CBOW, "remove_duplicate": trainer.remove_duplicate, "Adam": optimizer.Adam,
            "contexts_target": util.create_contexts_target}


def _layer_cases(book: dict[str, Any], ours: dict[str, Any], corpus: np.ndarray) -> list[tuple[str, Any]]:
    """(name, make(side, n) -> a callable doing one forward + backward)."""
    rng = np.random.default_rng(1)
    W = (0.01 * rng.standard_normal((10000, 100))).astype("f")
    Wsmall = (0.01 * rng.standard_normal((100, 100))).astype("f")
    b = np.zeros(100, "f")

    def embedding(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["layers"].Embedding(W)
        idx = rng.integers(0, 10000, n)
        dout = rng.standard_normal((n, 100)).astype("f")
        return lambda: (layer.forward(idx), layer.backward(dout))

    def embedding_dot(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["nsl"].EmbeddingDot(W)
        idx = rng.integers(0, 10000, n)
        h = rng.standard_normal((n, 100)).astype("f")
        dout = rng.standard_normal(n)
        return lambda: (layer.forward(h, idx), layer.backward(dout))

    def negative_sampling(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["nsl"].NegativeSamplingLoss(W, corpus, 0.75, 5)
        target = corpus[rng.integers(0, corpus.size, n)]
        h = rng.standard_normal((n, 100)).astype("f")
        return lambda: (layer.forward(h, target), layer.backward())

    def sigmoid_loss(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["layers"].SigmoidWithLoss()
        x = rng.standard_normal(n).astype("f")
        t = rng.integers(0, 2, n).astype(np.int32)
        return lambda: (layer.forward(x, t), layer.backward())

    def affine(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["layers"].Affine(Wsmall, b)
        x = rng.standard_normal((n, 100)).astype("f")
        return lambda: (layer.backward(layer.forward(x)))

    def matmul(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["layers"].MatMul(Wsmall)
        x = rng.standard_normal((n, 100)).astype("f")
        return lambda: (layer.backward(layer.forward(x)))

    def softmax_loss(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["layers"].SoftmaxWithLoss()
        x = rng.standard_normal((n, 100)).astype("f")
        t = rng.integers(0, 100, n)
        return lambda: (layer.forward(x, t), layer.backward())

    def softmax(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["layers"].Softmax()
        x = rng.standard_normal((n, 100)).astype("f")
        return lambda: (layer.forward(x), layer.backward(x))

    def sigmoid(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["layers"].Sigmoid()
        x = rng.standard_normal((n, 100)).astype("f")
        return lambda: (layer.forward(x), layer.backward(x))

    def dropout(side: str, n: int) -> Any:
        layer = (book if side == "book" else ours)["layers"].Dropout(0.5)
        x = rng.standard_normal((n, 100)).astype("f")
        return lambda: (layer.forward(x), layer.backward(x))

    return [("Embedding (W 10,000 x 100)", embedding), ("EmbeddingDot", embedding_dot),
            ("NegativeSamplingLoss (5 samples)", negative_sampling), ("SigmoidWithLoss", sigmoid_loss),
            ("Affine (100 x 100)", affine), ("MatMul (100 x 100)", matmul),
            ("SoftmaxWithLoss (100 classes)", softmax_loss), ("Softmax (100)", softmax),
            ("Sigmoid (x 100)", sigmoid), ("Dropout (x 100)", dropout)]


def _layers_table(book_dir: str, corpus: np.ndarray, samples: int = 15) -> list[str]:
    book = _modules(book_dir, "book")
    ours = _modules(book_dir, "zk")
    lines = ["", "## The layers one by one: forward + backward, ms per call (book / zk_layers.book2 = ratio)",
             "", "| layer | batch 1 | batch 10 | batch 100 | batch 1,000 |", "|---|---|---|---|---|"]
    for name, make in _layer_cases(book, ours, corpus):
        cells = []
        for n in (1, 10, 100, 1000):
            calls = {side: make(side, n) for side in ("book", "zk")}
            for call in calls.values():
                call()  # warm: first-call allocations, imports
            once = time.perf_counter()
            calls["book"]()
            inner = max(1, int(0.002 / max(time.perf_counter() - once, 1e-7)))
            times: dict[str, list[float]] = {"book": [], "zk": []}
            for k in range(samples):
                for side in (("book", "zk") if k % 2 == 0 else ("zk", "book")):
                    start = time.perf_counter()
                    for _ in range(inner):
                        calls[side]()
                    times[side].append((time.perf_counter() - start) / inner)
            book_ms = statistics.median(times["book"]) * 1e3
            zk_ms = statistics.median(times["zk"]) * 1e3
            cells.append(f"{book_ms:.3g} / {zk_ms:.3g} = **{book_ms / zk_ms:.2f}**")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


def _modules(book_dir: str, side: str) -> dict[str, Any]:
    world = _world(book_dir, side)
    return {"layers": importlib.import_module("common.layers"),
            "nsl": importlib.import_module("ch04.negative_sampling_layer"), **world}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--markdown")
    parser.add_argument("--layers", action="store_true", help="also the layers one by one, batch 1 to 1,000")
    args = parser.parse_args()
    book = os.environ.get("ZK_LAYERS_BOOK2_DIR")
    if not book:
        raise SystemExit("set ZK_LAYERS_BOOK2_DIR to a checkout of the second volume")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    corpus, corpus_name = _corpus(os.environ.get("ZK_LAYERS_PTB_DIR"))
    sides = {side: _world(book, side) for side in ("book", "zk")}
    contexts, target = sides["book"]["contexts_target"](corpus, 5)
    vocab = int(corpus.max()) + 1
    import zk_layers as zk
    from zk_layers.word2vec import CBOW

    state = {}
    for side, world in sides.items():
        np.random.seed(0)
        state[side] = (world["CBOW"](vocab, 100, 5, corpus), world["Adam"](), world["remove_duplicate"])
    np.random.seed(0)
    state["zk.CBOW"] = (CBOW(vocab, 100, 5, corpus), zk.Adam(), None)
    names = ("book", "zk", "zk.CBOW")
    times: dict[str, list[float]] = {name: [] for name in names}
    losses: dict[str, list[float]] = {name: [] for name in names}
    with threadpool_limits(1):
        for step in range(args.steps):
            rows = slice(step * 100, (step + 1) * 100)
            for side in (names if step % 2 == 0 else names[::-1]):
                model, optimizer, remove_duplicate = state[side]
                np.random.seed(1000 + step)  # the same negative samples on every side
                start = time.perf_counter()
                loss = model.forward(contexts[rows], target[rows])
                model.backward()
                if remove_duplicate is None:
                    optimizer.update(model.params, model.grads)
                else:
                    params, grads = remove_duplicate(model.params, model.grads)
                    optimizer.update(params, grads)
                times[side].append(time.perf_counter() - start)
                losses[side].append(float(loss))
    for side in ("zk", "zk.CBOW"):
        np.testing.assert_allclose(losses[side], losses["book"], rtol=2e-4)
    same = losses["zk"] == losses["book"] and losses["zk.CBOW"] == losses["book"]
    warm = slice(3, None)
    book_ms = statistics.median(times["book"][warm]) * 1e3
    zk_ms = statistics.median(times["zk"][warm]) * 1e3
    own_ms = statistics.median(times["zk.CBOW"][warm]) * 1e3
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    lines = [
        "# The book's CBOW step (ch04), the book's common against zk_layers.book2",
        "",
        f"{cpu_model()}, Python {platform.python_version()}, NumPy {np.__version__}, BLAS "
        f"{', '.join(blas)}; one thread, pinned to one core; `CBOW(10000, 100, 5, corpus)`, batch 100, "
        f"`remove_duplicate`, `Adam`; corpus: {corpus_name}; {args.steps} steps per side, interleaved, "
        f"the first 3 left out; medians.",
        "",
        "| side | ms per step | ratio |",
        "|---|---|---|",
        f"| the book's common | {book_ms:.2f} | 1.00 |",
        f"| zk_layers.book2 (`zk-layers book run`) | {zk_ms:.2f} | {book_ms / zk_ms:.2f} |",
        f"| zk.CBOW + zk.Adam (`zk-layers train --model cbow`) | {own_ms:.2f} | {book_ms / own_ms:.2f} |",
        "",
        f"Losses: {'bitwise the same' if same else 'the same to rtol 2e-4'} at every step "
        f"on all three sides (last: {losses['book'][-1]:.7f}).",
    ]
    print("\n".join(lines))
    if args.layers:
        with threadpool_limits(1):
            lines += _layers_table(book, corpus)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
