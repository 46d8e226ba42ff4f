"""The demo's console: one progress line per step instead of verl's full output (which goes to train.log).

verl prints thousands of lines for a 30-step CPU run (Ray worker logs, config dumps, per-step metric dicts);
a user wants to see that training moves. :class:`Progress` watches the subprocess's lines for verl's
console-logger line of a step (``step:N - ...``), then reads that step's metrics from verl's file logger
(written before the console line: the demo lists the ``file`` logger first) and prints one line. Lines that
look like errors are passed through, so a failure is never hidden behind the progress display.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from . import report
from .options import TrainRun

STEP_LINE = re.compile(r"(?:^|\s)step:(\d+) - ")
ERROR_LINE = re.compile(
    r"Traceback \(most recent call last\)|\b\w*(Error|Exception)\b:|^\s*error:", re.IGNORECASE
)


def progress_line(record: dict, total_steps: int, val_acc: float | None, left_s: float | None) -> str:
    """``[loss] step 3/30  reward 0.41  val acc 0.52  p 0.83 (solved 61%)  clip 0.004  ~2 min left``."""
    parts = [f"step {record['step']}/{total_steps}"]
    score = record.get(report.TRAIN_SCORE)
    if isinstance(score, (int, float)):
        parts.append(f"reward {score:.2f}")
    if val_acc is not None:
        parts.append(f"val acc {val_acc:.3f}")
    d = report.add_derived([record])[0]
    p = d.get(report.DERIVED_PREFIX + "p_mean")
    if p is not None:
        parts.append(f"p {p:.2f} (solved {float(record[report.METRIC_PREFIX + 'solved_frac']):.0%})")
    clip = d.get(report.DERIVED_PREFIX + "clip_frac_mean")
    if clip is not None:
        parts.append(f"clip {clip:.3f}")
    if left_s is not None:
        parts.append(f"~{left_s / 60:.0f} min left" if left_s >= 90 else f"~{left_s:.0f} s left")
    return "  ".join(parts)


class Progress:
    """``on_line`` of :func:`pmpo_verl.demo.runner.run_training`: progress and error lines to ``log``."""

    def __init__(
        self, run: TrainRun, total_steps: int, log: Callable[[str], None] = print, quiet: bool = False
    ) -> None:
        self.run, self.total, self.log, self.quiet = run, total_steps, log, quiet
        self.shown: set[int] = set()
        self.t0 = time.time()
        self.val_acc: float | None = None

    def __call__(self, line: str) -> None:
        if ERROR_LINE.search(line):
            self.log(f"[{self.run.loss}] verl: {line.rstrip()}")
        elif STEP_LINE.search(line) and not self.quiet:
            self.flush()

    def flush(self) -> None:
        """Print the steps whose metrics are on disk and not shown yet (also called once the run ends)."""
        records = report.read_verl_log(self.run.verl_log)
        key = report.val_acc_key(records)
        for r in records:
            if key and key in r:
                self.val_acc = float(r[key])
            if r["step"] in self.shown or report.TRAIN_SCORE not in r:
                continue
            self.shown.add(r["step"])
            done = len(self.shown)
            left = (time.time() - self.t0) / done * (self.total - r["step"]) if done else None
            self.log(f"[{self.run.loss}] " + progress_line(r, self.total, self.val_acc, left))
