#!/usr/bin/env python3
"""Fuzz the public layer API of zk_layers against the NumPy reference.

Each example is a small *program*: one layer class, its constructor
arguments, and one to five calls in random order -- ``backward`` before
``forward``, ``forward`` twice, in-place parameter updates, reassigned
attributes -- with random shapes (0 and 1 included), dtypes of every kind,
memory layouts (C, Fortran, strided, reversed, broadcast, read-only),
values (NaN, +-inf, subnormals, +-1e30, +-1e4 logits), labels, ``out=``
buffers, Python non-arrays, thread counts and grain sizes.  The program runs
on the fast layers and on ``zk_layers.reference`` in this process, and each
call must end in one of two ways:

* a result equal to the reference's (to the dtype's tolerance; NaN where
  the reference has NaN), the inputs unmodified, and no warning where the
  reference is quiet; for ``MulLayer``/``AddLayer``, which are one class in
  both packages, the oracle is NumPy itself (``np.asarray(x) * np.asarray(y)``);
* a ``TypeError`` or ``ValueError``, with the reference raising the same type.

Anything else -- another exception type, a mismatch, a spurious warning, a
modified input, a crash -- is a failure, printed with a Python reproducer.

State changed between calls: between a ``forward`` and the following
``backward`` a program may change what the layer saw or saved, as a caller
can (probability ``STATE_CHANGE_P`` per backward that follows a forward):

* in place (``mutate(...)``): the forward's input ``x``, its labels ``t``
  (out-of-range values such as ``1 << 40`` and ``-5``, one-hot rows moved or
  doubled), its ``out=`` buffer, its returned array, or a layer attribute
  (``mask``, ``out``, ``x``, ``W``, ``b``, ``y``, ``t``): NaN, +-inf, huge,
  random values, negated/flipped, random raw bytes in a bool mask;
* reassigned (``layer.attr = value``): ``Relu.mask``, ``Sigmoid.out``,
  ``Affine.W``/``b``/``x``/``original_x_shape``, ``SoftmaxWithLoss.t``/``y``,
  with a value of the right shape, a wrong shape, another dtype, a list,
  None or garbage, or a view/copy/transpose/cast of the saved value.

Both implementations get identical changes, and the rule above still holds:
the same answer as the reference, or the same TypeError/ValueError.  Known
divergences (``KNOWN``: bugs found and reported, each recognised by its
signature) are counted apart and fail a run only under ``--strict``.

Crashes: before each example the program is written to ``--last-file``, and
by default the command line runs the fuzzer in a child process
(``--in-process`` to turn that off; ``run_fuzz(isolate=True)`` from Python):
a child killed by a signal (a segfault in a kernel) is reported as a failure
with the program it was running as the reproducer, and faulthandler's
traceback.

Engines:

* ``hypothesis`` (default; in the test extras): the program is drawn from a
  ``st.data()`` strategy, failures are shrunk to a minimal program;
* ``atheris`` (optional, ``pip install atheris``): coverage-guided libFuzzer
  over the same program generator, fed by a FuzzedDataProvider;
* ``random``: a plain seeded PRNG, no dependencies (and reproducible with
  ``--seed``).

Usage::

    python tests/fuzz.py --seconds 600             # hypothesis, 10 minutes
    python tests/fuzz.py --engine random --seconds 60 --seed 1
    python tests/fuzz.py --engine atheris --seconds 60
    python tests/fuzz.py --state-changes 0.5 --seconds 60   # more state changes

A reproducer is a script to run from the repository root; it prints each
call's result or exception.

Importable: ``run_fuzz(seconds=..., max_examples=...)`` returns a
:class:`FuzzSummary`; ``tests/test_properties.py`` runs a short one in CI.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import faulthandler
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any

import fuzz_programs
import numpy as np
from fuzz_judge import KNOWN, execute, judge
from fuzz_programs import (
    STATE_CHANGE_P,
    STATE_STEPS,
    AtherisSource,
    HypothesisSource,
    Program,
    RandomSource,
    Step,
    gen_program,
)
from fuzz_values import REFERENCE, arrange, build, gen_array, gen_buffer, gen_labels, mutate, show, zk

__all__ = ["gen_array", "gen_labels", "gen_buffer", "mutate", "show", "arrange", "build", "Program", "Step",
           "gen_program", "execute", "judge", "FuzzSummary", "check_program", "run_fuzz"]


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class FuzzSummary:
    engine: str
    examples: int = 0
    calls: int = 0
    seconds: float = 0.0
    failures: list[tuple[Program, list[str]]] = dataclasses.field(default_factory=list)
    known: dict[str, int] = dataclasses.field(default_factory=dict)
    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)
    state_changes: int = 0  # mutate/setattr steps run (not counted as calls)
    changed_programs: int = 0  # programs with at least one
    crashes: int = 0  # child processes killed by a signal (isolate=True)

    def report(self) -> str:
        lines = [f"engine={self.engine} examples={self.examples} calls={self.calls} "
                 f"seconds={self.seconds:.1f} failures={len(self.failures)}",
                 "outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items())),
                 f"state changes between calls: {self.state_changes} in {self.changed_programs} program(s)"]
        if self.crashes:
            lines.append(f"crashes (child process killed by a signal): {self.crashes}")
        for tag, count in sorted(self.known.items()):
            lines.append(f"known divergence {tag}: {count} program(s) -- {KNOWN[tag]}")
        for prog, problems in self.failures[:10]:
            lines.append("FAILURE: " + "; ".join(problems))
            if prog is None:
                lines.append("reproducer: none (the crashed process left no program behind)")
                continue
            lines.append(f"reproducer (fast layers; for the oracle write `layer = zk.reference.{prog.layer}(`):")
            lines.append(prog.code())
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["failures"] = [{"program": dataclasses.asdict(p), "problems": f} for p, f in self.failures]
        return d

    def merge_json(self, d: dict[str, Any]) -> None:
        """Add a child process's summary to this one."""
        for key in ("examples", "calls", "state_changes", "changed_programs", "crashes"):
            setattr(self, key, getattr(self, key) + d[key])
        for field in ("known", "outcomes"):
            mine = getattr(self, field)
            for k, v in d[field].items():
                mine[k] = mine.get(k, 0) + v
        self.failures += [(Program.from_dict(f["program"]), f["problems"]) for f in d["failures"]]


