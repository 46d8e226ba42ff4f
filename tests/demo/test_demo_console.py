"""``pmpo-verl demo`` end to end: a short console (verl's output goes to train.log), its own Ray even where a
cluster is recorded, and no transfer_queue thread warning."""

import os
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

import pytest

SCRIPT = os.path.join(sysconfig.get_path("scripts"), "pmpo-verl")
MAX_CONSOLE_LINES = 60  # issue 16: was 18,857 lines for 30 steps; "well under 300"


@pytest.mark.slow
def test_one_step_demo_console_is_short_and_ignores_a_recorded_ray_cluster(tmp_path, tiny_model_dir, cpu_env):
    # a cluster recorded the two ways ray.init() finds one (RAY_ADDRESS, and Ray's temp dir as `ray start` leaves
    # it); nothing listens there. A short temp dir: Ray's socket paths must stay under 107 characters.
    ray_tmp = tempfile.mkdtemp(prefix="pmpo-ray-", dir="/tmp")
    try:
        os.makedirs(os.path.join(ray_tmp, "ray"))
        Path(ray_tmp, "ray", "ray_current_cluster").write_text("127.0.0.1:1")
        env = {**cpu_env, "RAY_ADDRESS": "127.0.0.1:1", "RAY_TMPDIR": ray_tmp}
        env.pop("TQ_NUM_THREADS", None)
        out = tmp_path / "demo"
        proc = subprocess.run([SCRIPT, "demo", "--steps", "1", "--model", tiny_model_dir, "--val-samples", "1",
                               "--out", str(out)], env=env, capture_output=True, text=True, timeout=900)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    console = (proc.stdout + proc.stderr).splitlines()
    log = (out / "train.log").read_text(errors="replace") if (out / "train.log").exists() else ""
    assert proc.returncode == 0, "\n".join(console[-40:]) + log[-3000:]
    assert len(console) <= MAX_CONSOLE_LINES, "\n".join(console)
    assert [line for line in console if line.startswith("[pmpo] step 1/1  reward ")], "\n".join(console)
    assert "num_cpus and num_gpus must not be provided" not in log
    assert "target_num_threads" not in log  # TQ_NUM_THREADS fits the cores
    assert "ray init kwargs" in log and len(log.splitlines()) > len(console)  # verl's full output is in the file
