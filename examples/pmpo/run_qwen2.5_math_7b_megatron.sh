#!/usr/bin/env bash
# PMPO (adaptive p), Qwen2.5-Math-7B, Megatron engine (model_engine=megatron, TP=MEGATRON_TP, PP=MEGATRON_PP:
# 2 x 2 by default, with full activation recompute; memory: docs/reproduce.md, "Memory per GPU").
# Usage: [ENV=...] bash pmpo/run_qwen2.5_math_7b_megatron.sh [extra Hydra overrides]; PMPO_DRY_RUN=1 prints the trainer command.
# Environment variables and protocol: examples/common.sh; expected numbers: docs/reproduce.md.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
pmpo_preset qwen2.5-math-7b megatron
pmpo_run pmpo "$@"
