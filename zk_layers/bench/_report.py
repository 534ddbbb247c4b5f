"""The report: the table (plain or Markdown), the best peer of each row, the plot."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._common import NOTES, Case


def _best_torch_ratio(case: Case) -> float | None:
    """torch/fast with the better of PyTorch's explicit and autograd paths."""
    candidates = [case.medians_s[k] for k in ("torch", "torch_autograd") if k in case.medians_s]
    if not candidates or "fast" not in case.medians_s:
        return None
    return min(candidates) / case.medians_s["fast"]

PEER_NAMES = ("torch", "torch_autograd", "numba", "jax")

def _best_peer(case: Case) -> dict[str, Any] | None:
    """The fastest peer of a case (PyTorch, numba, JAX): its name, time and
    its time over zk_layers' (> 1: zk_layers is faster)."""
    times = {k: v for k, v in case.medians_s.items() if k in PEER_NAMES}
    if not times or "fast" not in case.medians_s:
        return None
    name = min(times, key=times.__getitem__)
    return {"name": name.replace("_autograd", " (autograd)"), "median_s": times[name],
            "ratio": times[name] / case.medians_s["fast"]}

def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"

def _fmt_ratio(ratio: float | None) -> str:
    return f"{ratio:.2f}x" if ratio else "-"

COLUMNS = ["op", "size", "dtype", "thr", "mode", "fast", "book", "book/fast", "oracle", "torch", "torch/fast",
           "best peer", "peer/fast", "GB/s (of stream)"]

def format_table(report: dict[str, Any], markdown: bool = False) -> str:
    cfg = report["config"]
    blas = ", ".join(
        f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')})" for p in cfg["blas"]
    ) or "not detected"
    head = [
        f"zk_layers {report['zk_layers']} benchmark on {report['machine']['cpu']} "
        f"({report['machine']['usable_cpus']} usable CPUs), {report['machine']['platform']}",
        f"python {cfg['python']}, numpy {cfg['numpy']}, BLAS {blas}, kernels {cfg['kernels']}, "
        f"OpenMP {'on' if cfg['openmp'] else 'off'}, torch {report['torch'] or 'not installed'}"
        + "".join(f", {name} {version}" + (f" (its pool: {report['jax_threads']} thread(s), so only in those rows)"
                                             if name == "jax" and report.get("jax_threads") else "")
                  for name, version in (report.get("peers") or {}).items()),
        f"environment: {cfg['environment'] or '{}'}",
        f"protocol: interleaved (each sample starting with the next contender in turn), "
        f"{report['protocol']['samples']} samples of ~{report['protocol']['sample_ms']:g} ms, "
        f"medians (IQR); ratios > 1 mean zk_layers is faster"
        + ("; one-thread rows pinned to one core (every peer too)"
           if report["protocol"].get("one_thread_rows_pinned") else ""),
        "book: the book's plain NumPy code (zk_layers.baseline), the baseline of every ratio; "
        "oracle: zk_layers.reference, validated, for information",
    ]
    if report.get("book_loop_data"):
        head.append(f"book-loop data: {report['book_loop_data']}")
    for th, gbps in report["bandwidth_GBps"].items():
        head.append(f"streaming bandwidth at {th} thread(s): {gbps:.1f} GB/s")
    rows = []
    notes: dict[str, str] = {}
    for c in report["cases"]:
        med, iqr = c["medians_s"], c["iqrs_s"]
        torch_best = min((med[k] for k in ("torch", "torch_autograd") if k in med), default=None)
        gbps = ""
        if c["bytes_moved"] and c["size"] == "large":
            gbps = f"{c['bytes_moved'] / med['fast'] / 1e9:.1f}"
            if c["threads"] in report["bandwidth_GBps"]:
                gbps += f" ({100 * c['bytes_moved'] / med['fast'] / 1e9 / report['bandwidth_GBps'][c['threads']]:.0f}%)"
        mode = c["mode"]
        if c.get("note"):
            key = (f"{c['op']} {mode}" if (c["op"], mode) in NOTES
                   else c["op"] if (c["op"], "*") in NOTES else mode)
            notes.setdefault(key, c["note"])
            mode = f"{mode} [{list(notes).index(key) + 1}]"
        rows.append([c["op"], c["size"], c["dtype"], str(c["threads"]), mode,
                     f"{_fmt_time(med.get('fast'))} ({_fmt_time(iqr.get('fast'))})",
                     _fmt_time(med.get("book")), _fmt_ratio(c["ratio_book"]), _fmt_time(med.get("oracle")),
                     _fmt_time(torch_best), _fmt_ratio(c["ratio_torch"]),
                     f"{c['best_peer']['name']} {_fmt_time(c['best_peer']['median_s'])}" if c.get("best_peer") else "-",
                     _fmt_ratio(c["best_peer"]["ratio"]) if c.get("best_peer") else "-", gbps])
    footer = [f"[{i + 1}] {key}: {text}" for i, (key, text) in enumerate(notes.items())]
    if markdown:
        lines = [*(f"- {h}" for h in head), "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        if footer:
            lines += ["", *(f"- {f}" for f in footer)]
        return "\n".join(lines)
    widths = [max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) if rows else len(COLUMNS[i])
              for i in range(len(COLUMNS))]
    lines = [*head, "", "  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if footer:
        lines += ["", *footer]
    return "\n".join(lines)

def plot_ratios(report: dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in report["cases"] if c["ratio_book"]]
    labels = [f"{c['op']} {c['mode'][:10]} {c['size']} {c['dtype']} T{c['threads']}" for c in cases]
    fig, ax = plt.subplots(figsize=(8, max(3, 0.22 * len(cases))))
    y = np.arange(len(cases))
    ax.barh(y, [c["ratio_book"] for c in cases], height=0.4, label="book / fast")
    torch_ratios = [c["ratio_torch"] or 0 for c in cases]
    if any(torch_ratios):
        ax.barh(y + 0.4, torch_ratios, height=0.4, label="torch / fast")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(y + 0.2, labels, fontsize=7)
    ax.invert_yaxis()  # the first row (the book-loop) on top
    ax.set_xscale("log")
    ax.set_xlabel("speed-up of zk_layers over the book's code (log scale)")
    ax.legend(loc="lower right")
    ax.set_title(f"zk_layers {report['zk_layers']} on {report['machine']['cpu']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
