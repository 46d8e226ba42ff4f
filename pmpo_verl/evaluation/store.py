"""``<out>/samples/<benchmark>.jsonl`` (one scored sample a line) and ``<out>/run.json`` (the settings that
decide the samples). Every write replaces the whole file atomically, so a killed run leaves complete files;
a rerun reads them back and only generates what is missing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from . import atomic
from .errors import EvalError

ROW_KEYS = ("id", "sample", "prompt", "response", "extracted", "gold", "correct", "status", "method",
            "finish_reason", "n_tokens")
# settings that change the samples: a rerun into the same --out must use the same values
RUN_KEYS = ("model", "template", "n", "temperature", "top_p", "max_tokens", "seed")


def _id_order(pid: str):
    return (0, int(pid), "") if pid.isdigit() else (1, 0, pid)


class SampleStore:
    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.dir = os.path.join(out_dir, "samples")

    def path(self, bench: str) -> str:
        return os.path.join(self.dir, f"{bench}.jsonl")

    def load(self, bench: str) -> dict[tuple, dict]:
        """Finished samples by (id, sample); malformed or incomplete lines are dropped, first copy wins."""
        rows: dict[tuple, dict] = {}
        path = self.path(bench)
        if not os.path.isfile(path):
            return rows
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(row, dict) or any(k not in row for k in ROW_KEYS):
                    continue
                rows.setdefault((str(row["id"]), int(row["sample"])), row)
        return rows

    def save(self, bench: str, rows: dict[tuple, dict]) -> None:
        ordered = sorted(rows.values(), key=lambda r: (_id_order(str(r["id"])), int(r["sample"])))
        atomic.write_jsonl(self.path(bench), ({k: r[k] for k in ROW_KEYS} for r in ordered))

    def check_run(self, settings: dict) -> None:
        """Record the run settings, or refuse a rerun with different ones (its samples would mix)."""
        path = os.path.join(self.out_dir, "run.json")
        wanted = {k: settings[k] for k in RUN_KEYS}
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    old = json.load(fh)
            except (OSError, ValueError):
                old = None
            if isinstance(old, dict):
                diff = [f"{k}: {old.get(k)!r} -> {wanted[k]!r}" for k in RUN_KEYS if old.get(k) != wanted[k]]
                if diff:
                    raise EvalError(f"--out {self.out_dir} holds samples of a run with other settings "
                                    f"({'; '.join(diff)}); use another --out or delete it")
                return
        atomic.write_json(path, wanted)


def select(rows: dict[tuple, dict], keys: Iterable[tuple]) -> list[dict]:
    return [rows[k] for k in keys if k in rows]


def missing(rows: dict[tuple, dict], keys: Iterable[tuple]) -> list[tuple]:
    return [k for k in keys if k not in rows]