class FuzzFailure(AssertionError):
    pass


def check_program(prog: Program, summary: FuzzSummary | None = None, last_file: str | None = None) -> list[str]:
    """Run one program on both implementations; return its failures."""
    if last_file:
        with open(last_file, "w") as fh:
            fh.write(prog.code() + "\n")
        with open(last_file + ".json", "w") as fh:  # for the parent process of an isolated run
            counts = {} if summary is None else {k: v for k, v in summary.to_json().items() if k != "failures"}
            json.dump({"program": dataclasses.asdict(prog), "counts_before": counts}, fh)
    fast = execute(zk, prog, fast=True)
    ref = execute(REFERENCE, prog, fast=False)
    failures, known = judge(prog, fast, ref)
    if summary is not None:
        summary.examples += 1
        methods = ["constructor"] + [s.method for s in prog.steps]
        changes = sum(1 for m in methods[:len(fast)] if m in STATE_STEPS)
        summary.state_changes += changes
        summary.changed_programs += changes > 0
        summary.calls += len(fast) - changes
        for o, m in zip(fast, methods, strict=False):
            if m in STATE_STEPS:
                continue
            key = "ok" if o.ok else o.exc_type.__name__
            summary.outcomes[key] = summary.outcomes.get(key, 0) + 1
        for tag in set(known):
            summary.known[tag] = summary.known.get(tag, 0) + 1
    return failures


def run_fuzz(seconds: float = 10.0, max_examples: int | None = None, engine: str = "hypothesis",
             seed: int | None = None, last_file: str | None = None, stop_on_failure: bool = True,
             verbose: bool = False, isolate: bool = False, state_changes: float | None = None) -> FuzzSummary:
    """Fuzz for ``seconds`` (or ``max_examples`` programs, whichever ends first).

    ``isolate``: run in a child process, so that a crash (a segfault) is
    reported as a failure with its program instead of ending this process.
    ``state_changes``: the probability of state changes before a backward
    (default ``fuzz_programs.STATE_CHANGE_P``; 0 turns them off)."""
    if state_changes is not None:
        if not 0 <= state_changes <= 1:
            raise ValueError(f"state_changes must be in [0, 1], got {state_changes}")
        fuzz_programs.STATE_CHANGE_P = state_changes
    if isolate and engine != "atheris":  # (libFuzzer reports atheris's crashes itself)
        return _run_isolated(seconds, max_examples, engine, seed, last_file, stop_on_failure, verbose)
    summary = FuzzSummary(engine)
    start = time.monotonic()
    deadline = start + seconds
    limit = max_examples if max_examples is not None else sys.maxsize
    old = np.geterr()
    try:
        if engine == "random":
            rnd = random.Random(seed)
            while summary.examples < limit and time.monotonic() < deadline:
                prog = gen_program(RandomSource(rnd))
                failures = check_program(prog, summary, last_file)
                if failures:
                    summary.failures.append((prog, failures))
                    if stop_on_failure:
                        break
        elif engine == "hypothesis":
            _run_hypothesis(summary, deadline, limit, seed, last_file, stop_on_failure, verbose)
        elif engine == "atheris":
            _run_atheris(summary, seconds, last_file)
        else:
            raise ValueError(f"unknown engine {engine!r}")
    finally:
        np.seterr(**old)
        summary.seconds = time.monotonic() - start
    return summary


