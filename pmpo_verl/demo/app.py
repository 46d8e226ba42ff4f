"""``pmpo-verl demo``: tiny model + warm start + synthetic data, then verl's ``main_ppo`` on CPU."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable

from . import report
from .options import LOSSES, DemoOptions, TrainRun
from .preflight import (
    DemoError,
    check_cpu_settings,
    check_main_ppo_command,
    check_model_path,
    check_plugin,
    check_verl_version,
)
from .progress import Progress
from .runner import build_command, build_env, run_training

LOG_TAIL_LINES = 30  # train.log lines shown when main_ppo fails


def prepare_model(opts: DemoOptions, log: Callable[[str], None] = print) -> str:
    """The tiny model with its warm start, built once per (seed, warm-start steps) and reused."""
    if opts.model:
        return opts.model  # checked by run_demo before anything started
    from .tiny_model import build_tiny_model
    from .warmstart import warm_start

    model_dir = os.path.join(opts.out, "model")
    stamp = os.path.join(model_dir, "pmpo_demo.json")
    want = {"seed": opts.seed, "warmstart_steps": opts.warmstart_steps, "warmstart_unboxed": opts.warmstart_unboxed,
            "warmstart_target": opts.warmstart_target}
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
        stats = warm_start(
            model_dir,
            steps=opts.warmstart_steps,
            seed=opts.seed,
            unboxed_frac=opts.warmstart_unboxed,
            target=opts.warmstart_target or None,
            log=log,
        )
    with open(stamp, "w") as f:
        json.dump({**want, "result": stats}, f)  # apart: stats' steps trained are not the cap
    return model_dir


def _tail(path: str, n: int) -> str:
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-n:])


def run_one(opts: DemoOptions, run: TrainRun, log: Callable[[str], None] = print) -> dict:
    loss, out_dir = run.loss, run.out_dir
    log(f"[{loss}] python -m verl.trainer.main_ppo ... ({opts.steps} steps; command in "
        f"{out_dir}/command.txt, verl's output in {out_dir}/train.log)")
    progress = Progress(run, opts.steps, log=log, quiet=opts.quiet)
    echo = (lambda line: print(line, end="", flush=True)) if opts.verbose else progress
    result = run_training(opts, run, on_line=echo)
    if not (opts.verbose or opts.quiet):
        progress.flush()  # the steps whose console line came after the last one read
    if result.returncode != 0:
        raise DemoError(f"verl's main_ppo failed (exit {result.returncode}) for --loss {loss}; the end of "
                        f"{result.log_path}:\n{_tail(result.log_path, LOG_TAIL_LINES)}")
    records = report.add_derived(report.read_verl_log(run.verl_log))
    if not any(report.PMPO_MARKER in r for r in records):
        raise DemoError(f"no actor/pmpo/* metrics came back from verl for --loss {loss}; see {result.log_path}")
    metrics_path = report.write_metrics_jsonl(records, os.path.join(out_dir, "metrics.jsonl"))
    reward_png = report.plot_reward({loss: records}, os.path.join(out_dir, "reward.png"))
    p_png = report.plot_p(records, os.path.join(out_dir, "p.png"), title=f"{loss}: p per trajectory")
    summary = report.summarize(records, opts.threshold, wall_s=result.wall_s)
    ckpt = os.path.join(run.ckpt_dir, f"global_step_{summary['steps']}")
    log(f"[{loss}] metrics: {metrics_path}\n[{loss}] plots: {reward_png}, {p_png}\n[{loss}] checkpoint: {ckpt}")
    if report.p_line(summary):
        log(f"[{loss}] {report.p_line(summary)}")
    return {"summary": summary, "records": records, "out_dir": out_dir}


def run_demo(opts: DemoOptions, log: Callable[[str], None] = print) -> dict:
    """Check everything that can fail early, build (or reuse) the model and data, then train and report."""
    if opts.loss not in LOSSES:
        raise DemoError(f"--loss must be one of {', '.join(LOSSES)}")
    if opts.steps < 1:
        raise DemoError("--steps must be at least 1")
    if not 0.0 <= opts.warmstart_unboxed <= 1.0:
        raise DemoError("--warmstart-unboxed must lie in [0, 1]")
    if not 0.0 <= opts.warmstart_target <= 1.0:
        raise DemoError("--warmstart-target must lie in [0, 1]")
    if opts.val_samples < 1:
        raise DemoError("--val-samples must be at least 1 (1 = greedy)")
    if opts.quiet and opts.verbose:
        raise DemoError("--quiet and --verbose exclude each other")
    check_verl_version()
    check_cpu_settings(opts.extra)
    # the rules of `pmpo-verl check --command` on the command run_one will start (the user's overrides included)
    check_main_ppo_command(build_command(opts, TrainRun("", "", "", opts.out, loss=opts.loss)), log=log)
    if opts.model:
        opts.model = check_model_path(os.path.abspath(opts.model))
    opts.out = os.path.abspath(opts.out)
    os.makedirs(opts.out, exist_ok=True)
    log("checking that `import verl` registers the plugin and the CPU backend ...")
    check_plugin(build_env(TrainRun("", "", "", opts.out)))
    t0 = time.time()
    model_dir = prepare_model(opts, log=log)
    from .task import write_parquet

    data = write_parquet(os.path.join(opts.out, "data"), n_val=opts.val_questions, seed=opts.seed)
    log(f"data: {data['train']}, {data['val']}")
    losses = LOSSES if opts.compare else (opts.loss,)
    results = {}
    for loss in losses:
        out_dir = os.path.join(opts.out, loss) if opts.compare else opts.out
        results[loss] = run_one(opts, TrainRun(model_dir, data["train"], data["val"], out_dir, loss), log=log)
    summaries = {k: v["summary"] for k, v in results.items()}
    table = report.compare_table(summaries, opts.threshold)
    if opts.compare:
        report.plot_reward({k: v["records"] for k, v in results.items()}, os.path.join(opts.out, "reward.png"))
        with open(os.path.join(opts.out, "compare.md"), "w") as f:
            f.write(table + "\n")
    log("\n" + table + f"\n\ntotal wall time {time.time() - t0:.0f} s; outputs in {opts.out}")
    return {"summaries": summaries, "table": table}
