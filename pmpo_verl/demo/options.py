"""The demo's one options object: what ``pmpo-verl demo`` accepts, its defaults and help texts.

The CLI builds its flags from these fields (default and help from ``field(metadata=...)``), and the runner
builds verl's ``main_ppo`` command from the same object, so a default is written once. The per-run paths
(model, data, output directory, method) live in :class:`TrainRun`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..option_field import option as _opt
from ..recipe import PLUGIN_METHODS

LOSSES = tuple(PLUGIN_METHODS)


@dataclass
class DemoOptions:
    out: str = _opt("pmpo_demo", "output directory (default ./%(default)s)")
    steps: int = _opt(30, "PPO steps (default %(default)s)")
    loss: str = _opt("pmpo", "pmpo, or a fixed-p baseline (default %(default)s)")
    compare: bool = _opt(False, "run pmpo, grpo (p=1) and gmpo (p=0) with the same seed")
    seed: int = _opt(0, "seed of the tiny model, the warm start and the data (default %(default)s)")
    model: str | None = _opt(None, "an existing local HF model directory instead of the tiny model")
    warmstart_steps: int = _opt(
        3000, "most supervised warm-start steps of the tiny model; it stops earlier at --warmstart-target "
              "(default %(default)s)"
    )
    warmstart_target: float = _opt(
        0.4, "held-out accuracy (mean@2 at temperature 1, boxed answers only) that ends the warm start; "
             "0 trains all --warmstart-steps (default %(default)s)"
    )
    # the reward scores **answer** 0: there is something for RL to learn in a few CPU minutes (see the README)
    warmstart_unboxed: float = _opt(
        0.5,
        "share of warm-start solutions ending in **answer** instead of \\boxed{answer} (default %(default)s)",
    )
    val_samples: int = _opt(
        4, "validation samples per held-out question: 1 = greedy, n > 1 = mean@n at temperature 1 "
           "(default %(default)s)"
    )
    threshold: float = _opt(0.75, "validation accuracy for 'steps to threshold' (default %(default)s)")
    quiet: bool = _opt(False, "print no per-step progress, only the start, errors and the final table")
    verbose: bool = _opt(False, "echo verl's full output to the console (it is always in DIR/train.log)")
    extra: list[str] = field(
        default_factory=list, metadata={"help": "extra Hydra overrides for main_ppo (after --)"}
    )
    # sizes the CLI does not expose (change them with Hydra overrides after --)
    batch_size: int = 16
    n: int = 4
    mini_batch_size: int = 8  # 2 mini-batches x 2 epochs = 4 updates per step: from the second on, off-policy
    ppo_epochs: int = 2
    lr: float = 2e-4
    clip_ratio: float = 0.2  # log-space, tighter than the recipes' 0.4: tokens get clipped at this scale
    val_questions: int = 128
    max_prompt_length: int = 96
    max_response_length: int = 32
    test_freq: int = 5
    save_freq: int | None = None  # None: one checkpoint, after the last step
    val_before_train: bool = True
    resume: bool = False


@dataclass
class TrainRun:
    """One ``main_ppo`` run of the demo: the method and where its inputs and outputs are."""

    model_path: str
    train_file: str
    val_file: str
    out_dir: str
    loss: str = "pmpo"

    @property
    def ckpt_dir(self) -> str:
        return os.path.join(self.out_dir, "checkpoints")

    @property
    def verl_log(self) -> str:
        return os.path.join(self.out_dir, "verl_metrics.jsonl")
