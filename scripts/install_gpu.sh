#!/usr/bin/env bash
# Install pmpo-verl's GPU stack (verl 0.9.1 with vLLM rollout and the FSDP or Megatron engine) into the
# current Python environment, in the one order that works with pip:
#   1. torch 2.11.0 (PyPI's build is for CUDA 13.0) and the build tools;
#   2. flash-attn 2.8.3, compiled against that torch: it is published as source only, its setup.py imports
#      torch (so no build isolation) and its GitHub release has no wheel for torch 2.11 / CUDA 13;
#   3. (megatron) TransformerEngine 2.16.1's PyTorch bindings, also source only, compiled the same way;
#   4. pmpo-verl[vllm] or pmpo-verl[megatron] (verl[vllm,fsdp] 0.9.1: vLLM 0.24.0, transformers 5.9.0, ...),
#      which finds the compiled packages already installed;
#   5. (megatron) megatron-bridge without its dependencies (its PyPI metadata pins transformers < 5.9 and
#      another flashinfer than vLLM 0.24; verl installs it the same way);
#   6. pmpo-verl check --gpu on this node.
# A plain `pip install "pmpo-verl[vllm]"` fails at step 2 (flash-attn's setup.py: No module named 'torch').
#
# Usage: bash scripts/install_gpu.sh [--engine fsdp|megatron] [--dry-run] [SPEC]
#   --engine   fsdp (default) or megatron (Python 3.12: megatron-core 0.18 and megatron-bridge require it)
#   --dry-run  check the prerequisites, print the commands, run nothing
#   SPEC       what to install: a directory (installed editable) or a pmpo-verl requirement such as
#              pmpo-verl==0.1.0; default: this checkout
# Needs: Linux x86_64, Python 3.10-3.12, the CUDA 13 toolkit (nvcc 13.x, e.g. an nvidia/cuda:13.0.2-devel
# image; torch refuses to build extensions with another CUDA major version), a C++ compiler, and for
# megatron the cuDNN 9 headers (cudnn.h; apt package libcudnn9-dev-cuda-13).
# Environment: PYTHON (default python3); CUDA_HOME; MAX_JOBS (parallel compile jobs; flash-attn's default is
# min(cores / 2, free GB / 9), a job can take about 9 GB); FLASH_ATTN_CUDA_ARCHS (default "80;90;100;120";
# "90" for H100/H200 compiles a quarter of the kernels); PMPO_SKIP_GPU_CHECK=1 skips step 6 (e.g. when
# building an image on a machine without GPUs).
set -euo pipefail

TORCH_VERSION=2.11.0        # verl 0.9.1's pins (its vllm/fsdp extras)
TORCHVISION_VERSION=0.26.0
TORCHAUDIO_VERSION=2.11.0
FLASH_ATTN_VERSION=2.8.3
CUDA_MAJOR=13               # PyPI's torch 2.11.0 and vllm 0.24.0 are CUDA 13.0 builds
TE_VERSION=2.16.1           # pyproject.toml's megatron extra
MEGATRON_BRIDGE_VERSION=0.5.1

die() {
    echo "error: $*" >&2
    exit 1
}

engine=fsdp
dry_run=0
spec=""
while (($#)); do
    case "$1" in
        --engine) engine="${2:-}"; shift 2 || die "--engine needs a value (fsdp, megatron)" ;;
        --engine=*) engine="${1#--engine=}"; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) spec="$1"; shift ;;
    esac
done
case "${engine}" in
    fsdp) extra=vllm ;;
    megatron) extra=megatron ;;
    *) die "unknown engine '${engine}' (fsdp, megatron)" ;;
esac
python="${PYTHON:-python3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
spec="${spec:-${root}}"
if [[ -d "${spec}" ]]; then
    target=(-e "${spec}[${extra}]")
else  # pmpo-verl, pmpo-verl==0.1.0, ...: the extra goes after the name
    name="${spec%%[=<>!~ ;]*}"
    target=("${name}[${extra}]${spec#"${name}"}")
fi

