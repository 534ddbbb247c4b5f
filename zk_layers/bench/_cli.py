"""The command line of ``zk-layers bench``."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .._config import config_info
from ._common import OPS, QUICK_OPS, QUICK_SIZES, SIZE_GROUPS
from ._driver import run
from ._report import format_table, plot_ratios


def _csv(text: str, allowed: Sequence[str], name: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise argparse.ArgumentTypeError(
            f"{name} must be a comma-separated subset of {', '.join(allowed)}, got {text!r}"
        )
    return values

def _threads_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"threads must be comma-separated positive integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"threads must be comma-separated positive integers, got {text!r}")
    return values

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--full", action="store_true",
                   help="every op (the chapter-7 ones included), size (tiny, book, mid, large), dtype and thread "
                   "count 1..cores; minutes")
    p.add_argument("--ops", type=lambda s: _csv(s, OPS, "ops"),
                   help=f"subset of {','.join(OPS)} (default: {','.join(QUICK_OPS)}; conv, pool, "
                   "convnet-step and the second volume's embedding, negsampling and cbow-step only when named or "
                   "with --full; book-loop, convnet-step, cbow-step, conv and pool run at the book's shapes "
                   "whatever --sizes says; the second volume's ops in float32, as the book's arrays)")
    p.add_argument("--sizes", type=lambda s: _csv(s, list(SIZE_GROUPS), "sizes"),
                   help="subset of tiny,book,mid,large (default: book,mid)")
    p.add_argument("--dtypes", type=lambda s: _csv(s, ["float32", "float64"], "dtypes"),
                   help="float32,float64 (default: float64; --full: both)")
    p.add_argument("--threads", type=_threads_list,
                   help="thread counts, e.g. 1,2,4 (default: 1 and the usable CPUs)")
    p.add_argument("--samples", type=int, default=15, help="samples per implementation (default: 15)")
    p.add_argument("--sample-ms", type=float, default=10.0, help="length of one sample (default: 10 ms)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    p.add_argument("--peers", action="store_true",
                   help="also time numba and JAX where installed (never dependencies), after checking "
                        "their outputs against the reference; each gets the row's threads, BLAS included, "
                        "and JAX, whose pool is sized once, stands only in the rows of the smallest thread count")
    p.add_argument("--bandwidth", action="store_true", help="also measure streaming bandwidth (on with --full)")
    p.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (needs matplotlib)")
    p.add_argument("--no-progress", action="store_true")

def run_from_args(args: argparse.Namespace) -> int:
    if args.samples < 3:
        raise ValueError(f"--samples must be at least 3, got {args.samples}")
    if not args.sample_ms > 0:
        raise ValueError(f"--sample-ms must be positive, got {args.sample_ms}")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SystemExit("zk-layers bench: --plot needs matplotlib: pip install 'zk_layers[plot]'") from None
    cpus = config_info()["usable_cpus"]
    groups = args.sizes or (list(SIZE_GROUPS) if args.full else list(QUICK_SIZES))
    sizes = [s for g in groups for s in SIZE_GROUPS[g]]
    dtypes = args.dtypes or (["float32", "float64"] if args.full else ["float64"])
    default_threads = sorted({1, 2, 4, 8, 16, cpus} & set(range(1, cpus + 1))) if args.full else sorted({1, cpus})
    threads = args.threads or default_threads
    ops = args.ops or list(OPS if args.full else QUICK_OPS)

    def progress(message: str) -> None:
        if not args.no_progress:
            print(message, file=sys.stderr, flush=True)

    report = run(ops, sizes, dtypes, threads, samples=args.samples, sample_ms=args.sample_ms,
                 use_torch=not args.no_torch, bandwidth=args.bandwidth or args.full, progress=progress,
                 with_peers=args.peers)
    print(format_table(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(format_table(report, markdown=True) + "\n")
        print(f"wrote {args.markdown}")
    if args.plot:
        plot_ratios(report, args.plot)
        print(f"wrote {args.plot}")
    return 0

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="zk-layers bench", description=(sys.modules[__package__].__doc__ or "").split("\n\n")[0]
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
