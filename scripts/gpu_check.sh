#!/usr/bin/env bash
# The one prepared call for a lent GPU (issue 2's target: adaptive PMPO under 1 ms at 256 x 8192).
# Lent machines have torch + Triton but no verl: bench_loss.py then uses its inline verl references.
# With the device tool, from the repository root:   bash scripts/gpu_check.sh     (at most 9.5 minutes)
# Writes gpu.txt, profile_{compiled,eager,cudagraphs}.txt and bench_loss.{txt,md,json} to $OUT
# (default ./gpu_check).
# Each step has its own time limit, and a step that fails or times out does not stop the next one;
# the exit status is the number of failed steps.
# PYTHON, DEVICE, PROFILE_SIZE and SIZES override the defaults (a CPU dry run of the script itself:
#   DEVICE=cpu PROFILE_SIZE=4x64 SIZES=4x64 bash scripts/gpu_check.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu_check}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python="${PYTHON:-python}"
device="${DEVICE:-cuda}"
profile_size="${PROFILE_SIZE:-256x8192}"
sizes="${SIZES:-64x2048,256x8192,256x8192:bfloat16}"

step() {  # step NAME SECONDS COMMAND...: run with a time limit, keep its output, report its exit status
    local name=$1 limit=$2
    shift 2
    echo "== $name ($(date -u +%H:%M:%S), limit ${limit} s): $*"
    timeout "$limit" "$@" 2>&1 | grep -v '^USDT' | tee "$out/$name.txt"
    local status=${PIPESTATUS[0]}
    echo "== $name: exit $status"
    [ "$status" -eq 0 ] || failed=$((failed + 1))
}
failed=0

{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
    "$python" -c "import importlib.util as u, torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'triton', u.find_spec('triton') and __import__('triton').__version__)"
} > "$out/gpu.txt" 2>&1
cat "$out/gpu.txt"

# Most important first; the limits add up to 560 s, inside the device tool's 600 s per call (the
# bench can reuse the profile's kernels from the inductor and Triton caches).
# Per part, one PMPO setting per process (as in training); kernel time vs wall time says host- or device-bound.
PMPO_VERL_COMPILE="${PMPO_VERL_COMPILE:-auto}" step profile_compiled 150 \
    "$python" scripts/profile_loss_parts.py --device "$device" --size "$profile_size" --profile
# Side by side with vanilla/geo_mean, every PMPO setting, as ratios (the table for docs/benchmarks.md).
step bench_loss 250 "$python" scripts/bench_loss.py --device "$device" --markdown --sizes "$sizes" --out "$out/bench_loss.md"
# Experimental: CUDA graphs for the compiled parts (one graph launch per part instead of one per kernel).
PMPO_VERL_COMPILE="${PMPO_VERL_COMPILE:-auto}" PMPO_VERL_COMPILE_MODE=reduce-overhead step profile_cudagraphs 120 \
    "$python" scripts/profile_loss_parts.py --device "$device" --size "$profile_size" --profile
PMPO_VERL_COMPILE=0 step profile_eager 40 \
    "$python" scripts/profile_loss_parts.py --device "$device" --size "$profile_size" --profile
exit "$failed"
