"""End to end: PMPO's metrics from verl's real trainer with 2 data-parallel trainer ranks and dynamic
batching (several uneven micro-batches per rank) on the CPU platform satisfy their documented definitions.
Exactness against brute force under the same reduction is tests/plugin/test_metrics_exact.py; this checks
that verl's real pipeline (all-gather over 2 ranks, ``aggregate_dp``, ``reduce_metrics``) accepts the
per-row values and that the logged numbers are consistent."""

import math
import re
from pathlib import Path

import pytest

from pmpo_verl.demo import report
from pmpo_verl.demo.options import DemoOptions, TrainRun
from pmpo_verl.demo.runner import run_training
from pmpo_verl.demo.task import write_parquet
from pmpo_verl.metric_reading import derived
from pmpo_verl.metrics import METRIC_KEYS

P = "actor/pmpo/"


@pytest.mark.slow
def test_two_ranks_dynamic_batching_metrics_are_consistent(tmp_path, warm_model):
    data = write_parquet(str(tmp_path / "data"), n_train=64, n_val=16, seed=0)
    run = TrainRun(model_path=warm_model, train_file=data["train"], val_file=data["val"],
                   out_dir=str(tmp_path / "run"))
    opts = DemoOptions(
        steps=2, test_freq=-1, save_freq=-1, val_before_train=False, batch_size=8, mini_batch_size=4,
        ppo_epochs=1,
        clip_ratio=0.2, val_samples=1,
        extra=[
            "trainer.n_gpus_per_node=2",  # 2 trainer ranks (gloo), 16 rows per mini-batch: 8 per rank
            "++ray_kwargs.ray_init.num_gpus=2",
            "actor_rollout_ref.actor.use_dynamic_bsz=True",
            # rows of about 100 tokens (prompt + response), 8 per rank: about 3 micro-batches of 2-3 rows per rank
            "actor_rollout_ref.actor.ppo_max_token_len_per_gpu=320",
        ],
    )
    res = run_training(opts, run, timeout_s=420)
    log = Path(res.log_path).read_text(errors="replace")
    assert res.returncode == 0, log[-4000:]
    train = [r for r in report.read_verl_log(run.verl_log) if report.PMPO_MARKER in r]
    assert [r["step"] for r in train] == [1, 2]
    for r in train:
        assert all(math.isfinite(float(r[k])) for k in METRIC_KEYS), {k: r.get(k) for k in METRIC_KEYS}
        shares = [r[P + k] for k in ("active_frac", "solved_frac", "p_below1_frac", "p0_frac", "clip_saturated_frac")]
        assert all(0.0 <= s <= 1.0 for s in shares), shares
        assert r[P + "p0_frac"] <= r[P + "p_below1_frac"] <= r[P + "solved_frac"] <= r[P + "active_frac"]
        assert r[P + "clip_saturated_frac"] <= r[P + "active_frac"]
        # a share of rows: 8 prompts x 4 samples = 32 rows per step in 2 mini-batches of 16 (ppo_epochs 1),
        # so each share is a multiple of 1/32
        for s in shares:
            assert abs(s * 32 - round(s * 32)) < 1e-9, s
        assert r[P + "nonfinite_tokens"] == 0.0
        assert 0.0 <= r["actor/pg_clipfrac_lower"] <= r["actor/pg_clipfrac"] <= 1.0
        assert math.isfinite(r["actor/ppo_kl"])
        d = derived(r)
        assert 0.0 <= d["clip_frac_mean"] <= 1.0 and d["ratio_mean"] > 0.0
        if r[P + "solved_frac"] > 0:
            assert 0.0 <= d["p_mean"] <= 1.0 and 0.0 < d["e1_norm_mean"] <= d["ess_norm_mean"] <= 1.0 + 1e-12
            assert 0.0 <= d["p0_share"] <= d["p_below1_share"] <= 1.0
            # p < 1 only where the target ESS lies above E1: the mean p is below 1 exactly when some p < 0.99 or
            # some p in [0.99, 1)
            assert d["p_mean"] <= 1.0 - 0.01 * r[P + "p_below1_frac"] / r[P + "solved_frac"] + 1e-12
        else:
            assert r[P + "solved_p_per_row"] == 0.0 and "p_mean" not in d
    # the second update of a step is off-policy: some trajectory was solved in the run
    assert any(r[P + "solved_frac"] > 0 for r in train)
    # verl really ran 2 trainer ranks (one Ray WorkerDict process each)
    assert len(set(re.findall(r"WorkerDict pid=(\d+)", log))) == 2
