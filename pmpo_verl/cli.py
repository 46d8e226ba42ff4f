"""pmpo-verl: Power-Mean Policy Optimization for verl 0.9.1.

The command line of the plugin: check an install or a main_ppo command, print the overrides that select
PMPO, train the CPU demo, evaluate checkpoints.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from . import VERL_VERSION, __version__
from .recipe import METHODS, overrides_for

DESCRIPTION = """Power-Mean Policy Optimization (PMPO) as a plugin for verl 0.9.1.
Run 'pmpo-verl COMMAND --help' for the options of a command."""


def _cmd_overrides(args: argparse.Namespace) -> int:
    print(("\n" if args.lines else " \\\n").join(overrides_for(args.method)))
    return 0


def _cmd_check_command(args: argparse.Namespace) -> int:
    from .command_check import check_command, format_report, parse_command

    text = sys.stdin.read() if args.command_line == "-" else args.command_line
    cmd = parse_command(text or "").extended(parse_command(list(args.overrides)))
    if not cmd.overrides and not cmd.hidden:
        print(
            'error: no Hydra overrides found in the command (give `--command "python3 -m verl.trainer.main_ppo ..."` '
            "or the overrides after `--`)"
        )
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
    from .demo.app import run_demo
    from .demo.options import DemoOptions
    from .demo.preflight import DemoError

    names = {f.name for f in dataclasses.fields(DemoOptions)}
    opts = DemoOptions(**{k: v for k, v in vars(args).items() if k in names and k != "extra"},
                       extra=list(args.overrides))
    try:
        run_demo(opts)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _add_demo_parser(sub) -> None:
    """The demo's flags, with defaults and help from :class:`~pmpo_verl.demo.options.DemoOptions`."""
    from .demo.options import LOSSES, DemoOptions

    fields = {f.name: f for f in dataclasses.fields(DemoOptions)}
    defaults = DemoOptions()
    demo = sub.add_parser("demo", help="train a tiny model with PMPO through verl's main_ppo on CPU")

    def flag(name: str, **kw) -> None:
        default = getattr(defaults, name)
        if isinstance(default, bool):
            kw["action"] = "store_true"
        elif default is not None:
            kw.setdefault("type", type(default))
        help_text = fields[name].metadata["help"]
        demo.add_argument("--" + name.replace("_", "-"), default=default, help=help_text, **kw)

    flag("steps")
    flag("loss", choices=LOSSES)
    flag("out")
    flag("compare")
    flag("seed")
    flag("model")
    flag("warmstart_steps")
    flag("warmstart_target")
    flag("warmstart_unboxed")
    flag("val_samples")
    flag("threshold")
    flag("quiet")
    flag("verbose")
    demo.add_argument("overrides", nargs="*", help=fields["extra"].metadata["help"])
    demo.set_defaults(func=_cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmpo-verl", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"pmpo-verl {__version__} (verl {VERL_VERSION})")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "check", help="check that 'import verl' registers the PMPO plugin (surfaces hidden errors)"
    )
    check.add_argument(
        "--gpu",
        action="store_true",
        help="GPU-node preflight: CUDA devices, NCCL, the versions verl pins, flash-attn imports, the plugin "
        "(exit 1 on FAIL)",
    )
    check.add_argument(
        "--engine",
        choices=("fsdp", "megatron"),
        default="fsdp",
        help="with --gpu: the training engine to check for "
        "(megatron also needs TransformerEngine, Megatron-Core/Bridge)",
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
    ov.add_argument("--method", choices=METHODS, default="pmpo",
                    help="pmpo, a fixed-p baseline (grpo: p=1, gmpo: p=0), or verl's own vanilla GRPO loss")
    ov.add_argument("--lines", action="store_true",
                    help="one override per line without the trailing backslashes (for scripts)")
    ov.set_defaults(func=_cmd_overrides)
    tm = sub.add_parser("tiny-model", help="build a tiny Qwen2-style model and byte-level BPE tokenizer (no download)")
    tm.add_argument("--out", required=True, help="output directory (Hugging Face format)")
    tm.add_argument("--seed", type=int, default=0)
    tm.set_defaults(func=_cmd_tiny_model)
    _add_demo_parser(sub)
    from .evaluation.cli import add_parser as _add_eval_parser

    _add_eval_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
