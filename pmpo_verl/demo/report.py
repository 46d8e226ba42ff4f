"""Metrics from verl's ``file`` tracking backend -> ``metrics.jsonl``, plots and the compare table."""

from __future__ import annotations

import json
import math
import os

from .task import DATA_SOURCE

VAL_ACC_PREFIX = f"val-core/{DATA_SOURCE}/acc/mean@"
TRAIN_SCORE = "critic/score/mean"
P_KEYS = ("actor/pmpo/p_mean", "actor/pmpo/p_std", "actor/pmpo/p_min", "actor/pmpo/p_max", "actor/pmpo/frac_p0", "actor/pmpo/frac_p1")


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
    axes[1].set(title=f"held-out accuracy ({val_acc_label(val_key)})", xlabel="step", ylabel="accuracy", ylim=(-0.02, 1.02))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_p(records: list[dict], path: str, title: str = "PMPO: p per trajectory") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    x, mean = _series(records, "actor/pmpo/p_mean")
    _, std = _series(records, "actor/pmpo/p_std")
    _, pmin = _series(records, "actor/pmpo/p_min")
    _, pmax = _series(records, "actor/pmpo/p_max")
    if x:
        axes[0].fill_between(x, pmin, pmax, alpha=0.15, label="min..max")
        if len(std) == len(mean):
            axes[0].fill_between(x, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)], alpha=0.3, label="mean ± std")
        axes[0].plot(x, mean, marker=".", label="mean")
    axes[0].set(title=title, xlabel="step", ylabel="p", ylim=(-0.05, 1.05))
    for key, label in (("actor/pmpo/frac_p0", "p < 0.01"), ("actor/pmpo/frac_p1", "p > 0.99"), ("actor/pmpo/degenerate_frac", "degenerate"), ("actor/pmpo/clip_frac_mean", "clip fraction")):
        xs, ys = _series(records, key)
        if xs:
            axes[1].plot(xs, ys, marker=".", label=label)
    axes[1].set(title="share of trajectories", xlabel="step", ylim=(-0.05, 1.05))
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
        "s_per_step": (sum(step_t[1:]) / len(step_t[1:])) if len(step_t) > 1 else (step_t[0] if step_t else float("nan")),
        "wall_s": wall_s,
    }


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