# ---- prerequisites: fail before installing anything ----
py_version="$("${python}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    || die "cannot run ${python} (set PYTHON to the environment's interpreter)"
case "${engine}:${py_version}" in
    fsdp:3.1[012] | megatron:3.12) ;;
    megatron:*) die "the Megatron stack needs Python 3.12 (megatron-core 0.18, megatron-bridge), ${python} is ${py_version}" ;;
    *) die "pmpo-verl's GPU stack needs Python 3.10-3.12, ${python} is ${py_version}" ;;
esac
# The toolkit torch's extension builder will use: CUDA_HOME (or CUDA_PATH), else nvcc on PATH, else /usr/local/cuda.
cuda_home="${CUDA_HOME:-${CUDA_PATH:-}}"
if [[ -z "${cuda_home}" ]] && command -v nvcc >/dev/null 2>&1; then
    cuda_home="$(dirname "$(dirname "$(command -v nvcc)")")"
fi
nvcc="${cuda_home:-/usr/local/cuda}/bin/nvcc"
[[ -x "${nvcc}" ]] || die "nvcc not found (${nvcc}): flash-attn ${FLASH_ATTN_VERSION} has no prebuilt wheel for torch \
${TORCH_VERSION} and is compiled here, which needs the CUDA ${CUDA_MAJOR} toolkit (nvcc ${CUDA_MAJOR}.x, e.g. an \
nvidia/cuda:13.0.2-devel image); install it and set CUDA_HOME, or use verl's vLLM image (README, GPU install)"
nvcc_release="$("${nvcc}" --version)"
[[ "${nvcc_release}" =~ release\ ([0-9]+)\.([0-9]+) ]] || die "cannot read the CUDA version from ${nvcc} --version"
cuda_release="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
[[ "${BASH_REMATCH[1]}" == "${CUDA_MAJOR}" ]] || die "${nvcc} is CUDA ${cuda_release}; torch \
${TORCH_VERSION} is a CUDA ${CUDA_MAJOR} build and torch refuses to compile extensions with another major version \
(install the CUDA ${CUDA_MAJOR} toolkit and set CUDA_HOME)"
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || die "no C++ compiler (c++ or g++) for the CUDA extensions"
if [[ "${engine}" == megatron ]]; then
    found=""
    IFS=: read -r -a include_dirs <<<"${CPATH:-}:${CPLUS_INCLUDE_PATH:-}"
    for dir in "${include_dirs[@]}" "$(dirname "$(dirname "${nvcc}")")/include" /usr/include /usr/include/x86_64-linux-gnu; do
        [[ -n "${dir}" && -f "${dir}/cudnn.h" ]] && found="${dir}/cudnn.h" && break
    done
    [[ -n "${found}" ]] || die "cudnn.h not found: TransformerEngine's PyTorch bindings are compiled here and include it \
(install cuDNN 9 for CUDA ${CUDA_MAJOR}: apt-get install libcudnn9-dev-cuda-13, or add its include directory to CPATH)"
fi
echo "installing pmpo-verl[${extra}] into ${python} (Python ${py_version}) with ${nvcc} (CUDA ${cuda_release})"

run() {  # print the command, then run it unless --dry-run
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    ((dry_run)) || "$@"
}
pip=("${python}" -m pip install)

run "${pip[@]}" "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}" "torchaudio==${TORCHAUDIO_VERSION}" \
    setuptools wheel packaging psutil ninja einops
run env FLASH_ATTENTION_FORCE_BUILD=TRUE "${pip[@]}" --no-build-isolation "flash-attn==${FLASH_ATTN_VERSION}"
if [[ "${engine}" == megatron ]]; then
    run "${pip[@]}" --no-build-isolation "transformer_engine[core_cu13,pytorch]==${TE_VERSION}"
fi
run "${pip[@]}" "${target[@]}"
if [[ "${engine}" == megatron ]]; then
    run "${pip[@]}" --no-deps "megatron-bridge==${MEGATRON_BRIDGE_VERSION}"
fi
if [[ "${PMPO_SKIP_GPU_CHECK:-0}" != 1 ]]; then
    run "${python}" -m pmpo_verl.cli check --gpu --engine "${engine}"
fi
