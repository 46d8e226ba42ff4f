#!/usr/bin/env bash
# PMPO (adaptive p), Qwen2.5-Math-1.5B, FSDP (no paper number: a cheaper sanity run of the 7B protocol).
# Usage: [ENV=...] bash pmpo/run_qwen2.5_math_1.5b.sh [extra Hydra overrides]; PMPO_DRY_RUN=1 prints the trainer command.
# Environment variables and protocol: examples/common.sh; expected numbers: docs/reproduce.md.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
pmpo_preset qwen2.5-math-1.5b fsdp
pmpo_run pmpo "$@"