def _crash_problem(returncode: int, stderr: str) -> str:
    try:
        how = f"signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exit status {returncode}"
    except ValueError:
        how = f"signal {-returncode}"
    tail = stderr[stderr.find("Fatal Python error"):] if "Fatal Python error" in stderr else stderr[-2000:]
    tail = "\n".join(tail.split("\nExtension modules:")[0].strip().splitlines()[:40])
    return (f"CRASH: the fuzzing process died ({how}) while running the program below"
            + (f"\n{tail}" if tail else ""))


def _run_isolated(seconds: float, max_examples: int | None, engine: str, seed: int | None,
                  last_file: str | None, stop_on_failure: bool, verbose: bool) -> FuzzSummary:
    """run_fuzz in child processes; a child that dies (signal, or no summary
    written) is a failure whose reproducer is the program it was running.
    After a crash with ``stop_on_failure=False`` a new child goes on with the
    time left (and the next seed)."""
    summary = FuzzSummary(engine)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="zk_fuzz_") as tmp:
        last = last_file or os.path.join(tmp, "last.py")
        attempt = 0
        while True:
            left = seconds - (time.monotonic() - start)
            todo = None if max_examples is None else max_examples - summary.examples
            if (attempt and left <= 0.5) or (todo is not None and todo <= 0):
                break
            out_json = os.path.join(tmp, f"summary{attempt}.json")
            for stale in (last, last + ".json"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(stale)
            cmd = [sys.executable, "-X", "faulthandler", os.path.abspath(__file__), "--in-process",
                   "--seconds", repr(max(left, 0.1)), "--engine", engine, "--last-file", last,
                   "--summary-json", out_json, "--state-changes", repr(fuzz_programs.STATE_CHANGE_P)]
            if seed is not None:
                cmd += ["--seed", str(seed + attempt)]
            if todo is not None:
                cmd += ["--max-examples", str(todo)]
            if not stop_on_failure:
                cmd.append("--keep-going")
            if verbose:
                cmd.append("--verbose")
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  errors="replace", check=False)
            if proc.stderr and verbose:
                sys.stderr.write(proc.stderr)
            if proc.returncode in (0, 1) and os.path.exists(out_json):
                with open(out_json) as fh:
                    summary.merge_json(json.load(fh))
                break  # the child used the budget, or stopped at a failure
            prog = None
            with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
                with open(last + ".json") as fh:
                    crashed = json.load(fh)
                prog = Program.from_dict(crashed["program"])
                if crashed["counts_before"]:
                    summary.merge_json({**crashed["counts_before"], "failures": []})
            summary.crashes += 1
            summary.examples += 1
            summary.failures.append((prog, [_crash_problem(proc.returncode, proc.stderr)]))
            if stop_on_failure:
                break
            attempt += 1
    summary.seconds = time.monotonic() - start
    return summary


def _run_hypothesis(summary: FuzzSummary, deadline: float, limit: int, seed: int | None,
                    last_file: str | None, stop_on_failure: bool, verbose: bool) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    last: dict[str, Any] = {}

    def body(data: Any) -> None:
        # (No early return when the budget is spent: hypothesis requires every
        # replay of a choice sequence to draw the same data.  The budget is
        # kept by sizing the batches instead.)
        prog = gen_program(HypothesisSource(data))
        failures = check_program(prog, summary, last_file)
        if failures:
            last["prog"], last["failures"] = prog, failures
            raise FuzzFailure("; ".join(failures))

    batch = 0
    started, done_before = time.monotonic(), summary.examples
    while time.monotonic() < deadline and summary.examples < limit:
        batch += 1
        # Size the batch from the measured rate so that it ends near the deadline.
        elapsed = time.monotonic() - started
        rate = (summary.examples - done_before) / elapsed if elapsed > 0 and summary.examples > done_before else 50.0
        size = int(max(1, min(500, rate * (deadline - time.monotonic()) * 0.9, limit - summary.examples)))
        test = settings(max_examples=size, deadline=None, database=None, derandomize=seed is not None,
                        suppress_health_check=list(HealthCheck),
                        phases=[Phase.generate, Phase.shrink], print_blob=False)(given(st.data())(body))
        if seed is not None:
            from hypothesis import seed as hseed
            test = hseed(seed + batch)(test)
        try:
            test()
        except FuzzFailure:
            summary.failures.append((last["prog"], last["failures"]))
            if stop_on_failure:
                return
        except Exception:  # a failure hypothesis wrapped (e.g. flaky): report it too
            if "prog" in last:
                summary.failures.append((last["prog"], last["failures"] + [traceback.format_exc(limit=3)]))
            else:
                raise
            if stop_on_failure:
                return
        if verbose:
            print(f"[{time.strftime('%H:%M:%S')}] {summary.examples} examples, "
                  f"{len(summary.failures)} failures", flush=True)


