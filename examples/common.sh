# shellcheck shell=bash
# Shared logic of the PMPO recipes (examples/pmpo/, examples/baselines/). Source it, never run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
#   pmpo_preset qwen2.5-math-7b fsdp     # model defaults (path, data dir, parallelism) and engine
#   pmpo_run pmpo "$@"                   # method: pmpo | grpo | gmpo | vanilla
#
# Protocol (docs/reproduce.md, docs/algorithm.md#14-training-protocol): 128 prompts x 8 rollouts per step,
# ppo_mini_batch_size 16 prompts (8 sequential updates of 128 trajectories), lr 1e-6 constant, no KL, no
# entropy bonus, log-space clip 0.4, rollout temperature 1.0, max response 3000 tokens, greedy validation,
# group z-score advantage with eps 1e-8 and truncated responses scored 0 (the plugin's advantage hook), and
# the project's verifier as the reward (reward.custom_reward_function.path=pkg://reward).
#
# Environment (all optional; defaults come from the preset):
#   MODEL_PATH            local HF model dir, or a hub id already in the HF cache (PMPO_ALLOW_DOWNLOAD=1 to
#                         let every node download it)
#   DATA_DIR              parquet written by examples/data_preprocess/ (math_lvl3to5_train.parquet and
#                         <benchmark>.parquet), default $HOME/data/pmpo/$TEMPLATE (TEMPLATE: qwen_math, or r1d
#                         for R1-Distill); TRAIN_FILES / VAL_FILES (comma-separated) override the file names
#   VAL_BENCHMARKS        comma-separated, default aime24,amc,math500,minerva,olympiadbench
#   NNODES, GPUS_PER_NODE trainer.nnodes / trainer.n_gpus_per_node (default 1 x 8)
#   OUTPUT_DIR            checkpoints and validation dumps (default $HOME/pmpo_runs/$EXPERIMENT_NAME)
#   LOGGER                comma-separated trainer loggers, default console (e.g. console,wandb)
#   PROJECT_NAME, EXPERIMENT_NAME, TOTAL_STEPS (500), SAVE_FREQ (50), TEST_FREQ (25), TOTAL_EPOCHS (100)
#   MAX_RESPONSE_LENGTH (3000), MAX_PROMPT_LENGTH (1024), ROLLOUT_TP, GPU_MEMORY_UTILIZATION, PPO_MAX_TOKEN_LEN
#   Memory (docs/reproduce.md, "Memory per GPU"):
#   MEGATRON_TP, MEGATRON_PP  Megatron tensor / pipeline parallel sizes (7B: 2 / 2, so the resident training state
#                         leaves room for vLLM; 1.5B: 1 / 1)
#   MEGATRON_RECOMPUTE    1 (default): full activation recompute of every layer in the Megatron engine
#                         (override_transformer_config.recompute_*; Megatron ignores enable_gradient_checkpointing,
#                         which the FSDP recipes always set); 0: off (more memory, about 25% less training compute)
#   ACTOR_OFFLOAD         0 (default) | 1: move the actor's parameters, gradients and optimizer states to CPU memory
#                         outside the update (param_offload + optimizer_offload of either engine), for GPUs under
#                         80 GB; needs host memory for that state (7B: about 15 GB per GPU with FSDP, up to 34 GB
#                         with Megatron)
#   Checkpoints (every SAVE_FREQ steps under $OUTPUT_DIR/checkpoints; about 91 GB (FSDP) / 107 GB (Megatron) each
#   for the 7B models):
#   MAX_CKPT_TO_KEEP      trainer.max_actor_ckpt_to_keep, default 2 (older ones are deleted); null keeps them all
#   SAVE_HF_MODEL         0 (default) | 1: also write a Hugging Face model in every checkpoint (FSDP:
#                         global_step_N/actor/huggingface, about +30 GB for 7B); the Megatron checkpoints already
#                         hold one (global_step_N/actor/model/huggingface)
#   PYTHON                interpreter (default python3)
#   PMPO_EXTERNAL_MODULES_FALLBACK=1  also register through VERL_USE_EXTERNAL_MODULES (runtime env of ray.init)
#   PMPO_DRY_RUN=1        print the trainer command (one line, shell-quoted) on stdout and exit 0. The input
#                         checks still run but only warn on stderr, so CI can compose commands without
#                         model, data or GPUs (PMPO_SKIP_CHECKS=1 silences them).
#   PMPO_SKIP_CHECKS=1    skip the input checks (e.g. a CPU-only Ray head that submits to GPU workers)
#   PMPO_SKIP_GPU_CHECK=1 skip only the GPU checks (nvidia-smi, pmpo-verl check --gpu)
# Extra arguments of a recipe are appended to the trainer command as Hydra overrides.

