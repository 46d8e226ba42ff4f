"""PMPO's metrics are exact under verl 0.9.1's own reduction (issue 13).

The pipeline is verl's: ``ppo_loss`` per micro-batch (``Metric.from_dict(..., MEAN)``), the engine's merge
over micro-batches (``append_to_dict``), the DP all-gather and ``Metric.aggregate_dp`` of
``train_mini_batch``, and the trainer's ``reduce_metrics`` over mini-batches; micro-batches are uneven
(verl's ``rearrange_micro_batches`` and hand-picked splits) and there are 2 simulated DP ranks. Every key is
compared with the statistic computed directly on the trajectories in float64.
"""

from __future__ import annotations

import math
from itertools import chain

import numpy as np
import pytest
import torch
from tensordict import TensorDict
from verl.trainer.ppo.core_algos import get_policy_loss_fn
from verl.utils import tensordict_utils as tu
from verl.utils.metric import AggregationType, Metric, reduce_metrics
from verl.utils.py_functional import append_to_dict, rename_dict
from verl.utils.seqlen_balancing import rearrange_micro_batches
from verl.workers.utils.losses import ppo_loss

import pmpo_verl.register  # noqa: F401
from pmpo_verl import metric_reading as reading
from pmpo_verl import metrics as pm
from pmpo_verl.algo import PMPOSettings, pmpo_objective, sequence_advantage
from pmpo_verl.algo.objective import LOG_RATIO_CLAMP
from pmpo_verl.loss import compute_policy_loss_pmpo

EPS = 0.2
CLIP_SAT = 0.25
PMPO_KEYS = {m.key for m in pm.METRICS}


# --------------------------------------------------------------------------------------------------------
# Trajectories
# --------------------------------------------------------------------------------------------------------


