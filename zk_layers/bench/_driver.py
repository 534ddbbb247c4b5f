"""The driver: which implementations stand in each row, and the run over ops, sizes, dtypes and thread counts."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np

from .. import baseline, peers, reference
from .. import convolution as fast_conv
from .. import layers as fast
from .._config import config_info
from .._threads import limit_threads
from .._version import __version__
from ._common import (
    BOOK_BATCH_SIZE,
    BOOK_HIDDEN_SIZE,
    BOOK_LOOP_MODE,
    CONV_OPS,
    CONV_SHAPES,
    FRESH_MODE,
    MODES,
    OUT_SIZES,
    PACKAGE_NET_MODE,
    SIZES,
    W2V_HIDDEN,
    W2V_OPS,
    W2V_VOCAB,
    Case,
    note_for,
)
from ._report import _best_peer, _best_torch_ratio
from ._timing import _memory_bytes, compare, cpu_model, measure_bandwidth, pinned_to_one_core
from ._torch import _torch_available, _torch_conv_workloads, _torch_version, _torch_workloads
from ._workloads import (
    _book_loop_workload,
    _cbow_step_workloads,
    _conv_workloads,
    _convnet_step_workloads,
    _fresh_layer_workload,
    _layer_workloads,
    _out_workload,
    _step_workloads,
    _w2v_layer_workloads,
    book_loop_data,
    convnet_step_data,
    w2v_corpus,
)


def _plan(ops: Sequence[str], sizes: Sequence[str], dtypes: Sequence[str],
          threads: Sequence[int]) -> list[tuple[str, str, str, int]]:
    """(op, size, dtype, threads) in the report's order: the book-loop first
    (once per thread count: its sizes and dtypes are the book's), then the
    rest; no step at the large size; the convnet-step once per thread count
    after the book-loop, conv and pool at their own shapes (size "book")
    after the other ops."""
    plan = [("book-loop", "book", "mixed", th) for th in threads if "book-loop" in ops]
    plan += [("convnet-step", "book", "mixed", th) for th in threads if "convnet-step" in ops]
    plan += [("cbow-step", "book", "float32", th) for th in threads if "cbow-step" in ops]
    plan += [(op, size, dt, th) for th in threads for dt in dtypes for size in sizes for op in ops
             if op not in ("book-loop", "convnet-step", "cbow-step", *CONV_OPS, *W2V_OPS)
             and not (op == "step" and size == "large")]
    # The second volume is float32, as the book's arrays.
    plan += [(op, size, "float32", th) for th in threads for size in sizes for op in ops
             if op in W2V_OPS and size != "large"]
    plan += [(op, "book", dt, th) for th in threads for dt in dtypes for op in ops if op in CONV_OPS]
    return plan

def _contenders(op: str, size: str, dtype: np.dtype, use_torch: bool,
                book_loop: tuple[np.ndarray, np.ndarray, str] | None,
                peer_versions: dict[str, str] | None = None,
                threads: int = 1) -> dict[str, dict[str, Callable[[], object]]]:
    """{mode: {contender: callable}} of one case; each contender builds its
    data from the same seed, so all of them work on equal arrays."""
    spec = SIZES[size]

    def seeded() -> np.random.Generator:
        return np.random.default_rng(0)

    if op == "book-loop":
        assert book_loop is not None
        x_train, t_train, _ = book_loop
        return {BOOK_LOOP_MODE: {"fast": _book_loop_workload(fast, x_train, t_train),
                                 "book": _book_loop_workload(baseline, x_train, t_train)}}
    if op == "convnet-step":
        assert book_loop is not None
        return _convnet_step_workloads(*convnet_step_data(book_loop), use_torch)
    if op == "cbow-step":
        return _cbow_step_workloads(w2v_corpus()[0])
    if op in W2V_OPS:
        corpus = w2v_corpus()[0]
        impls = {side: _w2v_layer_workloads(side, op, spec, corpus, seeded()) for side in ("fast", "book")}
        return {mode: {name: work[mode] for name, work in impls.items()} for mode in MODES}
    if op == "step":
        rows = _step_workloads(spec, dtype, seeded())
        if use_torch:
            rows[PACKAGE_NET_MODE]["torch"] = _torch_workloads(op, spec, dtype, seeded())["train"]
        if peer_versions:
            rows[PACKAGE_NET_MODE].update(peers.workloads(op, spec, dtype, seeded(), peer_versions, threads))
        return rows
    if op in CONV_OPS:
        impls = {"fast": _conv_workloads(fast_conv, op, dtype, seeded()),
                 "book": _conv_workloads(baseline, op, dtype, seeded()),
                 "oracle": _conv_workloads(reference, op, dtype, seeded())}
        if use_torch:
            impls["torch"] = _torch_conv_workloads(op, dtype, seeded())
    else:
        impls = {"fast": _layer_workloads(fast, op, spec, dtype, seeded()),
                 "book": _layer_workloads(baseline, op, spec, dtype, seeded()),
                 "oracle": _layer_workloads(reference, op, spec, dtype, seeded())}
        if use_torch:
            impls["torch"] = _torch_workloads(op, spec, dtype, seeded())
    rows = {}
    for mode in MODES:
        rows[mode] = {name: work[mode] for name, work in impls.items() if mode in work}
        if mode == "forward+backward" and "torch" in impls and "autograd" in impls["torch"]:
            rows[mode]["torch_autograd"] = impls["torch"]["autograd"]
    if op in ("relu", "sigmoid"):
        rows[FRESH_MODE] = {side: _fresh_layer_workload(impl, op, spec, dtype, seeded())
                            for side, impl in (("fast", fast), ("book", baseline), ("oracle", reference))}
        rows[FRESH_MODE].update({name: work for name, work in rows["forward+backward"].items()
                                 if name.startswith("torch")})
    if op in ("relu", "sigmoid") and size in OUT_SIZES:
        rows["forward(out=)"] = {side: _out_workload(side, op, spec, dtype, seeded()) for side in ("fast", "book")}
    if peer_versions:
        peer_rows = peers.workloads(op, spec, dtype, seeded(), peer_versions, threads)
        rows["forward+backward"].update(peer_rows)
        if FRESH_MODE in rows:  # the peers keep no state: one callable stands in both rows
            rows[FRESH_MODE].update(peer_rows)
    return rows

def run(ops: Sequence[str], sizes: Sequence[str], dtypes: Sequence[str], threads: Sequence[int], *,
        samples: int = 15, sample_ms: float = 10.0, use_torch: bool = True, bandwidth: bool = False,
        progress: Callable[[str], None] | None = None, with_peers: bool = False) -> dict[str, Any]:
    """Run the suite; returns a JSON-ready report.  ``with_peers``: also
    numba and JAX where installed (:mod:`zk_layers.peers`)."""
    from threadpoolctl import threadpool_limits

    use_torch = use_torch and _torch_available()
    peer_versions = peers.available(min(threads)) if with_peers else {}
    cases: list[Case] = []
    bandwidths: dict[int, float] = {}
    plan = _plan(ops, sizes, dtypes, threads)
    book_loop = book_loop_data() if {"book-loop", "convnet-step"} & set(ops) else None
    if "cbow-step" in ops and book_loop is None:
        book_loop = (np.empty((0, 0)), np.empty((0, 0)), w2v_corpus()[1])  # for the row note's {data}
    for index, (op, size, dt, th) in enumerate(plan):
        dtype = np.dtype("float64" if dt == "mixed" else dt)
        spec = SIZES[size]
        if progress is not None:
            progress(f"[{index + 1}/{len(plan)}] {op} {size} {dt} {th} thread(s)")
        with threadpool_limits(limits=th), limit_threads(th), pinned_to_one_core(th == 1):
            if use_torch:
                import torch

                torch.set_num_threads(th)
            for mode, contenders in _contenders(op, size, dtype, use_torch, book_loop, peer_versions, th).items():
                result = compare(contenders, samples, sample_ms / 1000)
                if op == "book-loop":
                    assert book_loop is not None
                    shape = f"N={BOOK_BATCH_SIZE}, {book_loop[0].shape[1]}-{BOOK_HIDDEN_SIZE}-{book_loop[1].shape[1]}"
                elif op == "convnet-step":
                    shape = f"N={BOOK_BATCH_SIZE}, 1x28x28, conv 30x5x5, pool 2x2, 100, 10"
                elif op in CONV_OPS:
                    shape = _conv_shape(op)
                elif op == "cbow-step":
                    shape = f"N=100, V={W2V_VOCAB}, hidden {W2V_HIDDEN}, window 5, 5 negative words"
                elif op in W2V_OPS:
                    shape = f"N={spec['N']}, W {W2V_VOCAB}x{W2V_HIDDEN}"
                else:
                    shape = (f"N={spec.get('affine_N', spec['N']) if op == 'affine' else spec['N']}, "
                             f"{spec['D']}-{spec['H']}-{spec['C']}")
                cases.append(Case(op, size, dt, th, mode, shape, {k: v[0] for k, v in result.items()},
                                  {k: v[1] for k, v in result.items()},
                                  _memory_bytes(op, mode, spec, dtype.itemsize)))
        if bandwidth and th not in bandwidths:
            bandwidths[th] = measure_bandwidth(th)
    info = config_info()
    return {
        "zk_layers": __version__,
        "machine": {"cpu": cpu_model(), "usable_cpus": info["usable_cpus"], "platform": info["platform"]},
        "config": info,
        "torch": _torch_version() if use_torch else None,
        "peers": peer_versions,
        "jax_threads": peers.jax_threads if "jax" in peer_versions else None,
        "protocol": {"samples": samples, "sample_ms": sample_ms, "interleaved": True, "gc": "off",
                     "one_thread_rows_pinned": 1 in threads and hasattr(os, "sched_setaffinity"),
                     "rotated": True},
        "baseline": "zk_layers.baseline: the book's plain NumPy code (book); "
                    "zk_layers.reference: the validated oracle (oracle)",
        "book_loop_data": book_loop[2] if book_loop is not None else None,
        "bandwidth_GBps": bandwidths,
        "cases": [asdict(c) | {"ratio_book": c.ratio("book"), "ratio_oracle": c.ratio("oracle"),
                               "ratio_torch": _best_torch_ratio(c), "best_peer": _best_peer(c),
                               "note": _note(c.op, c.mode, book_loop)}
                  for c in cases],
    }

def _conv_shape(op: str) -> str:
    s = CONV_SHAPES[op]
    image = f"N={s['N']}, {s['C']}x{s['H']}x{s['W']}"
    window = f"{s['FH']}x{s['FW']}, stride {s['stride']}, pad {s['pad']}"
    return f"{image}, {s['FN']} filters {window}" if op == "conv" else f"{image}, max {window}"

def _note(op: str, mode: str, book_loop: tuple[np.ndarray, np.ndarray, str] | None) -> str | None:
    note = note_for(op, mode)
    if note is not None and book_loop is not None:
        note = note.replace("{data}", book_loop[2])
    return note
