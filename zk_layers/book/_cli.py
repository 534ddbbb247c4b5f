"""The command line of ``zk-layers book run`` and ``zk-layers book check``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from ._check import (
    DEFAULT_MAX_STEPS,
    DEFAULT_MAX_STEPS_2,
    DEFAULT_RTOL,
    DEFAULT_RTOL_2,
    GRADIENT_CHECK_ATOL,
    MAX_STEPS_PER_SCRIPT,
    MAX_STEPS_PER_SCRIPT_2,
    check,
)
from ._run import MAX_STEPS_VARIABLE, PTB_DIR_VARIABLE, run_script

DATA_DIR_HELP = (f"second volume: a folder with ptb.train.txt, ptb.valid.txt and ptb.test.txt (the Penn "
                 f"Treebank, checked against its MD5 sums) for dataset/ptb.py, instead of its download "
                 f"(default: ${PTB_DIR_VARIABLE})")


def add_book_parser(sub: Any) -> None:
    """Add ``book run`` and ``book check`` to a subparsers object."""
    book = sub.add_parser("book", help="run the book's own scripts on zk_layers (volume 1: chapters 5-8; "
                          "volume 2: chapters 1-8)",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = book.add_subparsers(dest="book_command", metavar="{run,check}")
    commands.required = True
    run = commands.add_parser("run", help="run one of the book's scripts with common served by zk_layers.book "
                              "(volume 2: zk_layers.book2)")
    run.add_argument("--seed", type=int, help="np.random.seed(N) before the script runs")
    run.add_argument("--common", choices=["zk", "book"], default="zk",
                     help="whose common package the script gets (default: zk)")
    run.add_argument("--max-steps", type=_positive_int,
                     help=f"stop at the start of training step N+1 (default: ${MAX_STEPS_VARIABLE}, else no limit)")
    run.add_argument("--book-dir", default=os.environ.get("ZK_LAYERS_BOOK_DIR"),
                     help="the book's checkout, to find SCRIPT in (default: $ZK_LAYERS_BOOK_DIR)")
    run.add_argument("--output-dir", help="where files the script writes into the book's checkout go "
                     "(default: a new temporary folder); a file there that an earlier run wrote is read "
                     "instead of the book's")
    run.add_argument("--data-dir", help=DATA_DIR_HELP)
    run.add_argument("--report", help=argparse.SUPPRESS)  # JSON report, for check
    run.add_argument("script", help="the book's script, e.g. ch06/batch_norm_test.py")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    run.set_defaults(run=_cli_run)
    chk = commands.add_parser("check", help="run the scripts of ch05-ch08 (volume 2: ch01-ch08) both ways and "
                              "compare their numbers")
    chk.add_argument("book_dir", help="the book's checkout")
    chk.add_argument("--scripts", nargs="+", help="only these (relative to BOOK_DIR, e.g. ch06/overfit_dropout.py)")
    chk.add_argument("--seed", type=int, default=0, help="np.random.seed(N) on both sides (default: 0)")
    chk.add_argument("--max-steps", type=_positive_int,
                     help=f"training steps per script on both sides (default: {DEFAULT_MAX_STEPS}; "
                     + ", ".join(f"{k}: {v}" for k, v in MAX_STEPS_PER_SCRIPT.items())
                     + f"; volume 2: {DEFAULT_MAX_STEPS_2}; "
                     + ", ".join(f"{k}: {v}" for k, v in MAX_STEPS_PER_SCRIPT_2.items()) + ")")
    chk.add_argument("--rtol", type=float,
                     help=f"relative tolerance per printed number (default: {DEFAULT_RTOL:g}, volume 2: "
                     f"{DEFAULT_RTOL_2:g}; a number both sides rounded for printing may also differ by one "
                     "unit in its last digit)")
    chk.add_argument("--atol", type=float, help=f"absolute tolerance (default: 0, {GRADIENT_CHECK_ATOL:g} for "
                     "the gradient checks' printed differences)")
    chk.add_argument("--timeout", type=float, default=900, help="seconds per run (default: 900)")
    chk.add_argument("--repeats", type=_positive_int, default=1,
                     help="runs per side, interleaved; the times are medians (default: 1)")
    chk.add_argument("--data-dir", help=DATA_DIR_HELP + "; given to both sides")
    chk.add_argument("--json", help="also write the rows to this JSON file")
    chk.set_defaults(run=_cli_check)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _cli_run(args: argparse.Namespace) -> int:
    report: dict[str, Any] = {}
    try:
        report = run_script(args.script, args.args, seed=args.seed, common=args.common,
                            max_steps=args.max_steps, book_dir=args.book_dir, output_dir=args.output_dir,
                            data_dir=args.data_dir)
    finally:
        if args.report:
            with open(args.report, "w") as f:
                json.dump(report, f)
    return 0


def _cli_check(args: argparse.Namespace) -> int:
    rows = check(args.book_dir, args.scripts, seed=args.seed, max_steps=args.max_steps, rtol=args.rtol,
                 atol=args.atol, timeout=args.timeout, repeats=args.repeats, data_dir=args.data_dir)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    failed = [row["script"] for row in rows if row["same"] is False]
    if failed:
        print(f"zk-layers book check: {len(failed)} script(s) failed or printed other numbers: "
              + ", ".join(failed), file=sys.stderr)
        return 3
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m zk_layers.book run|check ...``."""
    # The usage lines read "zk-layers book run ...": the command this one
    # stands for (argparse would otherwise print "python -m zk_layers.book
    # book run", with the implied `book` shown twice).
    parser = argparse.ArgumentParser(prog="zk-layers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="book")
    # `python -m zk_layers.book run ...`: the `book` word is implied.
    add_book_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "book":
        argv = ["book", *argv]
    from ..cli import run_command

    args = parser.parse_args(argv)
    return run_command(args, f"book {args.book_command}")