def make_minibatch(seed: int, rows: int = 16, length: int = 24, nonfinite: bool = True):
    """``rows`` trajectories with everything the metrics must handle: a zero-advantage group of 4,
    on-policy (degenerate) rows, a length-1 row, an empty row (verl's padding rows look like this), heavy
    clipping (log-space clip 0.2 against log-ratio std 0.3), and non-finite tokens (a NaN log-prob, a -inf
    log-prob)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(3, length + 1, (rows,), generator=g)
    lengths[5] = 1
    lengths[9] = 0  # empty row
    mask = torch.arange(length) < lengths.unsqueeze(1)
    old = -torch.rand(rows, length, generator=g, dtype=torch.float64) * 3 - 0.05
    std = torch.rand(rows, 1, generator=g, dtype=torch.float64) * 0.3  # some rows barely clipped, some a lot
    new = old + torch.randn(rows, length, generator=g, dtype=torch.float64) * std
    new[2] = old[2]  # on-policy: degenerate
    new[11] = old[11]
    adv_row = torch.randn(rows, generator=g, dtype=torch.float64)
    adv_row[12:16] = 0.0  # one whole group with zero advantage
    adv = adv_row.unsqueeze(1) * mask
    old = torch.where(mask, old, 0.0)
    new = torch.where(mask, new, 0.0)
    if nonfinite:  # non-finite tokens: rows 3 and 7 are excluded from the row statistics
        new[3, 1] = float("nan")
        new[7, 0] = float("-inf")
    return old, new, adv, mask


def brute_force(minibatches, settings):
    """Every metric's intended value straight from the trajectories (float64, numpy), and the derived
    conditional means over the step's rows."""
    per_row = {k: [] for k in ("active", "solved", "p", "ess", "target", "e1", "clip", "ratio", "sat")}
    token_stats, nonfinite, residual_sums = [], [], []
    for old, new, adv, mask in minibatches:
        log_ratio = new - old
        seq_adv = sequence_advantage(adv, mask)
        out = pmpo_objective(log_ratio.clone(), seq_adv, mask, settings)
        finite = (~(mask & ~torch.isfinite(log_ratio))).all(-1).numpy()
        n = mask.sum(-1).numpy()
        a = seq_adv.numpy()
        active = (n > 0) & (a != 0) & finite
        solved = active & ~out.degenerate.numpy()
        per_row["active"] += list(active)
        per_row["solved"] += list(solved)
        per_row["p"] += list(out.p.numpy())
        per_row["ess"] += list(out.ess_norm.numpy())
        per_row["target"] += list(out.target_ess_norm.numpy())
        per_row["e1"] += list(out.e1_norm.numpy())
        per_row["clip"] += list(out.clip_frac.numpy())
        per_row["ratio"] += list(np.exp(out.log_ratio_mean.detach().numpy()))
        per_row["sat"] += list(active & (out.clip_frac.numpy() >= settings.clip_saturation))
        # tokens, by hand: the sign-aware clip on the clamped log-ratio
        lr = torch.where(mask, log_ratio, 0.0).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
        lr = torch.nan_to_num(lr, nan=0.0).numpy()
        m = mask.numpy()
        hit = m & (((a > 0)[:, None] & (lr > settings.eps_high)) | ((a < 0)[:, None] & (lr < -settings.eps_low)))
        tokens = m.sum()
        token_stats.append((hit.sum() / tokens, (hit & (a < 0)[:, None]).sum() / tokens, -(lr * m).sum() / tokens))
        nonfinite.append(int((mask & ~torch.isfinite(log_ratio)).sum()))
        residual_sums.append(float(out.solver_residual[torch.as_tensor(finite)].sum()))
    r = {k: np.asarray(v) for k, v in per_row.items()}
    s, act = r["solved"], r["active"]
    want = {
        "actor/pmpo/active_frac": act.mean(),
        "actor/pmpo/solved_frac": s.mean(),
        "actor/pmpo/p_below1_frac": (s & (r["p"] < 0.99)).mean(),
        "actor/pmpo/p0_frac": (s & (r["p"] < 0.01)).mean(),
        "actor/pmpo/clip_saturated_frac": r["sat"].mean(),
        "actor/pmpo/solved_p_per_row": r["p"][s].sum() / len(s),
        "actor/pmpo/solved_ess_norm_per_row": r["ess"][s].sum() / len(s),
        "actor/pmpo/solved_target_ess_norm_per_row": r["target"][s].sum() / len(s),
        "actor/pmpo/solved_e1_norm_per_row": r["e1"][s].sum() / len(s),
        "actor/pmpo/active_clip_frac_per_row": r["clip"][act].sum() / len(s),
        "actor/pmpo/active_ratio_per_row": r["ratio"][act].sum() / len(s),
        "actor/pmpo/nonfinite_tokens": np.mean(nonfinite),
        "actor/pmpo/solver_residual_max": max(residual_sums),
        "actor/pg_clipfrac": np.mean([t[0] for t in token_stats]),
        "actor/pg_clipfrac_lower": np.mean([t[1] for t in token_stats]),
        "actor/ppo_kl": np.mean([t[2] for t in token_stats]),
    }
    want_derived = {
        "p_mean": r["p"][s].mean(),
        "ess_norm_mean": r["ess"][s].mean(),
        "target_ess_norm_mean": r["target"][s].mean(),
        "e1_norm_mean": r["e1"][s].mean(),
        "p_below1_share": (r["p"][s] < 0.99).mean(),
        "p0_share": (r["p"][s] < 0.01).mean(),
        "clip_frac_mean": r["clip"][act].mean(),
        "ratio_mean": r["ratio"][act].mean(),
        "solved_share": s.sum() / act.sum(),
        "clip_saturated_share": r["sat"].sum() / act.sum(),
    }
    return want, want_derived


# --------------------------------------------------------------------------------------------------------
# verl's pipeline
# --------------------------------------------------------------------------------------------------------


def engine_microbatch(old, new, adv, mask, rows, mb_rows, mb_tokens, dp_size, prompt_len=3):
    """The TensorDict ``ppo_loss`` receives for the given rows, and the flat model output (log-probs of a
    padding-free forward pass, one value per prompt+response token, shifted by one)."""
    idx = torch.as_tensor(rows, dtype=torch.long)
    old, new, adv, mask = old[idx], new[idx], adv[idx], mask[idx]
    bs, width = mask.shape
    attention = torch.cat([torch.ones(bs, prompt_len, dtype=torch.long), mask.long()], dim=1)
    flat = torch.zeros(int(attention.sum()), dtype=new.dtype)
    start = 0
    for i in range(bs):
        n = int(mask[i].sum())
        flat[start + prompt_len - 1 : start + prompt_len - 1 + n] = new[i, :n]
        start += prompt_len + n
    td = TensorDict(
        {
            "prompts": torch.ones(bs, prompt_len, dtype=torch.long),
            "responses": torch.ones(bs, width, dtype=torch.long),
            "attention_mask": attention,
            "response_mask": mask.long(),
            "old_log_probs": old,
            "advantages": adv,
        },
        batch_size=[bs],
    )
    tu.assign_non_tensor(td, dp_size=dp_size, batch_num_tokens=mb_tokens, global_batch_size=mb_rows)
    return td, {"log_probs": flat.requires_grad_(True)}