PMPO_DEFAULT_BENCHMARKS="aime24,amc,math500,minerva,olympiadbench"
PMPO_TRAIN_BASENAME="math_lvl3to5_train.parquet"

pmpo_die() {
    echo "error: $*" >&2
    exit 1
}

# A failed input check: fatal for a real run, a warning in dry-run mode.
pmpo_check_failed() {
    if [[ "${PMPO_DRY_RUN:-0}" == "1" ]]; then
        echo "warning (dry run, would fail a real run): $*" >&2
    else
        pmpo_die "$*"
    fi
}

# pmpo_preset NAME ENGINE: defaults of one model (every value can be overridden from the environment) and
# the training engine of the recipe (fsdp or megatron).
pmpo_preset() {
    case "${2:-fsdp}" in
        fsdp | megatron) PMPO_ENGINE="${2:-fsdp}" ;;
        *) pmpo_die "unknown engine '$2' (fsdp, megatron)" ;;
    esac
    case "$1" in
        qwen2.5-math-7b)
            : "${MODEL_PATH:=Qwen/Qwen2.5-Math-7B}"
            : "${TEMPLATE:=qwen_math}"
            : "${ROLLOUT_TP:=2}"
            : "${PPO_MAX_TOKEN_LEN:=16384}"
            : "${MEGATRON_TP:=2}"
            : "${MEGATRON_PP:=2}"
            ;;
        qwen2.5-math-1.5b)
            : "${MODEL_PATH:=Qwen/Qwen2.5-Math-1.5B}"
            : "${TEMPLATE:=qwen_math}"
            : "${ROLLOUT_TP:=1}"
            : "${PPO_MAX_TOKEN_LEN:=32768}"
            : "${MEGATRON_TP:=1}"
            : "${MEGATRON_PP:=1}"
            ;;
        r1-distill-qwen-7b)
            : "${MODEL_PATH:=deepseek-ai/DeepSeek-R1-Distill-Qwen-7B}"
            : "${TEMPLATE:=r1d}"
            : "${ROLLOUT_TP:=2}"
            : "${PPO_MAX_TOKEN_LEN:=16384}"
            : "${MEGATRON_TP:=2}"
            : "${MEGATRON_PP:=2}"
            ;;
        *)
            pmpo_die "unknown preset '$1' (qwen2.5-math-7b, qwen2.5-math-1.5b, r1-distill-qwen-7b)"
            ;;
    esac
    PMPO_PRESET="$1"
    : "${DATA_DIR:=${HOME}/data/pmpo/${TEMPLATE}}"
}

# "a,b" -> "[a,b]" (a Hydra list); empty items are dropped.
pmpo_hydra_list() {
    local IFS=','
    local -a items=()
    local item
    for item in $1; do
        [[ -n "${item}" ]] && items+=("${item}")
    done
    echo "[${items[*]}]"
}

# pmpo_check_setting NAME REGEX HINT: a recipe setting that does not match is a configuration error (also in a dry
# run), not a silently different run.
pmpo_check_setting() {
    [[ "${!1}" =~ $2 ]] || pmpo_die "$1='${!1}' is not valid ($3)"
}

# Overrides that select the method: pmpo_verl/recipe.py is their one home, printed by `pmpo-verl overrides`.
# Read from this checkout (PYTHONPATH) with python3: recipe.py and the CLI's parser need only the standard
# library, so composing a command (dry runs, submit.sh on a head node) needs no installed plugin.
PMPO_REPO="$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
pmpo_method_overrides() {
    local method="$1" out
    out="$(PYTHONPATH="${PMPO_REPO}" python3 -m pmpo_verl.cli overrides --lines --method "${method}")" \
        || pmpo_die "\`python3 -m pmpo_verl.cli overrides --method ${method}\` failed \
(with PYTHONPATH=${PMPO_REPO}; python3 must be a working Python 3.10 or newer)"
    PMPO_METHOD_ARGS=()
    [[ -z "${out}" ]] || mapfile -t PMPO_METHOD_ARGS <<<"${out}"
}

