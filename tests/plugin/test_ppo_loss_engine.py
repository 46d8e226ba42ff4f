"""The PMPO loss driven through verl 0.9.1's engine loss ``verl.workers.utils.losses.ppo_loss``
(the function FSDP and Megatron workers call) with a hand-built TensorDict."""

import math

import pytest
import torch
from tensordict import TensorDict
from verl.utils import tensordict_utils as tu
from verl.utils.metric import Metric
from verl.workers.utils.losses import ppo_loss

import pmpo_verl.register  # noqa: F401
from pmpo_verl.loss import compute_policy_loss_pmpo
from pmpo_verl.metrics import METRIC_KEYS


def engine_batch(batch, prompt_lens, global_batch_size, dp_size=1):
    """TensorDict as the engine hands it to ppo_loss, plus flat log-probs laid out like the model output
    of a padding-free forward pass (one value per prompt+response token, shifted by one)."""
    bs, resp_width = batch.mask.shape
    prompt_width = max(prompt_lens)
    resp_lens = batch.mask.sum(-1)
    prompt_mask = torch.arange(prompt_width).flip(0).unsqueeze(0) < torch.tensor(prompt_lens).unsqueeze(1)  # left pad
    attention_mask = torch.cat([prompt_mask, batch.mask], dim=1).long()
    flat = torch.zeros(int(attention_mask.sum()), dtype=batch.log_prob.dtype)
    positions = []
    start = 0
    for i in range(bs):
        first = start + prompt_lens[i] - 1
        positions.append(torch.arange(first, first + int(resp_lens[i])))
        flat[positions[-1]] = batch.log_prob.detach()[i, : int(resp_lens[i])]
        start += prompt_lens[i] + int(resp_lens[i])
    td = TensorDict(
        {
            "prompts": torch.ones(bs, prompt_width, dtype=torch.long),
            "responses": torch.ones(bs, resp_width, dtype=torch.long),
            "attention_mask": attention_mask,
            "response_mask": batch.mask.long(),
            "old_log_probs": batch.old_log_prob,
            "advantages": batch.advantages,
        },
        batch_size=[bs],
    )
    tu.assign_non_tensor(
        td, dp_size=dp_size, batch_num_tokens=int(batch.mask.sum()), global_batch_size=global_batch_size
    )
    return td, flat.requires_grad_(True), torch.cat(positions)


def test_ppo_loss_runs_pmpo_with_global_normalisation(batch_factory, make_actor_config):
    batch = batch_factory(6, 20, std=0.35, seed=31)
    config = make_actor_config()
    td, flat, response_positions = engine_batch(batch, prompt_lens=[3, 5, 2, 4, 1, 6], global_batch_size=24)
    loss, metrics = ppo_loss(config, {"log_probs": flat}, td)
    loss.backward()

    assert config.global_batch_info == {
        "dp_size": 1,
        "batch_num_tokens": int(batch.mask.sum()),
        "global_batch_size": 24,
        "loss_scale_factor": None,
    }
    direct_cfg = make_actor_config()
    direct_cfg.global_batch_info.update(config.global_batch_info)
    log_prob = batch.fresh_log_prob()
    want, _ = compute_policy_loss_pmpo(batch.old_log_prob, log_prob, batch.advantages, batch.mask, config=direct_cfg)
    want.backward()
    torch.testing.assert_close(loss.detach(), want.detach(), rtol=1e-12, atol=1e-14)

    grad = flat.grad
    non_response = torch.ones_like(grad, dtype=torch.bool)
    non_response[response_positions] = False
    assert (grad[non_response] == 0).all()
    torch.testing.assert_close(grad[response_positions], log_prob.grad[batch.mask], rtol=1e-12, atol=1e-14)

    # one value per row for every key (the exact reduction: tests/plugin/test_metrics_exact.py)
    for key in METRIC_KEYS:
        assert isinstance(metrics[key], Metric) and len(metrics[key].values) == 6, key
        value = metrics[key].aggregate()
        assert math.isfinite(value), key
    assert "actor/pg_loss" in metrics
    assert metrics["actor/pmpo/active_clip_frac_per_row"].aggregate() > 0


def test_metrics_keys_are_stable_across_micro_batches(batch_factory, make_actor_config):
    """verl aggregates metrics per key across micro-batches and DP ranks: every call must return the same
    keys, including an on-policy micro-batch (all degenerate) and one with only zero advantages."""
    config = make_actor_config()
    batch = batch_factory(4, 10, seed=32)
    keys = []
    for variant in ("normal", "on_policy", "zero_adv"):
        log_prob = batch.old_log_prob.clone().requires_grad_(True) if variant == "on_policy" else batch.fresh_log_prob()
        adv = torch.zeros_like(batch.advantages) if variant == "zero_adv" else batch.advantages
        _, metrics = compute_policy_loss_pmpo(batch.old_log_prob, log_prob, adv, batch.mask, config=config)
        values = {k: m.aggregate() for k, m in metrics.items()}
        assert all(math.isfinite(v) for v in values.values()), values
        keys.append(sorted(metrics))
        if variant == "on_policy":  # all degenerate: active, none solved, and no placeholder p is logged
            assert values["actor/pmpo/active_frac"] == 1.0 and values["actor/pmpo/solved_frac"] == 0.0
            assert values["actor/pmpo/solved_p_per_row"] == 0.0
    assert keys[0] == keys[1] == keys[2]


def test_stock_policy_loss_config_uses_defaults_and_warns(batch_factory, make_actor_config, caplog):
    from verl.workers.config.actor import ActorConfig, PolicyLossConfig

    import pmpo_verl.loss as loss_module

    batch = batch_factory(4, 12, seed=33)
    stock = ActorConfig(strategy="fsdp", rollout_n=1, ppo_micro_batch_size_per_gpu=1, clip_ratio_low=0.4,
                        clip_ratio_high=0.4, policy_loss=PolicyLossConfig(loss_mode="pmpo"))
    loss_module._warned.clear()
    with caplog.at_level("WARNING", logger="pmpo_verl.loss"):
        got, _ = compute_policy_loss_pmpo(
            batch.old_log_prob, batch.fresh_log_prob(), batch.advantages, batch.mask, config=stock
        )
    assert "PMPOPolicyLossConfig" in caplog.text
    want, _ = compute_policy_loss_pmpo(
        batch.old_log_prob, batch.fresh_log_prob(), batch.advantages, batch.mask, config=make_actor_config()
    )
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="actor config"):
        compute_policy_loss_pmpo(batch.old_log_prob, batch.fresh_log_prob(), batch.advantages, batch.mask, config=None)