def verl_splits(mask, rows, max_token_len, min_num_micro_batch=None):
    """Micro-batches exactly as verl's dynamic batching makes them (``rearrange_micro_batches``)."""
    n = len(rows)
    attention = torch.cat([torch.ones(n, 3, dtype=torch.long), mask[rows].long()], dim=1)
    td = TensorDict({"input_ids": torch.ones_like(attention), "attention_mask": attention}, batch_size=[n])
    _, idx = rearrange_micro_batches(td, max_token_len=max_token_len, min_num_micro_batch=min_num_micro_batch)
    return [[rows[i] for i in part] for part in idx]


def uneven(total, parts):
    """``total`` rows in ``parts`` non-empty micro-batches of unequal sizes (1, 2, 1, 2, ... plus the rest)."""
    sizes = [1 + (i % 2) for i in range(parts)]
    assert sum(sizes) <= total
    sizes[-1] += total - sum(sizes)
    return sizes


def run_step(minibatches, splits_for, config, dp_size):
    """The step's actor metrics as verl 0.9.1 logs them; ``splits_for(mb, rank)`` lists the rank's
    micro-batches (row indices into the mini-batch)."""
    step = {}
    for mb_index, (old, new, adv, mask) in enumerate(minibatches):
        rows_total, tokens_total = mask.shape[0], int(mask.sum())
        per_rank = []
        for rank in range(dp_size):
            merged = {}  # forward_backward_batch -> postprocess_batch_func
            for rows in splits_for(mb_index, rank):
                td, model_output = engine_microbatch(old, new, adv, mask, rows, rows_total, tokens_total, dp_size)
                _, metrics = ppo_loss(config, model_output, td)
                append_to_dict(merged, metrics)
            per_rank.append(merged)
        gathered = {k: [r[k] for r in per_rank] for k in per_rank[0]}  # allgather_dict_into_dict
        output = {  # train_mini_batch
            k: Metric.aggregate_dp(v) if isinstance(v[0], Metric) else list(chain.from_iterable(v))
            for k, v in gathered.items()
        }
        append_to_dict(step, output)
    return reduce_metrics(rename_dict(step, "actor/"))  # the trainer's _update_actor


