#!/usr/bin/env bash
# Submit a recipe to a running Ray cluster with `ray job submit` (start the cluster with ray_start.sh).
#
#   NNODES=2 GPUS_PER_NODE=8 MODEL_PATH=/shared/Qwen2.5-Math-7B DATA_DIR=/shared/data/pmpo/qwen_math \
#   OUTPUT_DIR=/shared/runs/pmpo-7b \
#       bash examples/cluster/submit.sh examples/pmpo/run_qwen2.5_math_7b.sh [extra Hydra overrides]
#
# The dashboard (the job-submission API) listens on the head's 127.0.0.1 (ray_start.sh): run this on the head,
# or elsewhere through `ssh -L 8265:127.0.0.1:8265 HEAD` with the default RAY_ADDRESS.
# The recipe runs as the job's entrypoint on the head node, so MODEL_PATH, DATA_DIR and OUTPUT_DIR must be
# paths every node sees (shared storage). The recipe's settings that are set here are forwarded to the job as
# `env NAME=VALUE ... bash RECIPE`, its entrypoint, which `ray job list` and the dashboard show: secrets
# (WANDB_API_KEY, HF_TOKEN, any *_TOKEN, *_KEY, *SECRET*, *PASSWORD*) are never forwarded. They, and whatever else
# the Ray workers need (WANDB_*, NCCL_*, ...), belong in each node's environment when `ray start` runs there
# (ray_start.sh): the entrypoint's variables reach the recipe's driver only, not the workers.
# Environment: RAY_ADDRESS (http://127.0.0.1:8265), RUNTIME_ENV (runtime_env.yaml beside this script),
# PMPO_JOB_WAIT=1 (follow the logs instead of --no-wait), PMPO_DRY_RUN=1 (print the `ray job submit` command).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../common.sh
source "${here}/../common.sh"  # pmpo_quote
repo="$(cd "${here}/../.." && pwd)"
: "${RAY_ADDRESS:=http://127.0.0.1:8265}"
: "${RUNTIME_ENV:=${here}/runtime_env.yaml}"

# Every variable examples/common.sh reads (tests/examples/test_cluster.py keeps this list complete) except its
# internal PMPO_PRESET and PMPO_ENGINE, PMPO_DRY_RUN (this script's own switch) and PMPO_EXTERNAL_MODULES_FALLBACK:
# runtime_env.yaml already sets VERL_USE_EXTERNAL_MODULES, and ray.init fails when the job's runtime env and its
# own both set a variable.
FORWARD=(
    MODEL_PATH TEMPLATE DATA_DIR TRAIN_FILES VAL_FILES VAL_BENCHMARKS NNODES GPUS_PER_NODE OUTPUT_DIR LOGGER
    PROJECT_NAME EXPERIMENT_NAME TOTAL_STEPS TOTAL_EPOCHS SAVE_FREQ TEST_FREQ MAX_RESPONSE_LENGTH MAX_PROMPT_LENGTH
    ROLLOUT_TP GPU_MEMORY_UTILIZATION PPO_MAX_TOKEN_LEN MEGATRON_TP MEGATRON_PP MEGATRON_RECOMPUTE ACTOR_OFFLOAD
    MAX_CKPT_TO_KEEP SAVE_HF_MODEL PYTHON PMPO_ALLOW_DOWNLOAD PMPO_SKIP_CHECKS PMPO_SKIP_GPU_CHECK HF_HOME
    HF_HUB_CACHE
)
KNOWN_SECRETS=(WANDB_API_KEY HF_TOKEN HUGGING_FACE_HUB_TOKEN)

die() {
    echo "error: $*" >&2
    exit 1
}

is_secret() {
    [[ "$1" == *_TOKEN || "$1" == *_KEY || "$1" == *SECRET* || "$1" == *PASSWORD* ]]
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

forward=()
withheld=()
for var in "${FORWARD[@]}"; do
    [[ -n "${!var:-}" ]] || continue
    if is_secret "${var}"; then
        withheld+=("${var}")
    else
        forward+=("${var}=${!var}")
    fi
done
for var in "${KNOWN_SECRETS[@]}"; do
    if [[ -n "${!var:-}" ]]; then
        withheld+=("${var}")
    fi
done
if (( ${#withheld[@]} > 0 )); then
    echo "note: not forwarding ${withheld[*]} (a job's command line shows in \`ray job list\` and the dashboard). \
Export them on every node before \`ray start\` (examples/cluster/ray_start.sh; the Ray workers inherit that \
environment), or run \`wandb login\` / \`huggingface-cli login\` on every node." >&2
fi
if [[ -n "${PMPO_EXTERNAL_MODULES_FALLBACK:-}" ]]; then
    echo "note: not forwarding PMPO_EXTERNAL_MODULES_FALLBACK: $(basename "${RUNTIME_ENV}") already registers the \
plugin through VERL_USE_EXTERNAL_MODULES, and setting it twice makes ray.init fail" >&2
fi

cmd=(ray job submit --address "${RAY_ADDRESS}" --working-dir "${repo}" --runtime-env "${RUNTIME_ENV}")
[[ "${PMPO_JOB_WAIT:-0}" == "1" ]] || cmd+=(--no-wait)
cmd+=(-- env "${forward[@]}" bash "${recipe_rel}" "$@")

if [[ "${PMPO_DRY_RUN:-0}" == "1" ]]; then
    pmpo_quote "${cmd[@]}"
    exit 0
fi
command -v ray >/dev/null 2>&1 || die "the 'ray' command is not on PATH"
# `ray job submit` sends the cluster's token only with RAY_AUTH_MODE=token (see ray_start.sh, "Token authentication").
if [[ -z "${RAY_AUTH_MODE:-}" ]] \
    && [[ -n "${RAY_AUTH_TOKEN:-}" || -f "${RAY_AUTH_TOKEN_PATH:-${HOME}/.ray/auth_token}" ]]; then
    export RAY_AUTH_MODE=token
fi
exec "${cmd[@]}"
