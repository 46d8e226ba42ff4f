"""The loss benchmark scripts run end to end on a tiny CPU problem: their self-checks (inline references
== verl's registry, memory tracker exact, pmpo_verl.algo verl-free) pass and PMPO's endpoints reproduce
vanilla and geo_mean on the benchmark tensors. Timings are not asserted (benchmarks print, tests check)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_script(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_bench_loss_self_checks_and_endpoint_equivalence():
    out = run_script("scripts/bench_loss.py", "--sizes", "4x64", "--repeats", "2", "--warmup", "1")
    checks = [line for line in out.splitlines() if line.startswith("self-check:")]
    assert len(checks) == 4 and all(line.endswith(": OK") for line in checks), checks
    same = re.search(r"PMPO p=1 vs vanilla ([\d.e+-]+) / ([\d.e+-]+); PMPO p=0 vs geo_mean ([\d.e+-]+) / ([\d.e+-]+)", out)
    assert same, out[-2000:]
    assert max(float(v) for v in same.groups()) < 1e-5
    assert re.search(r"^4x64 +float32 +PMPO adaptive \(newton\)", out, re.MULTILINE)


@pytest.mark.slow
def test_profile_loss_parts_reports_vanilla_and_pmpo():
    out = run_script("scripts/profile_loss_parts.py", "--device", "cpu", "--size", "4x64", "--profile")
    ops = dict(re.findall(r"^(vanilla|PMPO full call)\b.*?(\d+) ATen op events per call", out, re.MULTILINE))
    assert set(ops) == {"vanilla", "PMPO full call"} and all(int(v) > 0 for v in ops.values()), out
    for label in ("vanilla fwd + metrics + bwd:", "full call (objective + metrics + backward):", "statistics", "sequence loss"):
        assert re.search(re.escape(label) + r".*\d+\.\d{3} ms", out), label


def test_gpu_check_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "gpu_check.sh")], check=True)