def assert_metrics(got, want, want_derived):
    assert PMPO_KEYS <= set(got)
    for key in PMPO_KEYS:
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key
    got_derived = reading.derived(got)
    assert set(got_derived) == set(want_derived)
    for key, value in want_derived.items():
        assert got_derived[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


# --------------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------------


def test_exact_over_dp_ranks_uneven_and_dynamic_micro_batches(make_actor_config):
    """2 mini-batches of 16 rows, 2 DP ranks of 8 rows each; rank 0 splits as verl's dynamic batching
    does, rank 1 by hand, with the same number of micro-batches per rank (verl syncs the count)."""
    settings = PMPOSettings(eps_low=EPS, eps_high=EPS, clip_saturation=CLIP_SAT)
    minibatches = [make_minibatch(seed) for seed in (1, 2)]
    splits = {}
    for mb, (_, _, _, mask) in enumerate(minibatches):
        rank0 = verl_splits(mask, list(range(8)), max_token_len=40)
        count = len(rank0)
        assert count >= 3 and len({len(p) for p in rank0}) > 1, rank0  # several uneven micro-batches
        starts = np.cumsum([0] + uneven(8, count))  # rank 1: uneven sizes by hand
        splits[mb] = [rank0, [list(range(8 + a, 8 + b)) for a, b in zip(starts[:-1], starts[1:])]]
    config = make_actor_config(eps=EPS, clip_saturation=CLIP_SAT)
    got = run_step(minibatches, lambda mb, rank: splits[mb][rank], config, dp_size=2)
    want, want_derived = brute_force(minibatches, settings)
    assert want["actor/pmpo/nonfinite_tokens"] == 2.0  # one NaN and one -inf log-prob per mini-batch
    assert 0 < want["actor/pmpo/solved_frac"] < want["actor/pmpo/active_frac"] < 1
    assert 0 < want["actor/pmpo/p0_frac"] < want["actor/pmpo/p_below1_frac"] < want["actor/pmpo/solved_frac"]
    assert_metrics(got, want, want_derived)
    assert all(math.isfinite(got[k]) for k in PMPO_KEYS)


@pytest.mark.parametrize("split", [[1, 3, 2, 5, 1, 4], [16], [1] * 16])
def test_exact_for_the_issue_example_split(make_actor_config, split):
    """Issue 13's example: 16 trajectories (4 with zero advantage) in micro-batches [1, 3, 2, 5, 1, 4] on
    one rank. The previous metrics were per-micro-batch values averaged with equal weight: on these
    trajectories they logged p_mean 0.695 (true mean over the solved rows: 0.518) and clip_frac_mean
    0.072 (true: 0.121)."""
    settings = PMPOSettings(eps_low=EPS, eps_high=EPS, clip_saturation=CLIP_SAT)
    minibatch = make_minibatch(2, nonfinite=False)
    starts = np.cumsum([0] + split)
    parts = [list(range(a, b)) for a, b in zip(starts[:-1], starts[1:])]
    got = run_step([minibatch], lambda mb, rank: parts, make_actor_config(eps=EPS, clip_saturation=CLIP_SAT), dp_size=1)
    assert_metrics(got, *brute_force([minibatch], settings))


def test_every_call_returns_one_value_per_row_for_every_key(batch_factory, make_actor_config):
    config = make_actor_config()
    batch = batch_factory(5, 12, seed=40)
    for variant in ("normal", "on_policy", "zero_adv"):
        log_prob = batch.old_log_prob.clone().requires_grad_(True) if variant == "on_policy" else batch.fresh_log_prob()
        adv = torch.zeros_like(batch.advantages) if variant == "zero_adv" else batch.advantages
        _, metrics = compute_policy_loss_pmpo(batch.old_log_prob, log_prob, adv, batch.mask, config=config)
        assert set(metrics) == PMPO_KEYS
        for key, metric in metrics.items():
            assert isinstance(metric, Metric) and metric.aggregation == AggregationType.MEAN, key
            assert len(metric.values) == 5 and all(isinstance(v, float) and math.isfinite(v) for v in metric.values), (
                key
            )
        if variant != "normal":
            assert metrics["actor/pmpo/solved_frac"].aggregate() == 0.0
            assert "p_mean" not in reading.derived(
                {k: m.aggregate() for k, m in metrics.items()}
            )  # undefined, not degenerate_p


def test_empty_micro_batch_gives_zero_loss_and_no_values(make_actor_config):
    """An empty micro-batch (e.g. verl's pipeline-parallel padding) is a zero loss with a gradient path and
    zero values per key; merged with a real micro-batch, every key stays exact and finite."""
    config = make_actor_config(eps=EPS)
    for info in ({}, {"dp_size": 2, "batch_num_tokens": 100, "global_batch_size": 16, "loss_scale_factor": None}):
        config.global_batch_info.clear()
        config.global_batch_info.update(info)
        log_prob = torch.zeros(0, 7, dtype=torch.float64, requires_grad=True)
        loss, metrics = compute_policy_loss_pmpo(
            torch.zeros(0, 7, dtype=torch.float64), log_prob, torch.zeros(0, 7, dtype=torch.float64),
            torch.zeros(0, 7, dtype=torch.bool), config=config,
        )
        assert loss.item() == 0.0
        loss.backward()
        assert set(metrics) == PMPO_KEYS and all(m.values == [] for m in metrics.values())
    old, new, adv, mask = make_minibatch(4)
    config.global_batch_info.clear()
    config.global_batch_info.update(
        dp_size=1, batch_num_tokens=int(mask.sum()), global_batch_size=16, loss_scale_factor=None
    )
    merged = {}
    for rows in ([], list(range(16)), []):
        idx = torch.as_tensor(rows, dtype=torch.long)
        _, metrics = compute_policy_loss_pmpo(
            old[idx], new[idx].requires_grad_(True), adv[idx], mask[idx], config=config
        )
        append_to_dict(merged, Metric.from_dict(metrics, aggregation=AggregationType.MEAN))
    got = {k: Metric.aggregate_dp([v]) for k, v in merged.items()}
    want, _ = brute_force([(old, new, adv, mask)], PMPOSettings(eps_low=EPS, eps_high=EPS))
    for key in PMPO_KEYS:
        assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key


def test_nonfinite_tokens_are_counted_and_metrics_stay_finite(batch_factory, make_actor_config):
    """A -inf log-prob: clamped as verl's ``vanilla`` clamps (finite loss, and ppo_kl equal to vanilla's);
    a NaN log-prob: a NaN loss as with verl's own losses, but counted and kept out of the metrics."""
    batch = batch_factory(6, 16, std=0.3, seed=41)
    config = make_actor_config(eps=EPS)
    new = batch.log_prob.detach().clone()
    new[1, 0] = float("-inf")
    loss, metrics = compute_policy_loss_pmpo(
        batch.old_log_prob, new.clone().requires_grad_(True), batch.advantages, batch.mask, config=config
    )
    values = {k: m.aggregate() for k, m in metrics.items()}
    assert math.isfinite(loss.item())
    log_prob = new.clone().requires_grad_(True)
    loss, _ = compute_policy_loss_pmpo(batch.old_log_prob, log_prob, batch.advantages, batch.mask, config=config)
    loss.backward()
    assert torch.isfinite(log_prob.grad).all() and log_prob.grad[1, 0] == 0  # clamped: no gradient there
    assert values["actor/pmpo/nonfinite_tokens"] == 1.0
    assert all(math.isfinite(v) for v in values.values()), values
    vanilla = get_policy_loss_fn("vanilla")
    _, want = vanilla(batch.old_log_prob, new.clone().requires_grad_(True), batch.advantages, batch.mask, "token-mean",
                      make_actor_config(loss_mode="vanilla", eps=EPS, ratio_band=True))
    assert values["actor/ppo_kl"] == pytest.approx(want["actor/ppo_kl"], rel=1e-8)
    assert values["actor/pmpo/active_frac"] == pytest.approx(5 / 6)  # row 1 is left out of the row statistics

    new[2, 0] = float("nan")
    advantages = batch.advantages.clone()
    advantages[4, 0] = float("inf")
    loss, metrics = compute_policy_loss_pmpo(
        batch.old_log_prob, new.clone().requires_grad_(True), advantages, batch.mask, config=config
    )
    values = {k: m.aggregate() for k, m in metrics.items()}
    assert not math.isfinite(loss.item())  # never silent: the step's grad norm is not finite either
    assert values["actor/pmpo/nonfinite_tokens"] == 3.0
    assert all(math.isfinite(v) for v in values.values()), values
    assert values["actor/pmpo/active_frac"] == pytest.approx(3 / 6)


def test_key_names_select_the_intended_reduction():
    """verl reduces a key by its name: ``reduce_metrics`` takes np.max / np.min over mini-batches for
    keys containing "max" / "min", and the V1 trainer's ``MetricsAggregator`` (parameter_sync_step > 1)
    additionally sums keys containing "sum" or "total". Only ``solver_residual_max`` is meant to be a max."""
    from verl.trainer.ppo.v1.utils import MetricsAggregator

    rules = MetricsAggregator()
    for key in PMPO_KEYS:
        lower = key.lower()
        intended_max = key == "actor/pmpo/solver_residual_max"
        assert ("max" in lower) == intended_max, key
        assert "min" not in lower and "sum" not in lower and "total" not in lower, key
        assert rules._get_aggregation_type(key) == ("max" if intended_max else "weighted_avg"), key
    assert reduce_metrics({"actor/pmpo/solver_residual_max": [1.0, 3.0], "actor/pmpo/p0_frac": [1.0, 3.0]}) == {
        "actor/pmpo/solver_residual_max": 3.0, "actor/pmpo/p0_frac": 2.0}
    for name, (num, den) in reading.DERIVED.items():
        assert num in PMPO_KEYS and den in PMPO_KEYS, name


def test_derived_leaves_undefined_values_out():
    record = {"actor/pmpo/solved_p_per_row": 0.0, "actor/pmpo/solved_frac": 0.0,
              "actor/pmpo/active_clip_frac_per_row": 0.01, "actor/pmpo/active_frac": 0.5}
    assert reading.derived(record) == {"clip_frac_mean": 0.02, "solved_share": 0.0}
    assert reading.derived({}) == {}