def _instrument_package(atheris: Any) -> None:
    """Coverage-instrument the functions of zk_layers' Python modules (the
    compiled kernels are not instrumented: that needs a -fsanitize=fuzzer build)."""
    import inspect

    for name, module in list(sys.modules.items()):
        if not (name == "zk_layers" or name.startswith("zk_layers.")) or module is None:
            continue
        for obj in list(vars(module).values()):
            targets = [obj] if inspect.isfunction(obj) else (
                [v for v in vars(obj).values() if inspect.isfunction(v)] if inspect.isclass(obj) else [])
            for fn in targets:
                if getattr(fn, "__module__", "").startswith("zk_layers"):
                    try:
                        atheris.instrument_func(fn)
                    except Exception:  # noqa: BLE001 - best effort
                        pass


def _run_atheris(summary: FuzzSummary, seconds: float, last_file: str | None) -> None:
    import atheris

    start: list[float] = []

    def one_input(data: bytes) -> None:
        if not start:
            start.append(time.monotonic())
        if time.monotonic() - start[0] > seconds:
            # libFuzzer's own -max_total_time exits from C, skipping our summary.
            summary.seconds = time.monotonic() - start[0]
            print(summary.report(), flush=True)
            os._exit(1 if summary.failures else 0)
        prog = gen_program(AtherisSource(atheris.FuzzedDataProvider(data)))
        failures = check_program(prog, summary, last_file)
        if failures:
            summary.failures.append((prog, failures))
            print(summary.report(), flush=True)
            raise FuzzFailure("; ".join(failures))

    _instrument_package(atheris)  # coverage feedback from our Python code (validation, wrappers)
    atheris.Setup([sys.argv[0], "-rss_limit_mb=4096"], one_input)
    try:
        atheris.Fuzz()
    except SystemExit:  # libFuzzer exits when the time is up
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget (default 60)")
    parser.add_argument("--max-examples", type=int, default=None, help="stop after this many programs")
    parser.add_argument("--engine", choices=["hypothesis", "random", "atheris"], default="hypothesis")
    parser.add_argument("--seed", type=int, default=None, help="seed (random engine; derandomised hypothesis)")
    parser.add_argument("--last-file", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "zk_fuzz_last.py"),
                        help="the program being run is written here first (a crash leaves it behind)")
    parser.add_argument("--keep-going", action="store_true", help="collect failures instead of stopping at the first")
    parser.add_argument("--strict", action="store_true", help="count known divergences as failures")
    parser.add_argument("--state-changes", type=float, default=STATE_CHANGE_P, metavar="P",
                        help="probability of state changes (inputs, labels, out= buffers changed in place, "
                             f"attributes reassigned) before a backward that follows a forward (default "
                             f"{STATE_CHANGE_P}; 0: none)")
    parser.add_argument("--in-process", action="store_true",
                        help="run in this process (default: in a child process, so that a crash is reported "
                             "as a failure with its reproducer)")
    parser.add_argument("--summary-json", default=None, help=argparse.SUPPRESS)  # (the child's report)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.summary_json:
        faulthandler.enable()
    summary = run_fuzz(args.seconds, args.max_examples, args.engine, args.seed, args.last_file,
                       stop_on_failure=not args.keep_going, verbose=args.verbose, isolate=not args.in_process,
                       state_changes=args.state_changes)
    if args.summary_json:
        with open(args.summary_json, "w") as fh:
            json.dump(summary.to_json(), fh)
        return 1 if summary.failures else 0
    print(summary.report(), flush=True)
    return 1 if summary.failures or (args.strict and summary.known) else 0


if __name__ == "__main__":
    sys.exit(main())
