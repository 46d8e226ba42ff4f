#!/usr/bin/env bash
# Start a Ray node of a multi-node PMPO run (verl-integration.md §11). Install pmpo-verl in the same Python
# environment on every node first (`pip install pmpo-verl[vllm]`, then `pmpo-verl check`): Ray's runtime env
# installs nothing (examples/cluster/runtime_env.yaml).
#
#   head:    bash examples/cluster/ray_start.sh head
#   worker:  bash examples/cluster/ray_start.sh worker HEAD_IP[:PORT]
#   stop:    bash examples/cluster/ray_start.sh stop
#
# Environment: RAY_PORT (6379), RAY_DASHBOARD_PORT (8265), GPUS_PER_NODE (default: nvidia-smi count),
# RAY_NUM_CPUS (default: all), PYTHON (python3), PMPO_SKIP_CHECKS=1 (skip the GPU and plugin checks),
# RAY_EXTRA_ARGS (appended to `ray start`, word-split).
set -euo pipefail

: "${RAY_PORT:=6379}"
: "${RAY_DASHBOARD_PORT:=8265}"
: "${PYTHON:=python3}"

die() {
    echo "error: $*" >&2
    exit 1
}

role="${1:-}"
case "${role}" in
    head | worker | stop) ;;
    *) die "usage: $0 head | worker HEAD_IP[:PORT] | stop" ;;
esac

if [[ "${role}" == "stop" ]]; then
    exec ray stop
fi

command -v ray >/dev/null 2>&1 || die "the 'ray' command is not on PATH (activate the environment with verl)"

if [[ -z "${GPUS_PER_NODE:-}" ]]; then
    if command -v nvidia-smi >/dev/null 2>&1; then
        GPUS_PER_NODE="$(nvidia-smi -L | grep -c '^GPU' || true)"
    else
        GPUS_PER_NODE=0
    fi
fi
if [[ "${PMPO_SKIP_CHECKS:-0}" != "1" ]]; then
    (( GPUS_PER_NODE > 0 )) || die "no NVIDIA GPU found on $(hostname) (PMPO_SKIP_CHECKS=1 for a CPU-only head)"
    "${PYTHON}" -m pmpo_verl.cli check >/dev/null || die "pmpo-verl is not usable on $(hostname); run \`pmpo-verl check\`"
fi

# Fallback plugin registration for every Ray worker of this node (they inherit the environment of `ray start`).
export VERL_USE_EXTERNAL_MODULES="${VERL_USE_EXTERNAL_MODULES:-pmpo_verl.register}"

args=(--num-gpus "${GPUS_PER_NODE}")
[[ -n "${RAY_NUM_CPUS:-}" ]] && args+=(--num-cpus "${RAY_NUM_CPUS}")
if [[ -n "${RAY_EXTRA_ARGS:-}" ]]; then
    read -r -a extra <<<"${RAY_EXTRA_ARGS}"
    args+=("${extra[@]}")
fi

if [[ "${role}" == "head" ]]; then
    ray start --head --port "${RAY_PORT}" --dashboard-host 0.0.0.0 --dashboard-port "${RAY_DASHBOARD_PORT}" "${args[@]}"
    echo "head started; workers: bash $0 worker $(hostname -I 2>/dev/null | awk '{print $1}'):${RAY_PORT}" >&2
else
    address="${2:-}"
    [[ -n "${address}" ]] || die "usage: $0 worker HEAD_IP[:PORT]"
    [[ "${address}" == *:* ]] || address="${address}:${RAY_PORT}"
    ray start --address "${address}" "${args[@]}"
fi
