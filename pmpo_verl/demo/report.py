"""Metrics from verl's ``file`` tracking backend -> ``metrics.jsonl``, plots and the compare table.

PMPO's conditional means (p over solved rows, clip fraction over active rows) are not logged as keys:
verl's reduction cannot make them exact (README, "Metrics"). They are derived here from the exact
numerators and shares that are logged (:func:`pmpo_verl.metric_reading.derived`).
"""

from __future__ import annotations

import json
import math
import os

from ..metric_reading import DERIVED, METRIC_PREFIX, derived
from .task import DATA_SOURCE

VAL_ACC_PREFIX = f"val-core/{DATA_SOURCE}/acc/mean@"
TRAIN_SCORE = "critic/score/mean"
PMPO_MARKER = METRIC_PREFIX + "active_frac"  # present in every training step's record of a PMPO-loss run
DERIVED_PREFIX = "derived/pmpo/"
"""Derived values are added to ``metrics.jsonl`` under this prefix (not a verl key: computed by the demo)."""


def read_verl_log(path: str) -> list[dict]:
    """verl's ``FileLogger`` lines (``{"step": s, "data": {...}}``) merged per step, as flat dicts."""
    steps: dict[int, dict] = {}
    if not os.path.exists(path):
        return []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a run killed mid-write
            step = int(rec.get("step", 0))
            steps.setdefault(step, {"step": step}).update(rec.get("data", {}))
    return [steps[k] for k in sorted(steps)]


def add_derived(records: list[dict]) -> list[dict]:
    """Each training record with ``derived/pmpo/<name>`` added for :data:`pmpo_verl.metric_reading.DERIVED`
    (undefined values, e.g. p_mean of a step without solved rows, are left out)."""
    return [{**r, **{DERIVED_PREFIX + k: v for k, v in derived(r).items()}} if PMPO_MARKER in r else r for r in records]


def write_metrics_jsonl(records: list[dict], path: str) -> str:
    with open(path, "w") as f:
        f.writelines(json.dumps(rec, default=float) + "\n" for rec in records)
    return path


def val_acc_key(records: list[dict]) -> str | None:
    """verl's validation accuracy key, ``val-core/<source>/acc/mean@<n>`` (n = samples per question)."""
    for r in records:
        for key in r:
            if key.startswith(VAL_ACC_PREFIX):
                return key
    return None


def val_acc_label(key: str | None) -> str:
    n = key.rsplit("@", 1)[-1] if key else "1"
    return "greedy" if n == "1" else f"mean@{n}, T=1"


