"""Both verifiers over the labelled sets, side by side: one table row each per set, and the notes.

Both see the same (response, gold) pairs: ours through ``reward.verify_batch`` (one call per distinct
(mode, options) group, :data:`~.verifier_score.TIMEOUT` per item), Math-Verify in this process, item by
item, with the pair's own call (set (a)) or its recommended configuration plus the pair's keywords.

Code execution is detected, not assumed away: the caller runs everything in an empty scratch working
directory (the pool's workers start there too), and after each verifier's run of each set
:func:`scratch_files` reports, and removes, whatever appeared there (set (c)'s payloads write their marker
into it; a corpus payload that writes any file relative to the working directory is caught the same way).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .labelled_cases import verify_grouped
from .math_verify_adapter import MV_VERSION, mv_default
from .verifier_score import TABLE_HEADER, TIMEOUT, Score, agreement, is_late
from .verifier_sets import Pair, Suite


def run_ours(pairs: list[Pair], workers: int, mode: str) -> Score:
    """One ``verify_batch`` per distinct (mode, options) group (a single call when no pair sets either)."""
    score = Score()
    items = [(p.response, p.gold, p.mode or mode, p.options) for p in pairs]
    start = time.perf_counter()
    verdicts = verify_grouped(items, TIMEOUT, workers)
    score.wall_s = time.perf_counter() - start
    for pair, verdict in zip(pairs, verdicts):
        score.add(verdict.correct, pair.label)
        score.latencies_ms.append(verdict.elapsed_ms)
        score.timeouts += verdict.status == "timeout"
        score.late += is_late(verdict.elapsed_ms)
    return score


def run_math_verify(pairs: list[Pair]) -> Score:
    """Math-Verify on every pair in this process; an exception counts as "not equal"."""
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    score = Score()
    start = time.perf_counter()
    for pair in pairs:
        t0 = time.perf_counter()
        try:
            got = pair.mv_run() if pair.mv_run is not None else mv_default(pair.response, pair.gold,
                                                                            **pair.mv_kwargs)
        except Exception:
            got = False
        elapsed = (time.perf_counter() - t0) * 1000
        score.add(bool(got), pair.label)
        score.latencies_ms.append(elapsed)
        score.late += is_late(elapsed)
    score.wall_s = time.perf_counter() - start
    return score


def scratch_files(scratch: Path) -> list[str]:
    """Names that appeared in the scratch working directory; removes them so the next check starts empty."""
    found = []
    for entry in sorted(scratch.iterdir()):
        found.append(entry.name)
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    return found


def describe_suites(suites: list[Suite], sets: set[str], class_names: list[str], mode: str,
                    workers: int) -> None:
    """The lines printed before the table: how ours runs, and which suites carry per-pair options or modes."""
    per_case = " (set (d): each case's own mode)" if "d" in sets and mode == "eval" else ""
    if sets:
        print(f"ours: reward.verify_batch(mode={mode!r}{per_case}, timeout={TIMEOUT}, workers={workers}); "
              f"math-verify {MV_VERSION}")
    for name, pairs in suites:
        configured = [p for p in pairs if p.options]
        if configured:
            kinds = sorted({f"{k}={v}" for p in configured for k, v in p.options.items()})
            whose = "their test's" if name.startswith("(a)") else "their case's"
            print(f"{name}: {len(configured)} pairs run with {whose} options on both sides "
                  f"({', '.join(kinds)})")
        rewarded = sum(p.mode == "reward" for p in pairs)
        if rewarded:
            print(f"{name}: {rewarded} reward-mode cases run ours with mode='reward'; Math-Verify has no "
                  f"reward mode and runs them with its recommended configuration")
    if "d" in sets:
        if class_names:
            print(f"(d): {len(class_names)} class files in tests/reward/cases; Math-Verify runs every case "
                  f"with its recommended configuration (no string/choice extractor), plus the case's options")
        else:
            print("(d): no class files in tests/reward/cases yet")


@dataclass
class Comparison:
    """What :func:`compare` found beyond the printed rows."""

    notes: list[str] = field(default_factory=list)  # one line per set (and the class total)
    executions: int = 0  # (set, verifier) runs after which a file appeared in the scratch directory


def compare(suites: list[Suite], class_names: list[str], scratch: Path, workers: int, mode: str,
            show_disagreements: bool) -> Comparison:
    """Run both verifiers on every suite, printing the table (and the ``(d) all classes`` total after the
    last of ``class_names`` when there are several) and, with ``show_disagreements``, every pair where a
    verifier disagrees with the label."""
    result = Comparison()
    totals = (Score(), Score())
    if suites:
        print(TABLE_HEADER)
    for name, pairs in suites:
        ours = run_ours(pairs, workers, mode)
        ran_ours = scratch_files(scratch)
        print(ours.row(name, "ours"), flush=True)
        theirs = run_math_verify(pairs)
        ran_theirs = scratch_files(scratch)
        print(theirs.row(name, "math-verify"), flush=True)
        result.executions += bool(ran_ours) + bool(ran_theirs)
        if name in class_names:
            totals[0].merge(ours)
            totals[1].merge(theirs)
            if name == class_names[-1] and len(class_names) > 1:
                print(totals[0].row("(d) all classes", "ours"))
                print(totals[1].row("(d) all classes", "math-verify"), flush=True)
        created = (("ours", ran_ours), ("math-verify", ran_theirs))
        files = "".join(f"; files created: {who} {found}" for who, found in created if found)
        result.notes.append(
            f"{name}: ours and Math-Verify give the same verdict on {agreement(ours, theirs):.4f} of pairs; "
            f"past deadline: ours {ours.late}, math-verify {theirs.late}; code executions: ours "
            f"{int(bool(ran_ours))}, math-verify {int(bool(ran_theirs))}{files}")
        if show_disagreements:
            print_disagreements(pairs, ours, theirs)
    if len(class_names) > 1:
        result.notes.append(
            f"(d) all classes: ours and Math-Verify give the same verdict on {agreement(*totals):.4f} of "
            f"pairs; past deadline: ours {totals[0].late}, math-verify {totals[1].late}")
    return result


def print_disagreements(pairs: list[Pair], ours: Score, theirs: Score) -> None:
    """One line per pair where ours or Math-Verify disagrees with the label."""
    for pair, got, mv in zip(pairs, ours.outputs, theirs.outputs):
        if got != pair.label or mv != pair.label:
            who = "both wrong" if got == mv else ("ours wrong" if got != pair.label else "mv wrong")
            extra = [f"{pair.options}"] if pair.options else []
            extra += [f"mode={pair.mode}"] if pair.mode == "reward" else []
            where = f"{pair.where} " if pair.where else ""
            print(f"  {where}{who} (label={pair.label}, ours={got}, mv={mv}"
                  f"{''.join(', ' + e for e in extra)}): gold={str(pair.gold)[:80]!r} "
                  f"response={pair.response[-120:]!r}" + (f" [{pair.reason}]" if pair.reason else ""))
