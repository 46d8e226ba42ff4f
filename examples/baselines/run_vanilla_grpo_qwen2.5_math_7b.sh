#!/usr/bin/env bash
# Reference: verl's own vanilla GRPO loss (ratio clip 0.8-1.2, seq-mean-token-mean), same advantage hook and reward, Qwen2.5-Math-7B.
# Usage: [ENV=...] bash baselines/run_vanilla_grpo_qwen2.5_math_7b.sh [extra Hydra overrides]; PMPO_DRY_RUN=1 prints the trainer command.
# Environment variables and protocol: examples/common.sh; expected numbers: docs/reproduce.md.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
pmpo_preset qwen2.5-math-7b fsdp
pmpo_run vanilla "$@"
