#!/usr/bin/env bash
# Submit a recipe to a running Ray cluster with `ray job submit` (start the cluster with ray_start.sh).
#
#   RAY_ADDRESS=http://HEAD_IP:8265 NNODES=2 GPUS_PER_NODE=8 MODEL_PATH=/shared/Qwen2.5-Math-7B \
#   DATA_DIR=/shared/data/pmpo/qwen_math OUTPUT_DIR=/shared/runs/pmpo-7b \
#       bash examples/cluster/submit.sh examples/pmpo/run_qwen2.5_math_7b.sh [extra Hydra overrides]
#
# The recipe runs as the job's entrypoint on the head node, so MODEL_PATH, DATA_DIR and OUTPUT_DIR must be
# paths every node sees (shared storage). The recipe's settings are forwarded to the job's environment.
# Environment: RAY_ADDRESS (http://127.0.0.1:8265), RUNTIME_ENV (runtime_env.yaml beside this script),
# PMPO_JOB_WAIT=1 (follow the logs instead of --no-wait), PMPO_DRY_RUN=1 (print the `ray job submit` command).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../common.sh
source "${here}/../common.sh"  # pmpo_quote
repo="$(cd "${here}/../.." && pwd)"
: "${RAY_ADDRESS:=http://127.0.0.1:8265}"
: "${RUNTIME_ENV:=${here}/runtime_env.yaml}"

die() {
    echo "error: $*" >&2
    exit 1
}

recipe="${1:-}"
[[ -n "${recipe}" ]] || die "usage: $0 RECIPE.sh [extra Hydra overrides]"
shift
[[ -f "${recipe}" ]] || die "recipe not found: ${recipe}"
[[ -f "${RUNTIME_ENV}" ]] || die "runtime env not found: ${RUNTIME_ENV}"
recipe_rel="$(realpath --relative-to="${repo}" "${recipe}")"
[[ "${recipe_rel}" != ../* ]] || die "the recipe must be inside ${repo} (it is shipped as the job's working dir)"

# Compose the trainer command locally first: a typo fails here, not after queueing.
PMPO_DRY_RUN=1 PMPO_SKIP_CHECKS=1 bash "${recipe}" "$@" >/dev/null || die "the recipe does not compose: ${recipe}"

# Forward the recipe settings that are set here to the job (its entrypoint runs on the head node).
forward=()
for var in MODEL_PATH DATA_DIR TRAIN_FILES VAL_FILES VAL_BENCHMARKS NNODES GPUS_PER_NODE OUTPUT_DIR LOGGER \
    PROJECT_NAME EXPERIMENT_NAME TOTAL_STEPS TOTAL_EPOCHS SAVE_FREQ TEST_FREQ MAX_RESPONSE_LENGTH \
    MAX_PROMPT_LENGTH ROLLOUT_TP GPU_MEMORY_UTILIZATION PPO_MAX_TOKEN_LEN MEGATRON_TP MEGATRON_PP PYTHON \
    PMPO_ALLOW_DOWNLOAD PMPO_SKIP_GPU_CHECK PMPO_EXTERNAL_MODULES_FALLBACK WANDB_API_KEY WANDB_MODE HF_HOME; do
    if [[ -n "${!var:-}" ]]; then
        forward+=("${var}=${!var}")
    fi
done

cmd=(ray job submit --address "${RAY_ADDRESS}" --working-dir "${repo}" --runtime-env "${RUNTIME_ENV}")
[[ "${PMPO_JOB_WAIT:-0}" == "1" ]] || cmd+=(--no-wait)
cmd+=(-- env "${forward[@]}" bash "${recipe_rel}" "$@")

if [[ "${PMPO_DRY_RUN:-0}" == "1" ]]; then
    pmpo_quote "${cmd[@]}"
    exit 0
fi
command -v ray >/dev/null 2>&1 || die "the 'ray' command is not on PATH"
exec "${cmd[@]}"
