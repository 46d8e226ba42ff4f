#!/usr/bin/env bash
# GRPO baseline (p_mode=fixed, p=1), DeepSeek-R1-Distill-Qwen-7B (paper: 59.3).
# Usage: [ENV=...] bash baselines/run_grpo_r1_distill_qwen_7b.sh [extra Hydra overrides]; PMPO_DRY_RUN=1 prints the trainer command.
# Environment variables and protocol: examples/common.sh; expected numbers: docs/reproduce.md.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
pmpo_preset r1-distill-qwen-7b fsdp
pmpo_run grpo "$@"
