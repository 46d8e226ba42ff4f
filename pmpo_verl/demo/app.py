"""``pmpo-verl demo``: tiny model + warm start + synthetic data, then verl's ``main_ppo`` on CPU."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field

from . import report
from .preflight import (
    DemoError,
    check_cpu_settings,
    check_main_ppo_command,
    check_model_path,
    check_plugin,
    check_verl_version,
)
from .runner import TrainSettings, build_command, build_env, run_training

LOSSES = ("pmpo", "grpo", "gmpo")


@dataclass
class DemoOptions:
    out: str = "pmpo_demo"
    steps: int = 30
    loss: str = "pmpo"
    compare: bool = False
    seed: int = 0
    model: str | None = None  # an existing HF model directory instead of the tiny model
    warmstart_steps: int = 1000
    # share of warm-start solutions that end in **answer** instead of \boxed{answer}: the reward scores those 0,
    # so there is something for RL to learn in a few CPU minutes (see the README)
    warmstart_unboxed: float = 0.5
    batch_size: int = 16
    n: int = 4
    mini_batch_size: int = 8  # 2 mini-batches x 2 epochs = 4 updates per step: from the second on, ratios are off-policy
    ppo_epochs: int = 2
    lr: float = 2e-4
    clip_ratio: float = 0.2  # log-space, tighter than the recipes' 0.4 so that tokens get clipped at this scale
    val_questions: int = 128
    val_samples: int = 4  # validation: mean accuracy of 4 samples per held-out question at temperature 1
    test_freq: int = 5
    threshold: float = 0.75
    quiet: bool = False
    extra: list[str] = field(default_factory=list)


def prepare_model(opts: DemoOptions, log=print) -> str:
    """The tiny model with its warm start, built once per (seed, warm-start steps) and reused."""
    if opts.model:
        return check_model_path(os.path.abspath(opts.model))
    from .tiny_model import build_tiny_model
    from .warmstart import warm_start

    model_dir = os.path.join(opts.out, "model")
    stamp = os.path.join(model_dir, "pmpo_demo.json")
    want = {"seed": opts.seed, "warmstart_steps": opts.warmstart_steps, "warmstart_unboxed": opts.warmstart_unboxed}
    if os.path.exists(stamp):
        with open(stamp) as f:
            have = json.load(f)
        if {k: have.get(k) for k in want} == want:
            log(f"reusing the warm-started tiny model in {model_dir}")
            return model_dir
    shutil.rmtree(model_dir, ignore_errors=True)
    log(f"building the tiny model (seed {opts.seed}) in {model_dir}")
    build_tiny_model(model_dir, seed=opts.seed)
    stats = {}
    if opts.warmstart_steps > 0:
        stats = warm_start(model_dir, steps=opts.warmstart_steps, seed=opts.seed, unboxed_frac=opts.warmstart_unboxed, log=log)
    with open(stamp, "w") as f:
        json.dump({**want, **stats}, f)
    return model_dir


def run_one(opts: DemoOptions, loss: str, model_dir: str, data: dict, out_dir: str, log=print) -> dict:
    settings = TrainSettings(
        model_path=model_dir,
        train_file=data["train"],
        val_file=data["val"],
        out_dir=out_dir,
        steps=opts.steps,
        loss=loss,
        seed=opts.seed,
        batch_size=opts.batch_size,
        mini_batch_size=opts.mini_batch_size,
        n=opts.n,
        lr=opts.lr,
        ppo_epochs=opts.ppo_epochs,
        clip_ratio=opts.clip_ratio,
        val_samples=opts.val_samples,
        test_freq=opts.test_freq,
        save_freq=opts.steps,
        extra=list(opts.extra),
    )
    log(f"[{loss}] python -m verl.trainer.main_ppo ... ({opts.steps} steps; full command in {out_dir}/command.txt, log in {out_dir}/train.log)")
    result = run_training(settings, quiet=opts.quiet)
    if result.returncode != 0:
        raise DemoError(f"verl's main_ppo failed (exit {result.returncode}) for --loss {loss}; see {result.log_path}")
    records = report.add_derived(report.read_verl_log(settings.verl_log))
    if not any(report.PMPO_MARKER in r for r in records):
        raise DemoError(f"no actor/pmpo/* metrics came back from verl for --loss {loss}; see {result.log_path}")
    metrics_path = report.write_metrics_jsonl(records, os.path.join(out_dir, "metrics.jsonl"))
    reward_png = report.plot_reward({loss: records}, os.path.join(out_dir, "reward.png"))
    p_png = report.plot_p(records, os.path.join(out_dir, "p.png"), title=f"{loss}: p per trajectory")
    summary = report.summarize(records, opts.threshold, wall_s=result.wall_s)
    ckpt = os.path.join(settings.ckpt_dir, f"global_step_{summary['steps']}")
    log(f"[{loss}] metrics: {metrics_path}\n[{loss}] plots: {reward_png}, {p_png}\n[{loss}] checkpoint: {ckpt}")
    if report.p_line(summary):
        log(f"[{loss}] {report.p_line(summary)}")
    return {"summary": summary, "records": records, "out_dir": out_dir}


def run_demo(opts: DemoOptions, log=print) -> dict:
    if opts.loss not in LOSSES:
        raise DemoError(f"--loss must be one of {', '.join(LOSSES)}")
    if opts.steps < 1:
        raise DemoError("--steps must be at least 1")
    if not 0.0 <= opts.warmstart_unboxed <= 1.0:
        raise DemoError("--warmstart-unboxed must lie in [0, 1]")
    if opts.val_samples < 1:
        raise DemoError("--val-samples must be at least 1 (1 = greedy)")
    check_verl_version()
    check_cpu_settings(opts.extra)
    # the rules of `pmpo-verl check --command` on the command run_one will start (the user's overrides included)
    check_main_ppo_command(build_command(TrainSettings("", "", "", opts.out, loss=opts.loss, extra=list(opts.extra))), log=log)
    if opts.model:
        check_model_path(os.path.abspath(opts.model))
    opts.out = os.path.abspath(opts.out)
    os.makedirs(opts.out, exist_ok=True)
    log("checking that `import verl` registers the plugin and the CPU backend ...")
    check_plugin(build_env(TrainSettings("", "", "", opts.out)))
    t0 = time.time()
    model_dir = prepare_model(opts, log=log)
    from .task import write_parquet

    data = write_parquet(os.path.join(opts.out, "data"), n_val=opts.val_questions, seed=opts.seed)
    log(f"data: {data['train']}, {data['val']}")
    losses = LOSSES if opts.compare else (opts.loss,)
    results = {}
    for loss in losses:
        out_dir = os.path.join(opts.out, loss) if opts.compare else opts.out
        results[loss] = run_one(opts, loss, model_dir, data, out_dir, log=log)
    summaries = {k: v["summary"] for k, v in results.items()}
    table = report.compare_table(summaries, opts.threshold)
    if opts.compare:
        report.plot_reward({k: v["records"] for k, v in results.items()}, os.path.join(opts.out, "reward.png"))
        with open(os.path.join(opts.out, "compare.md"), "w") as f:
            f.write(table + "\n")
    log("\n" + table + f"\n\ntotal wall time {time.time() - t0:.0f} s; outputs in {opts.out}")
    return {"summaries": summaries, "table": table}
