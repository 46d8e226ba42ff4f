"""One verifier on one labelled set: confusion counts, latencies, deadline misses and its table row.

Columns (:data:`TABLE_HEADER`): ``n``; ``TP``/``FP``/``FN``/``TN`` against the labels; ``precision`` =
TP / (TP + FP); ``recall`` = TP / (TP + FN); ``agreement`` = (TP + TN) / n, the share of verdicts equal to
the label; ``p50 ms`` / ``p99 ms`` of the per-item latencies; ``timeouts`` (our verifier's status
``timeout``); ``past deadline``: items whose latency exceeds the deadline plus :data:`LATE_MARGIN_MS`;
``wall s`` of the whole set.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

TIMEOUT = 5.0  # per-item deadline in seconds, both verifiers
LATE_MARGIN_MS = 100.0  # an item is past its deadline above TIMEOUT * 1000 + this
TABLE_HEADER = (
    "| set | verifier | n | TP | FP | FN | TN | precision | recall | agreement | p50 ms | p99 ms | "
    "timeouts | past deadline | wall s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def is_late(elapsed_ms: float) -> bool:
    """Whether an item took longer than its deadline (plus the margin)."""
    return elapsed_ms > TIMEOUT * 1000 + LATE_MARGIN_MS


@dataclass
class Score:
    """Confusion counts and latencies of one verifier on one set."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    timeouts: int = 0
    late: int = 0
    wall_s: float = 0.0
    outputs: list[bool] = field(default_factory=list)

    def add(self, got: bool, label: bool) -> None:
        """Count one verdict ``got`` against its ``label``."""
        self.outputs.append(got)
        if got and label:
            self.tp += 1
        elif got:
            self.fp += 1
        elif label:
            self.fn += 1
        else:
            self.tn += 1

    def merge(self, other: Score) -> None:
        """Add another set's counts (the total row)."""
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn
        self.latencies_ms += other.latencies_ms
        self.timeouts += other.timeouts
        self.late += other.late
        self.wall_s += other.wall_s
        self.outputs += other.outputs

    def row(self, name: str, verifier: str) -> str:
        """The markdown table row of this score (columns: :data:`TABLE_HEADER`)."""
        n = self.tp + self.fp + self.fn + self.tn
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")
        agree = (self.tp + self.tn) / n if n else float("nan")
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat) if lat else float("nan")
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
        return (f"| {name} | {verifier} | {n} | {self.tp} | {self.fp} | {self.fn} | {self.tn} | "
                f"{precision:.4f} | {recall:.4f} | {agree:.4f} | {p50:.2f} | {p99:.2f} | {self.timeouts} | "
                f"{self.late} | {self.wall_s:.1f} |")


def agreement(ours: Score, theirs: Score) -> float:
    """Share of items on which both verifiers gave the same verdict."""
    return sum(a == b for a, b in zip(ours.outputs, theirs.outputs)) / max(1, len(ours.outputs))