def _series(records: list[dict], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in records:
        v = r.get(key)
        if isinstance(v, (int, float)) and math.isfinite(float(v)):
            xs.append(r["step"])
            ys.append(float(v))
    return xs, ys


def plot_reward(runs: dict[str, list[dict]], path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    val_key = next((k for k in map(val_acc_key, runs.values()) if k), None)
    for name, recs in runs.items():
        x, y = _series(recs, TRAIN_SCORE)
        (line,) = axes[0].plot(x, y, alpha=0.3, linewidth=1)
        w = 5
        smooth = [sum(y[max(0, i - w + 1) : i + 1]) / len(y[max(0, i - w + 1) : i + 1]) for i in range(len(y))]
        axes[0].plot(x, smooth, color=line.get_color(), label=f"{name} (mean of last {w})")
        x, y = _series(recs, val_key) if val_key else ([], [])
        axes[1].plot(x, y, marker="o", label=name)
    axes[0].set(title="training reward (mean over rollouts)", xlabel="step", ylabel="reward", ylim=(-0.02, 1.02))
    axes[1].set(
        title=f"held-out accuracy ({val_acc_label(val_key)})", xlabel="step", ylabel="accuracy", ylim=(-0.02, 1.02)
    )
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _derived_series(records: list[dict], name: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in records:
        v = derived(r).get(name)
        if v is not None:
            xs.append(r["step"])
            ys.append(v)
    return xs, ys


def plot_p(records: list[dict], path: str, title: str = "PMPO: p per trajectory") -> str:
    """Top: mean p over the solved rows and the shares of all rows that are solved / have p < 0.99 /
    p < 0.01, all on [0, 1]. Bottom, on its own scale: the mean clip fraction over active rows and the
    share of rows whose clip fraction saturates the rule. Every value is exact over the step's rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.6), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    x, y = _derived_series(records, "p_mean")
    if x:
        top.plot(x, y, marker="o", markersize=3, linewidth=2, color="C0", label="mean p over solved trajectories")
    for key, label, style in (
        ("solved_frac", "trajectories solved (p has an effect)", dict(color="C7", linestyle="--")),
        ("p_below1_frac", "trajectories with p < 0.99", dict(color="C1")),
        ("p0_frac", "trajectories with p < 0.01", dict(color="C3")),
    ):
        xs, ys = _series(records, METRIC_PREFIX + key)
        if xs:
            top.plot(xs, ys, marker=".", label=label, **style)
    top.set(title=f"{title}\n(each point: all trajectories of the step's updates; shares are of all of them)",
            ylabel="p  /  share of trajectories", ylim=(-0.02, 1.02))
    x, y = _derived_series(records, "clip_frac_mean")
    if x:
        bottom.plot(x, y, marker=".", color="C2", label="mean clip fraction over active trajectories")
    xs, ys = _series(records, METRIC_PREFIX + "clip_saturated_frac")
    if xs:
        bottom.plot(xs, ys, marker=".", color="C4", label="trajectories with clip fraction >= clip_saturation")
    bottom.set(title="clip fraction (own scale)", xlabel="step", ylabel="share")
    bottom.set_ylim(bottom=0)
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def p_summary(records: list[dict]) -> dict:
    """p over the whole run, exact over all rows of all steps (every step has the same number of rows, so
    the ratio of the step means is the ratio of the run's sums), and the range of the per-step shares."""
    train = [r for r in records if PMPO_MARKER in r]
    if not train:
        return {}
    totals = {key: sum(float(r.get(key, 0.0)) for r in train) / len(train) for pair in DERIVED.values() for key in pair}
    below1 = [float(r[METRIC_PREFIX + "p_below1_frac"]) for r in train if METRIC_PREFIX + "p_below1_frac" in r]
    out = {"train_steps": len(train), **derived(totals)}
    out.update(
        {
            "solved_frac": totals[METRIC_PREFIX + "solved_frac"],
            "p_below1_frac": totals[METRIC_PREFIX + "p_below1_frac"],
            "p0_frac": totals[METRIC_PREFIX + "p0_frac"],
        }
    )
    if below1:
        out.update(p_below1_frac_min=min(below1), p_below1_frac_max=max(below1))
    return out


def summarize(records: list[dict], threshold: float, wall_s: float | None = None) -> dict:
    key = val_acc_key(records)
    x, acc = _series(records, key) if key else ([], [])
    _, step_t = _series(records, "timing_s/step")
    reached = next((s for s, a in zip(x, acc) if a >= threshold), None)
    train_steps = [r["step"] for r in records if TRAIN_SCORE in r]
    return {
        "initial_acc": acc[0] if acc else float("nan"),
        "final_acc": acc[-1] if acc else float("nan"),
        "best_acc": max(acc) if acc else float("nan"),
        "steps_to_threshold": reached,
        "steps": max(train_steps) if train_steps else 0,
        # the first step also warms up the workers: report the steady state
        "s_per_step": (sum(step_t[1:]) / len(step_t[1:]))
        if len(step_t) > 1
        else (step_t[0] if step_t else float("nan")),
        "wall_s": wall_s,
        "p": p_summary(records),
    }


def p_line(summary: dict) -> str:
    """One sentence about p for the demo's console output ('' when the run logged no PMPO metrics)."""
    p = summary.get("p") or {}
    if "p_mean" not in p:
        return "" if not p else f"no trajectory had p solved in {p['train_steps']} steps"
    return (
        f"p over the run's (trajectory, update) pairs: mean {p['p_mean']:.3f} over the solved ones; "
        f"{p['solved_frac']:.1%} of all pairs solved, {p['p_below1_frac']:.1%} with p < 0.99 "
        f"(per step {p['p_below1_frac_min']:.1%} to "
        f"{p['p_below1_frac_max']:.1%}), {p['p0_frac']:.2%} with p < 0.01; mean clip fraction "
        f"{p.get('clip_frac_mean', float('nan')):.4f}"
    )


def compare_table(summaries: dict[str, dict], threshold: float) -> str:
    lines = [
        f"| method | val acc (start) | val acc (final) | best | steps to val acc ≥ {threshold:g} | s/step | run wall |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"pmpo": "PMPO (adaptive p)", "grpo": "GRPO (p = 1)", "gmpo": "GMPO (p = 0)"}
    for name, s in summaries.items():
        reached = s["steps_to_threshold"]
        lines.append(
            f"| {names.get(name, name)} | {s['initial_acc']:.3f} | {s['final_acc']:.3f} | {s['best_acc']:.3f} | "
            f"{reached if reached is not None else 'not reached'} | {s['s_per_step']:.2f} | "
            f"{(s['wall_s'] or float('nan')):.0f} s |"
        )
    return "\n".join(lines)
