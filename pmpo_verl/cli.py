"""``pmpo-verl`` command line."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from . import VERL_VERSION, __version__

PLUGIN_OVERRIDES = [
    "algorithm.adv_estimator=pmpo",
    "actor_rollout_ref.actor.policy_loss.loss_mode=pmpo",
    "actor_rollout_ref.actor.policy_loss._target_=pmpo_verl.config.PMPOPolicyLossConfig",
]
CLIP_RATIO = 0.4  # log-space clip on both sides (GMPO's and the paper's)
BASELINES = {
    "pmpo": [],
    "grpo": ["+actor_rollout_ref.actor.policy_loss.p_mode=fixed", "+actor_rollout_ref.actor.policy_loss.p=1"],
    "gmpo": ["+actor_rollout_ref.actor.policy_loss.p_mode=fixed", "+actor_rollout_ref.actor.policy_loss.p=0"],
}


def overrides_for(method: str = "pmpo", clip_ratio: float = CLIP_RATIO) -> list[str]:
    """Hydra overrides that switch a ``verl.trainer.main_ppo`` command to PMPO (or a fixed-p baseline),
    with the log-space clip ``clip_ratio`` on both sides."""
    if method not in BASELINES:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(BASELINES)}")
    clip = [f"actor_rollout_ref.actor.clip_ratio_low={clip_ratio}", f"actor_rollout_ref.actor.clip_ratio_high={clip_ratio}"]
    return PLUGIN_OVERRIDES + clip + BASELINES[method]


def _cmd_overrides(args: argparse.Namespace) -> int:
    print(" \\\n".join(overrides_for(args.method)))
    return 0


def _cmd_check_command(args: argparse.Namespace) -> int:
    from .command_check import check_command, format_report, parse_command

    text = sys.stdin.read() if args.command_line == "-" else args.command_line
    cmd = parse_command(text or "").extended(parse_command(list(args.overrides)))
    if not cmd.overrides and not cmd.hidden:
        print("error: no Hydra overrides found in the command (give `--command \"python3 -m verl.trainer.main_ppo ...\"` "
              "or the overrides after `--`)")
        return 2
    report = check_command(cmd)
    for line in format_report(report, len(cmd.overrides)):
        print(line)
    return 1 if report.errors else 0


def _cmd_check(args: argparse.Namespace) -> int:
    if args.command_line is not None or args.overrides:
        if args.gpu:
            print("error: `check --gpu` checks this node; check a command without --gpu")
            return 2
        return _cmd_check_command(args)
    if args.gpu:
        from .gpu_check import run_gpu_check

        return run_gpu_check(args.engine)
    import importlib.metadata as md

    from .plugin_check import probe_plugin

    for dist in ("pmpo-verl", "verl", "torch", "transformers", "ray"):
        try:
            print(f"{dist:>13}: {md.version(dist)}")
        except md.PackageNotFoundError:
            print(f"{dist:>13}: not installed")
    status = probe_plugin()
    if status.verl_version is not None and status.verl_version != VERL_VERSION:
        print(f"error: pmpo-verl {__version__} is built for verl=={VERL_VERSION}, found verl {status.verl_version}")
        return 1
    if status.ok:
        print("plugin: OK (import verl registered loss_mode=pmpo and adv_estimator=pmpo)")
        return 0
    print(
        "error: `import verl` did not register the PMPO plugin "
        f"(loss_mode=pmpo: {status.policy_loss}, adv_estimator=pmpo: {status.adv_estimator}).\n"
        "verl hides plugin import errors; the underlying error is:\n"
        f"{status.error or '(none: the entry point was not loaded; is VERL_USE_EXTERNAL_PLUGINS=none set?)'}"
    )
    return 1


def _cmd_tiny_model(args: argparse.Namespace) -> int:
    from .demo.tiny_model import build_tiny_model

    print(f"tiny model and tokenizer written to {build_tiny_model(args.out, seed=args.seed)}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo.app import DemoOptions, run_demo
    from .demo.preflight import DemoError

    opts = DemoOptions(
        out=args.out, steps=args.steps, loss=args.loss, compare=args.compare, seed=args.seed, model=args.model,
        warmstart_steps=args.warmstart_steps, warmstart_unboxed=args.warmstart_unboxed, val_samples=args.val_samples,
        threshold=args.threshold, quiet=args.quiet, extra=list(args.overrides),
    )
    try:
        run_demo(opts)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmpo-verl", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pmpo-verl {__version__} (verl {VERL_VERSION})")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check that `import verl` registers the PMPO plugin (surfaces hidden errors)")
    check.add_argument(
        "--gpu", action="store_true",
        help="GPU-node preflight: CUDA devices, NCCL, the versions verl pins, flash-attn imports, the plugin (exit 1 on FAIL)",
    )
    check.add_argument(
        "--engine", choices=("fsdp", "megatron"), default="fsdp",
        help="with --gpu: the training engine to check for (megatron also needs TransformerEngine, Megatron-Core/Bridge)",
    )
    check.add_argument(
        "--command", dest="command_line", metavar="COMMAND",
        help="check a main_ppo command line (quoted; '-' reads it from stdin) for PMPO misconfigurations: composes it "
             "with verl's Hydra config; exit 1 on errors, 0 with warnings only",
    )
    check.add_argument(
        "overrides", nargs="*", metavar="OVERRIDE",
        help="or the command's Hydra overrides themselves (after --), checked the same way",
    )
    check.set_defaults(func=_cmd_check)
    ov = sub.add_parser("overrides", help="print the Hydra overrides that switch a verl command to PMPO")
    ov.add_argument("--method", choices=sorted(BASELINES), default="pmpo", help="pmpo, or a fixed-p baseline")
    ov.set_defaults(func=_cmd_overrides)
    tm = sub.add_parser("tiny-model", help="build a tiny Qwen2-style model and byte-level BPE tokenizer (no download)")
    tm.add_argument("--out", required=True, help="output directory (Hugging Face format)")
    tm.add_argument("--seed", type=int, default=0)
    tm.set_defaults(func=_cmd_tiny_model)
    from .demo.app import LOSSES, DemoOptions

    defaults = DemoOptions()
    demo = sub.add_parser("demo", help="train a tiny model with PMPO through verl's main_ppo on CPU")
    demo.add_argument("--steps", type=int, default=defaults.steps, help="PPO steps (default %(default)s)")
    demo.add_argument("--loss", choices=LOSSES, default=defaults.loss, help="pmpo, or a fixed-p baseline")
    demo.add_argument("--out", default=defaults.out, help="output directory (default ./%(default)s)")
    demo.add_argument("--compare", action="store_true", help="run pmpo, grpo (p=1) and gmpo (p=0) with the same seed")
    demo.add_argument("--seed", type=int, default=defaults.seed)
    demo.add_argument("--model", default=None, help="an existing local HF model directory instead of the tiny model")
    demo.add_argument(
        "--warmstart-steps", type=int, default=defaults.warmstart_steps, help="supervised warm-start steps of the tiny model"
    )
    demo.add_argument(
        "--warmstart-unboxed", type=float, default=defaults.warmstart_unboxed,
        help="share of warm-start solutions ending in **answer** instead of \\boxed{answer} (reward 0; default %(default)s)",
    )
    demo.add_argument(
        "--val-samples", type=int, default=defaults.val_samples,
        help="validation samples per held-out question: 1 = greedy, n > 1 = mean@n at temperature 1 (default %(default)s)",
    )
    demo.add_argument(
        "--threshold", type=float, default=defaults.threshold, help="validation accuracy for 'steps to threshold'"
    )
    demo.add_argument("--quiet", action="store_true", help="do not echo verl's output (it is in DIR/train.log)")
    demo.add_argument("overrides", nargs="*", help="extra Hydra overrides for main_ppo (after --)")
    demo.set_defaults(func=_cmd_demo)
    from .evaluation.cli import add_parser as _add_eval_parser

    _add_eval_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