# Input checks, before anything starts Ray.
pmpo_check_inputs() {
    [[ "${PMPO_SKIP_CHECKS:-0}" == "1" ]] && return 0
    local f
    for f in "${PMPO_TRAIN_LIST[@]}" "${PMPO_VAL_LIST[@]}"; do
        [[ -f "${f}" ]] || pmpo_check_failed "data file not found: ${f} (write it with examples/data_preprocess/, \
or set DATA_DIR / TRAIN_FILES / VAL_FILES)"
    done
    if [[ "${MODEL_PATH}" == /* || "${MODEL_PATH}" == .* || "${MODEL_PATH}" == "~"* || -e "${MODEL_PATH}" ]]; then
        [[ -f "${MODEL_PATH}/config.json" ]] || pmpo_check_failed "model not found: ${MODEL_PATH}/config.json \
does not exist (set MODEL_PATH to a local Hugging Face model directory)"
    elif [[ "${PMPO_ALLOW_DOWNLOAD:-0}" != "1" ]]; then
        local cache="${HF_HUB_CACHE:-${HF_HOME:-${HOME}/.cache/huggingface}/hub}"
        local entry="${cache}/models--${MODEL_PATH//\//--}"
        [[ -d "${entry}/snapshots" ]] || pmpo_check_failed "model '${MODEL_PATH}' is neither a local directory \
nor in the Hugging Face cache (${entry}); download it first (huggingface-cli download ${MODEL_PATH} --local-dir DIR, \
then MODEL_PATH=DIR) or set PMPO_ALLOW_DOWNLOAD=1 to let every node download it"
    fi
    if [[ "${PMPO_SKIP_GPU_CHECK:-0}" != "1" ]]; then
        if ! command -v nvidia-smi >/dev/null 2>&1; then
            pmpo_check_failed "nvidia-smi not found: this recipe needs ${GPUS_PER_NODE} NVIDIA GPUs per node \
(PMPO_SKIP_GPU_CHECK=1 on a GPU-less head node)"
        else
            local n
            n="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"
            (( n >= GPUS_PER_NODE )) || pmpo_check_failed "found ${n} GPU(s) on $(hostname), \
GPUS_PER_NODE=${GPUS_PER_NODE} (set GPUS_PER_NODE, or PMPO_SKIP_GPU_CHECK=1 on a GPU-less head node)"
        fi
    fi
    if [[ "${PMPO_DRY_RUN:-0}" != "1" ]]; then
        local check=(check)
        [[ "${PMPO_SKIP_GPU_CHECK:-0}" == "1" ]] || check+=(--gpu --engine "${PMPO_ENGINE:-fsdp}")
        "${PYTHON}" -m pmpo_verl.cli "${check[@]}" >&2 || pmpo_die "pmpo-verl ${check[*]} failed in ${PYTHON} \
(fix the FAIL lines above; install with scripts/install_gpu.sh on every node, see README.md)"
    fi
}

# pmpo_build_command METHOD [EXTRA_OVERRIDES...]: fills the array PMPO_CMD.
pmpo_build_command() {
    local method="$1"
    shift
    [[ -n "${PMPO_PRESET:-}" ]] || pmpo_die "call pmpo_preset before pmpo_build_command"
    : "${PYTHON:=python3}"
    : "${NNODES:=1}"
    : "${GPUS_PER_NODE:=8}"
    : "${LOGGER:=console}"
    : "${PROJECT_NAME:=pmpo-verl}"
    : "${EXPERIMENT_NAME:=${method}-${PMPO_PRESET}-${PMPO_ENGINE}}"
    : "${OUTPUT_DIR:=${HOME}/pmpo_runs/${EXPERIMENT_NAME}}"
    : "${VAL_BENCHMARKS:=${PMPO_DEFAULT_BENCHMARKS}}"
    : "${TOTAL_STEPS:=500}"
    : "${TOTAL_EPOCHS:=100}"
    : "${SAVE_FREQ:=50}"
    : "${TEST_FREQ:=25}"
    : "${MAX_PROMPT_LENGTH:=1024}"
    : "${MAX_RESPONSE_LENGTH:=3000}"
    : "${GPU_MEMORY_UTILIZATION:=0.6}"
    : "${MEGATRON_RECOMPUTE:=1}"
    : "${ACTOR_OFFLOAD:=0}"
    : "${MAX_CKPT_TO_KEEP:=2}"
    : "${SAVE_HF_MODEL:=0}"
    pmpo_check_setting MEGATRON_RECOMPUTE '^[01]$' "0 or 1"
    pmpo_check_setting ACTOR_OFFLOAD '^[01]$' "0 or 1"
    pmpo_check_setting SAVE_HF_MODEL '^[01]$' "0 or 1"
    pmpo_check_setting MAX_CKPT_TO_KEEP '^([1-9][0-9]*|null)$' "a positive number of checkpoints, or null to keep all"

    local b
    if [[ -z "${TRAIN_FILES:-}" ]]; then
        TRAIN_FILES="${DATA_DIR}/${PMPO_TRAIN_BASENAME}"
    fi
    if [[ -z "${VAL_FILES:-}" ]]; then
        local -a vals=()
        IFS=',' read -r -a vals <<<"${VAL_BENCHMARKS}"
        VAL_FILES=""
        for b in "${vals[@]}"; do
            VAL_FILES="${VAL_FILES:+${VAL_FILES},}${DATA_DIR}/${b}.parquet"
        done
    fi
    IFS=',' read -r -a PMPO_TRAIN_LIST <<<"${TRAIN_FILES}"
    IFS=',' read -r -a PMPO_VAL_LIST <<<"${VAL_FILES}"

    pmpo_method_overrides "${method}"

    PMPO_CMD=("${PYTHON}" -m verl.trainer.main_ppo)
    local offload=False
    [[ "${ACTOR_OFFLOAD}" == "1" ]] && offload=True
    local -a engine_args=()
    case "${PMPO_ENGINE}" in
        fsdp)
            engine_args=(
                "actor_rollout_ref.actor.optim.lr_scheduler_type=constant"
                "actor_rollout_ref.model.enable_gradient_checkpointing=True"
                "actor_rollout_ref.actor.fsdp_config.param_offload=${offload}"
                "actor_rollout_ref.actor.fsdp_config.optimizer_offload=${offload}"
            ) ;;
        megatron)
            # The Megatron engine never reads model.enable_gradient_checkpointing; its recompute lives in the
            # TransformerConfig overrides (a reference model, if any, inherits them).
            engine_args=(
                "model_engine=megatron"
                "actor_rollout_ref.actor.optim.lr_decay_style=constant"
                "actor_rollout_ref.actor.megatron.tensor_model_parallel_size=${MEGATRON_TP}"
                "actor_rollout_ref.actor.megatron.pipeline_model_parallel_size=${MEGATRON_PP}"
                "actor_rollout_ref.actor.megatron.param_offload=${offload}"
                "actor_rollout_ref.actor.megatron.optimizer_offload=${offload}"
            )
            if [[ "${MEGATRON_RECOMPUTE}" == "1" ]]; then
                local tf="actor_rollout_ref.actor.megatron.override_transformer_config"
                engine_args+=(
                    "${tf}.recompute_granularity=full"
                    "${tf}.recompute_method=uniform"
                    "${tf}.recompute_num_layers=1"
                )
            fi ;;
        *) pmpo_die "unknown ENGINE '${PMPO_ENGINE}' (fsdp, megatron)" ;;
    esac
    local -a ckpt_args=("trainer.max_actor_ckpt_to_keep=${MAX_CKPT_TO_KEEP}")
    if [[ "${SAVE_HF_MODEL}" == "1" ]]; then
        # load_contents would follow save_contents; a resume reads the sharded model, never the HF export
        ckpt_args+=(
            "actor_rollout_ref.actor.checkpoint.save_contents=[model,optimizer,extra,hf_model]"
            "actor_rollout_ref.actor.checkpoint.load_contents=[model,optimizer,extra]"
        )
    fi

    PMPO_CMD+=(
        "${engine_args[@]}"
        "${PMPO_METHOD_ARGS[@]}"
        "+algorithm.pmpo_adv_eps=1e-8"
        "+algorithm.pmpo_truncated_reward_zero=True"
        "algorithm.norm_adv_by_std_in_grpo=True"
        "algorithm.use_kl_in_reward=False"
        "reward.custom_reward_function.path=pkg://reward"
        "reward.custom_reward_function.name=compute_score"
        "data.train_files=$(pmpo_hydra_list "${TRAIN_FILES}")"
        "data.val_files=$(pmpo_hydra_list "${VAL_FILES}")"
        "data.train_batch_size=128"
        "data.max_prompt_length=${MAX_PROMPT_LENGTH}"
        "data.max_response_length=${MAX_RESPONSE_LENGTH}"
        "data.filter_overlong_prompts=True"
        "data.truncation=error"
        "data.shuffle=True"
        "actor_rollout_ref.model.path=${MODEL_PATH}"
        "actor_rollout_ref.model.use_remove_padding=True"
        "actor_rollout_ref.actor.optim.lr=1e-6"
        "actor_rollout_ref.actor.optim.lr_warmup_steps=0"
        "actor_rollout_ref.actor.ppo_mini_batch_size=16"
        "actor_rollout_ref.actor.ppo_epochs=1"
        "actor_rollout_ref.actor.use_dynamic_bsz=True"
        "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=${PPO_MAX_TOKEN_LEN}"
        "actor_rollout_ref.actor.use_kl_loss=False"
        "actor_rollout_ref.actor.entropy_coeff=0"
        "actor_rollout_ref.rollout.name=vllm"
        "actor_rollout_ref.rollout.n=8"
        "actor_rollout_ref.rollout.temperature=1.0"
        "actor_rollout_ref.rollout.top_p=1.0"
        "actor_rollout_ref.rollout.top_k=-1"
        "actor_rollout_ref.rollout.tensor_model_parallel_size=${ROLLOUT_TP}"
        "actor_rollout_ref.rollout.gpu_memory_utilization=${GPU_MEMORY_UTILIZATION}"
        "actor_rollout_ref.rollout.val_kwargs.temperature=0"
        "actor_rollout_ref.rollout.val_kwargs.top_p=1.0"
        "actor_rollout_ref.rollout.val_kwargs.do_sample=False"
        "actor_rollout_ref.rollout.val_kwargs.n=1"
        "trainer.nnodes=${NNODES}"
        "trainer.n_gpus_per_node=${GPUS_PER_NODE}"
        "trainer.logger=$(pmpo_hydra_list "${LOGGER}")"
        "trainer.project_name=${PROJECT_NAME}"
        "trainer.experiment_name=${EXPERIMENT_NAME}"
        "trainer.default_local_dir=${OUTPUT_DIR}/checkpoints"
        "trainer.validation_data_dir=${OUTPUT_DIR}/validation"
        "trainer.total_epochs=${TOTAL_EPOCHS}"
        "trainer.total_training_steps=${TOTAL_STEPS}"
        "trainer.save_freq=${SAVE_FREQ}"
        "${ckpt_args[@]}"
        "trainer.test_freq=${TEST_FREQ}"
        "trainer.val_before_train=True"
        "trainer.critic_warmup=0"
    )
    if [[ "${PMPO_EXTERNAL_MODULES_FALLBACK:-0}" == "1" ]]; then
        PMPO_CMD+=("+ray_kwargs.ray_init.runtime_env.env_vars.VERL_USE_EXTERNAL_MODULES=pmpo_verl.register")
    fi
    PMPO_CMD+=("$@")
}

# pmpo_quote ARG...: the arguments on one line, each shell-quoted only where needed (single quotes), so the
# line can be pasted into a shell and `shlex.split` reads it back.
pmpo_quote() {
    local arg sep="" out=""
    for arg in "$@"; do
        if [[ -n "${arg}" && "${arg}" =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
            out+="${sep}${arg}"
        else
            out+="${sep}'${arg//\'/\'\\\'\'}'"
        fi
        sep=" "
    done
    printf '%s\n' "${out}"
}

# The trainer command on one line, shell-quoted.
pmpo_print_command() {
    pmpo_quote "${PMPO_CMD[@]}"
}

# pmpo_run METHOD [EXTRA_OVERRIDES...]: check the inputs, then print (dry run) or exec the trainer.
pmpo_run() {
    pmpo_build_command "$@"
    pmpo_check_inputs
    if [[ "${PMPO_DRY_RUN:-0}" == "1" ]]; then
        pmpo_print_command
        exit 0
    fi
    mkdir -p "${OUTPUT_DIR}"
    pmpo_print_command | tee "${OUTPUT_DIR}/command.txt" >&2
    exec "${PMPO_CMD[@]}"
}
