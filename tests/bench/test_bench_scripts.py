"""The prepared device call, scripts/gpu_check.sh, as a CPU dry run on a tiny problem: every step exits 0,
the loss benchmark's self-checks pass (inline references == verl's registry, exact memory tracker,
pmpo_verl.algo verl-free), PMPO's endpoints reproduce vanilla and geo_mean on the benchmark tensors, and
the profile reports vanilla and PMPO. Timings are not asserted (benchmarks print, tests check)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_check_dry_run_on_cpu(tmp_path):
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "OUT": str(tmp_path),
        "DEVICE": "cpu",
        "PROFILE_SIZE": "4x64",
        "SIZES": "4x64",
    }
    proc = subprocess.run(["bash", "scripts/gpu_check.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert re.findall(r"^== (\w+): exit (\d+)$", log, re.MULTILINE) == [
        ("profile_compiled", "0"),
        ("bench_loss", "0"),
        ("profile_cudagraphs", "0"),
        ("profile_eager", "0"),
    ], log[-3000:]
    assert "torch" in (tmp_path / "gpu.txt").read_text()

    bench = (tmp_path / "bench_loss.txt").read_text()
    checks = [line for line in bench.splitlines() if line.startswith("self-check:")]
    assert len(checks) == 4 and all(line.endswith(": OK") for line in checks), checks
    number = r"([\d.e+-]+)"
    same = re.search(rf"PMPO p=1 vs vanilla {number} / {number}; PMPO p=0 vs geo_mean {number} / {number}", bench)
    assert same, bench[-2000:]
    assert max(float(v) for v in same.groups()) < 1e-5
    assert "| 4x64 | float32 | PMPO adaptive (newton) |" in (tmp_path / "bench_loss.md").read_text()

    for part in ("profile_compiled", "profile_eager", "profile_cudagraphs"):
        out = (tmp_path / f"{part}.txt").read_text()
        ops = dict(re.findall(r"^(vanilla|PMPO full call)\b.*?(\d+) ATen op events per call", out, re.MULTILINE))
        assert set(ops) == {"vanilla", "PMPO full call"} and all(int(v) > 0 for v in ops.values()), out
        for label in ("vanilla fwd + metrics + bwd:", "full call (objective + metrics + backward):", "statistics",
                      "sequence loss"):
            assert re.search(re.escape(label) + r".*\d+\.\d{3} ms", out), (part, label)
