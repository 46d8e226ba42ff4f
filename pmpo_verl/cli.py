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
    "actor_rollout_ref.actor.clip_ratio_low=0.4",
    "actor_rollout_ref.actor.clip_ratio_high=0.4",
]
BASELINES = {
    "pmpo": [],
    "grpo": ["+actor_rollout_ref.actor.policy_loss.p_mode=fixed", "+actor_rollout_ref.actor.policy_loss.p=1"],
    "gmpo": ["+actor_rollout_ref.actor.policy_loss.p_mode=fixed", "+actor_rollout_ref.actor.policy_loss.p=0"],
}


def overrides_for(method: str = "pmpo") -> list[str]:
    """Hydra overrides that switch a ``verl.trainer.main_ppo`` command to PMPO (or a fixed-p baseline)."""
    if method not in BASELINES:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(BASELINES)}")
    return PLUGIN_OVERRIDES + BASELINES[method]


def _cmd_overrides(args: argparse.Namespace) -> int:
    print(" \\\n".join(overrides_for(args.method)))
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmpo-verl", description=__doc__)
    parser.add_argument("--version", action="version", version=f"pmpo-verl {__version__} (verl {VERL_VERSION})")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check that `import verl` registers the PMPO plugin (surfaces hidden errors)")
    check.set_defaults(func=_cmd_check)
    ov = sub.add_parser("overrides", help="print the Hydra overrides that switch a verl command to PMPO")
    ov.add_argument("--method", choices=sorted(BASELINES), default="pmpo", help="pmpo, or a fixed-p baseline")
    ov.set_defaults(func=_cmd_overrides)
    from .evaluation.cli import add_parser as _add_eval_parser

    _add_eval_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
