"""results.json, results.md (the paper's table: one row per model, benchmarks as columns, Avg.) and
results.png (a bar chart, matplotlib Agg); ``compare`` puts several runs side by side."""

from __future__ import annotations

import json
import os
import sys
from typing import Optional, Sequence

from . import atomic
from .benchmarks import REGISTRY
from .errors import EvalError

DETAIL_KEYS = ("pass@1", "maj@{n}", "truncated", "no_answer", "parse_error", "timeout", "mean_tokens")


def title(bench: str) -> str:
    return REGISTRY[bench].title if bench in REGISTRY else bench


def pct(x: Optional[float]) -> str:
    return "–" if x is None else f"{100.0 * x:.1f}"


def paper_table(runs: Sequence[dict]) -> str:
    """Markdown table, one row per run; columns are the union of benchmarks in first-seen order + Avg.
    The average is only shown for runs that have every column."""
    cols: list[str] = []
    for r in runs:
        cols += [b for b in r["benchmarks"] if b not in cols]
    lines = ["| model | " + " | ".join(title(b) for b in cols) + " | Avg. |",
             "|---|" + "---|" * (len(cols) + 1)]
    for r in runs:
        vals = [r["benchmarks"].get(b, {}).get("pass@1") for b in cols]
        avg = sum(vals) / len(vals) if vals and all(v is not None for v in vals) else None
        lines.append(f"| {r['label']} | " + " | ".join(pct(v) for v in vals) + f" | {pct(avg)} |")
    return "\n".join(lines)


def detail_table(result: dict) -> str:
    n = result["settings"]["n"]
    keys = [k.format(n=n) for k in DETAIL_KEYS]
    extra = sorted({k for m in result["benchmarks"].values() for k in m if k.startswith("pass@") and k != "pass@1"},
                   key=lambda k: int(k.split("@")[1]))
    keys = keys[:1] + [f"mean@{n}"] + extra + keys[1:]
    lines = ["| benchmark | problems | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    rows = list(result["benchmarks"].items()) + [("Avg.", result["average"])]
    for bench, m in rows:
        cells = [f"{m[k]:.1f}" if k == "mean_tokens" else pct(m.get(k)) for k in keys]
        lines.append(f"| {title(bench) if bench != 'Avg.' else bench} | {m.get('problems', '')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    s = result["settings"]
    mode = "greedy" if s["temperature"] == 0 else f"temperature {s['temperature']}, top_p {s['top_p']}"
    return (f"# Evaluation: {result['label']}\n\n"
            f"pass@1 (%), {mode}, n = {s['n']}, max {s['max_tokens']} new tokens, template `{s['template']}`, "
            f"backend `{s['backend']}`, seed {s['seed']}; scored by `reward.verify_batch(mode=\"eval\")`.\n\n"
            f"{paper_table([result])}\n\n## All metrics (%)\n\n{detail_table(result)}\n\n"
            "`truncated`: share of samples cut at the token limit; `no_answer`/`parse_error`/`timeout`: share of "
            "verifier statuses; `mean_tokens`: generated tokens per sample.\n")


def bar_chart(runs: Sequence[dict], path: str) -> Optional[str]:
    """Grouped bars of pass@1 per benchmark (and Avg.), one colour per run; None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    cols: list[str] = []
    for r in runs:
        cols += [b for b in r["benchmarks"] if b not in cols]
    labels = [title(b) for b in cols] + ["Avg."]
    width = 0.8 / max(1, len(runs))
    fig, ax = plt.subplots(figsize=(1.2 * len(labels) + 2, 4))
    for i, r in enumerate(runs):
        vals = [100.0 * r["benchmarks"].get(b, {}).get("pass@1", 0.0) for b in cols]
        vals.append(sum(vals) / len(vals) if vals else 0.0)
        xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(labels))]
        bars = ax.bar(xs, vals, width, label=r["label"])
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("pass@1 (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
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
        raise EvalError(f"cannot read {path} ({exc.__class__.__name__}); is {out_dir!r} an `eval --out` directory?") from None


def compare(out_dirs: Sequence[str], plot: Optional[str] = None) -> str:
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
