#!/usr/bin/env bash
# GRPO baseline (PMPO loss with p_mode=fixed, p=1: arithmetic mean, log-space token clip 0.4), Qwen2.5-Math-7B (paper: 51.2).
# Usage: [ENV=...] bash baselines/run_grpo_qwen2.5_math_7b.sh [extra Hydra overrides]; PMPO_DRY_RUN=1 prints the trainer command.
# Environment variables and protocol: examples/common.sh; expected numbers: docs/reproduce.md.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
pmpo_preset qwen2.5-math-7b fsdp
pmpo_run grpo "$@"
