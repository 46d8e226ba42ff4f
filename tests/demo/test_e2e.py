"""End to end: verl's real ``main_ppo`` with PMPO through the plugin on CPU (2 steps), then a resume."""

import json
import math
import os
import time
from pathlib import Path

import pytest

from pmpo_verl.demo import report
from pmpo_verl.demo.options import DemoOptions, TrainRun
from pmpo_verl.demo.runner import run_training, session_processes
from pmpo_verl.demo.task import DATA_SOURCE, write_parquet
from pmpo_verl.metrics import METRIC_KEYS


def _assert_no_processes_left(res):
    """Nothing of the run (Ray's GCS, raylet, workers) is left: they all live in the run's session."""
    deadline = time.time() + 10
    while session_processes(res.session_id) and time.time() < deadline:
        time.sleep(0.5)
    assert not session_processes(res.session_id)


@pytest.mark.slow
def test_main_ppo_two_steps_and_resume(tmp_path, warm_model):
    data = write_parquet(str(tmp_path / "data"), n_train=64, n_val=16, seed=0)
    run = TrainRun(model_path=warm_model, train_file=data["train"], val_file=data["val"],
                   out_dir=str(tmp_path / "run"))
    settings = DemoOptions(
        steps=2, test_freq=2, save_freq=2, val_before_train=False, batch_size=8, ppo_epochs=1,
        mini_batch_size=4,  # 2 updates a step: off-policy ratios
        clip_ratio=0.2, val_samples=2,  # the demo's settings: its own clip, sampled validation (mean@2 at T=1)
        # only reward.compute_score knows these kwargs: an incorrect answer scores -0.25 instead of 0
        extra=["+reward.custom_reward_function.reward_kwargs.incorrect_score=-0.25"],
    )
    res = run_training(settings, run, timeout_s=420)
    log_tail = Path(res.log_path).read_text(errors="replace")[-4000:]
    assert res.returncode == 0, log_tail
    _assert_no_processes_left(res)
    records = report.read_verl_log(run.verl_log)
    train = [r for r in records if report.PMPO_MARKER in r]
    assert [r["step"] for r in train] == [1, 2]
    for r in train:
        pmpo = {k: v for k, v in r.items() if k.startswith("actor/pmpo/")}
        assert set(pmpo) == {k for k in METRIC_KEYS if k.startswith("actor/pmpo/")}, sorted(pmpo)
        assert all(math.isfinite(float(v)) for v in pmpo.values()), pmpo
        # the rollout's log-probs are those of the trainer's weights (fp32 on both sides)
        assert r["training/rollout_probs_diff_max"] < 1e-3
        # reward.compute_score's kwargs reached it: scores are in {-0.25, 1}
        assert r["critic/score/min"] >= -0.25 - 1e-6 and r["critic/score/max"] <= 1.0 + 1e-6
    scores = [r[k] for r in train for k in ("critic/score/min", "critic/score/max")]
    assert any(abs(s + 0.25) < 1e-6 for s in scores)
    assert any(r["actor/pmpo/active_frac"] > 0.0 for r in train), "no trajectory had a non-zero advantage"
    assert report.val_acc_key(records) == f"val-core/{DATA_SOURCE}/acc/mean@2"
    assert 0.0 <= records[-1][report.val_acc_key(records)] <= 1.0
    ckpt = os.path.join(run.ckpt_dir, "global_step_2")
    assert os.path.isdir(os.path.join(ckpt, "actor"))

    # resume from the saved checkpoint: the next run starts at step 3
    first_log = run.verl_log + ".first"
    os.replace(run.verl_log, first_log)
    settings.steps, settings.resume, settings.test_freq, settings.save_freq = 3, True, -1, -1
    res = run_training(settings, run, timeout_s=420)
    text = Path(res.log_path).read_text(errors="replace")
    assert res.returncode == 0, text[-4000:]
    _assert_no_processes_left(res)
    resumed = [r for r in report.read_verl_log(run.verl_log) if report.PMPO_MARKER in r]
    assert [r["step"] for r in resumed] == [3]
    assert "global_step_2" in text
    json.dumps(resumed)  # metrics.jsonl-serialisable
