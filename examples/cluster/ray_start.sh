#!/usr/bin/env bash
# Start a Ray node of a multi-node PMPO run. Install the GPU stack in the same Python environment on every
# node first (`bash scripts/install_gpu.sh`, README "GPU install"): Ray's runtime env installs nothing
# (examples/cluster/runtime_env.yaml). Before `ray start`, this node runs `pmpo-verl check --gpu`.
#
#   head:    bash examples/cluster/ray_start.sh head
#   worker:  bash examples/cluster/ray_start.sh worker HEAD_IP[:PORT]
#   stop:    bash examples/cluster/ray_start.sh stop
#
# Environment: RAY_PORT (6379), RAY_DASHBOARD_PORT (8265), GPUS_PER_NODE (default: nvidia-smi count),
# RAY_NUM_CPUS (default: all), PYTHON (python3), ENGINE (fsdp; megatron also checks TransformerEngine and
# Megatron-Core), PMPO_SKIP_CHECKS=1 (skip the GPU preflight), RAY_EXTRA_ARGS (appended to `ray start`,
# word-split).
#
# DASHBOARD_HOST (127.0.0.1): the head's dashboard address. The dashboard serves the job-submission API, and
# whoever reaches it runs code on every node, so it listens on the head's loopback only. Submit on the head, or
# from your machine through an SSH tunnel: `ssh -L 8265:127.0.0.1:8265 HEAD`, then
# `RAY_ADDRESS=http://127.0.0.1:8265 bash examples/cluster/submit.sh ...`. DASHBOARD_HOST=0.0.0.0 opens it to
# the network: only behind a firewall that admits trusted hosts alone.
#
# Secrets (WANDB_API_KEY, HF_TOKEN): export them in this shell before starting each node: Ray's workers inherit
# the environment of `ray start` (or run `wandb login` / `huggingface-cli login` on each node). Never pass them
# through `ray job submit`: a job's command line and runtime env show in `ray job list` and the dashboard.
#
# Token authentication (Ray 2.60): `ray start --head` turns it on when a token exists (~/.ray/auth_token, which
# any local `ray.init()` writes, or RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH), but a node or client given an address
# only uses it with RAY_AUTH_MODE=token. This script sets RAY_AUTH_MODE=token where a token exists, so every node
# needs the head's token (a shared home, or a copy of the file).
set -euo pipefail

: "${RAY_PORT:=6379}"
: "${RAY_DASHBOARD_PORT:=8265}"
: "${DASHBOARD_HOST:=127.0.0.1}"
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
    "${PYTHON}" -m pmpo_verl.cli check --gpu --engine "${ENGINE:-fsdp}" >&2 \
        || die "the GPU preflight failed on $(hostname) (the FAIL lines above say what to fix)"
fi

# Fallback plugin registration for every Ray worker of this node (they inherit the environment of `ray start`).
export VERL_USE_EXTERNAL_MODULES="${VERL_USE_EXTERNAL_MODULES:-pmpo_verl.register}"
if [[ -z "${RAY_AUTH_MODE:-}" ]] \
    && [[ -n "${RAY_AUTH_TOKEN:-}" || -f "${RAY_AUTH_TOKEN_PATH:-${HOME}/.ray/auth_token}" ]]; then
    export RAY_AUTH_MODE=token
fi

args=(--num-gpus "${GPUS_PER_NODE}")
[[ -n "${RAY_NUM_CPUS:-}" ]] && args+=(--num-cpus "${RAY_NUM_CPUS}")
if [[ -n "${RAY_EXTRA_ARGS:-}" ]]; then
    read -r -a extra <<<"${RAY_EXTRA_ARGS}"
    args+=("${extra[@]}")
fi

if [[ "${role}" == "head" ]]; then
    ray start --head --port "${RAY_PORT}" --dashboard-host "${DASHBOARD_HOST}" \
        --dashboard-port "${RAY_DASHBOARD_PORT}" "${args[@]}"
    echo "head started; workers: bash $0 worker $(hostname -I 2>/dev/null | awk '{print $1}'):${RAY_PORT}" >&2
    if [[ "${DASHBOARD_HOST}" == 127.* || "${DASHBOARD_HOST}" == "localhost" || "${DASHBOARD_HOST}" == "::1" ]]; then
        echo "dashboard and job submission on this node only: RAY_ADDRESS=http://127.0.0.1:${RAY_DASHBOARD_PORT}; \
from elsewhere: ssh -L ${RAY_DASHBOARD_PORT}:127.0.0.1:${RAY_DASHBOARD_PORT} $(hostname)" >&2
    else
        echo "warning: the dashboard listens on ${DASHBOARD_HOST}:${RAY_DASHBOARD_PORT}: whoever reaches it can submit \
jobs, i.e. run code on every node (DASHBOARD_HOST unset keeps it on 127.0.0.1)" >&2
    fi
else
    address="${2:-}"
    [[ -n "${address}" ]] || die "usage: $0 worker HEAD_IP[:PORT]"
    [[ "${address}" == *:* ]] || address="${address}:${RAY_PORT}"
    ray start --address "${address}" "${args[@]}"
fi
