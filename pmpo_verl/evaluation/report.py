"""results.json, results.md (the paper's table: one row per model, benchmarks as columns, Avg.) and
results.png (a bar chart, matplotlib Agg); ``compare`` puts several runs side by side."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from . import atomic
from .benchmarks import REGISTRY
from .errors import EvalError

DETAIL_KEYS = ("pass@1", "maj@{n}", "truncated", "no_answer", "parse_error", "timeout", "mean_tokens")


def title(bench: str) -> str:
    return REGISTRY[bench].title if bench in REGISTRY else bench


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100.0 * x:.1f}"


MISSING_NOTE = "–: not evaluated in that run; Avg. only for runs that have every benchmark."


def columns(runs: Sequence[dict]) -> list[str]:
    """The union of the runs' benchmarks, in first-seen order."""
    cols: list[str] = []
    for r in runs:
        cols += [b for b in r["benchmarks"] if b not in cols]
    return cols


def scores(run: dict, cols: Sequence[str]) -> list[float | None]:
    """pass@1 per column and then Avg.; None where the run lacks the benchmark, and for Avg. of a run that
    lacks any (an average over fewer benchmarks is not comparable)."""
    vals = [run["benchmarks"].get(b, {}).get("pass@1") for b in cols]
    avg = sum(vals) / len(vals) if vals and all(v is not None for v in vals) else None
    return vals + [avg]


def lacks(run: dict, cols: Sequence[str]) -> list[str]:
    return [title(b) for b in cols if run["benchmarks"].get(b, {}).get("pass@1") is None]


def paper_table(runs: Sequence[dict]) -> str:
    """Markdown table, one row per run; columns are the union of benchmarks in first-seen order + Avg.
    A benchmark a run lacks is ``–`` and the average is only shown for runs that have every column (a note
    under the table says so when some run lacks one)."""
    cols = columns(runs)
    lines = ["| model | " + " | ".join(title(b) for b in cols) + " | Avg. |",
             "|---|" + "---|" * (len(cols) + 1)]
    for r in runs:
        lines.append(f"| {r['label']} | " + " | ".join(pct(v) for v in scores(r, cols)) + " |")
    if any(lacks(r, cols) for r in runs):
        lines += ["", MISSING_NOTE]
    return "\n".join(lines)


def detail_table(result: dict) -> str:
    n = result["settings"]["n"]
    keys = [k.format(n=n) for k in DETAIL_KEYS]
    extra = sorted({k for m in result["benchmarks"].values() for k in m
                    if k.startswith("pass@") and k != "pass@1"}, key=lambda k: int(k.split("@")[1]))
    keys = keys[:1] + [f"mean@{n}"] + extra + keys[1:]
    lines = ["| benchmark | problems | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    rows = list(result["benchmarks"].items()) + [("Avg.", result["average"])]
    for bench, m in rows:
        cells = [f"{m[k]:.1f}" if k == "mean_tokens" else pct(m.get(k)) for k in keys]
        name = title(bench) if bench != "Avg." else bench
        lines.append(f"| {name} | {m.get('problems', '')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    s = result["settings"]
    mode = "greedy" if s["temperature"] == 0 else f"temperature {s['temperature']}, top_p {s['top_p']}"
    return (f"# Evaluation: {result['label']}\n\n"
            f"pass@1 (%), {mode}, n = {s['n']}, max {s['max_tokens']} new tokens, "
            f"template `{s['template']}`, backend `{s['backend']}`, seed {s['seed']}; "
            "scored by `reward.verify_batch(mode=\"eval\")`.\n\n"
            f"{paper_table([result])}\n\n## All metrics (%)\n\n{detail_table(result)}\n\n"
            "`truncated`: share of samples cut at the token limit; `no_answer`/`parse_error`/`timeout`: "
            "share of verifier statuses; `mean_tokens`: generated tokens per sample.\n")


@dataclass(frozen=True)
class Series:
    """One run's bars: ``label`` is its legend entry (naming the benchmarks it lacks), ``values`` pass@1 in %
    per x label, None where no bar is drawn."""

    label: str
    values: list[float | None]


def chart_data(runs: Sequence[dict]) -> tuple[list[str], list[Series]]:
    """x labels (benchmark titles and Avg.) and one :class:`Series` per run: a benchmark a run lacks has no
    bar and no part in its average (:func:`scores`), as in :func:`paper_table`."""
    cols = columns(runs)
    series = []
    for r in runs:
        missing = lacks(r, cols)
        label = r["label"] + (f" (not run: {', '.join(missing)}; no Avg.)" if missing else "")
        series.append(Series(label, [None if v is None else 100.0 * v for v in scores(r, cols)]))
    return [title(b) for b in cols] + ["Avg."], series


def bar_chart(runs: Sequence[dict], path: str) -> str | None:
    """Grouped bars of pass@1 per benchmark (and Avg.), one colour per run (:func:`chart_data`); None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    labels, series = chart_data(runs)
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 4))
    for i, s in enumerate(series):
        drawn = [(j, v) for j, v in enumerate(s.values) if v is not None]
        xs = [j + (i - (len(series) - 1) / 2) * width for j, _ in drawn]
        bars = ax.bar(xs, [v for _, v in drawn], width, label=s.label, color=f"C{i}")
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120)
    plt.close(fig)
    atomic.write_bytes(path, buffer.getvalue())
    return path


def write_all(out_dir: str, result: dict) -> None:
    atomic.write_json(os.path.join(out_dir, "results.json"), result)
    atomic.write_text(os.path.join(out_dir, "results.md"), markdown(result))
    if bar_chart([result], os.path.join(out_dir, "results.png")) is None:
        print("note: matplotlib is not installed, results.png was not written", file=sys.stderr)


def load_run(out_dir: str) -> dict:
    path = os.path.join(out_dir, "results.json")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read {path} ({exc.__class__.__name__}); "
                        f"is {out_dir!r} an `eval --out` directory?") from None


def compare(out_dirs: Sequence[str], plot: str | None = None) -> str:
    """The paper table of several runs (labels made unique) and, with ``plot``, their bar chart."""
    if len(out_dirs) < 1:
        raise EvalError("eval compare needs at least one --out directory")
    runs, seen = [], {}
    for d in out_dirs:
        r = load_run(d)
        label = r["label"]
        if label in seen:
            label = f"{label} ({d})"
        seen[label] = True
        runs.append({**r, "label": label})
    table = paper_table(runs)
    if plot and bar_chart(runs, plot) is None:
        raise EvalError("--plot needs matplotlib (pip install matplotlib)")
    return table
