"""PMPO's endpoints against verl 0.9.1's own losses on the same tensors (values and gradients), and
aggregation invariance under micro-batch / data-parallel splits."""


import pytest
import torch
from verl.trainer.ppo.core_algos import get_policy_loss_fn
from verl.utils.metric import Metric

import pmpo_verl.register  # noqa: F401

PMPO = get_policy_loss_fn("pmpo")


def run(loss_fn, batch, config, log_prob=None, rollout_is_weights=None):
    log_prob = batch.fresh_log_prob() if log_prob is None else log_prob
    loss, metrics = loss_fn(
        batch.old_log_prob, log_prob, batch.advantages, batch.mask, "seq-mean-token-mean", config, rollout_is_weights
    )
    (grad,) = torch.autograd.grad(loss, log_prob)
    # PMPO's metrics are per-row Metric objects; their mean is the call's value (verl's own losses: floats)
    metrics = {k: float(v.aggregate()) if isinstance(v, Metric) else v for k, v in metrics.items()}
    return loss.detach(), grad, metrics


def set_batch_info(config, batch_size, n_tokens, dp_size=1):
    config.global_batch_info.update(
        dp_size=dp_size, batch_num_tokens=n_tokens, global_batch_size=batch_size, loss_scale_factor=None
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("eps", [0.4, 0.2])
def test_fixed_p1_equals_vanilla(batch_factory, make_actor_config, dtype, eps):
    batch = batch_factory(16, 96, std=0.3, seed=1, dtype=dtype)
    vanilla_cfg = make_actor_config(loss_mode="vanilla", eps=eps, ratio_band=True)
    pmpo_cfg = make_actor_config(eps=eps, p_mode="fixed", p=1.0)
    want_loss, want_grad, want_metrics = run(get_policy_loss_fn("vanilla"), batch, vanilla_cfg)
    got_loss, got_grad, got_metrics = run(PMPO, batch, pmpo_cfg)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=2e-5, atol=1e-6)
    torch.testing.assert_close(got_loss, want_loss, **tol)
    torch.testing.assert_close(got_grad, want_grad, **tol)
    assert got_metrics["actor/pg_clipfrac"] == pytest.approx(want_metrics["actor/pg_clipfrac"], abs=1e-6)
    assert got_metrics["actor/pg_clipfrac"] > 0  # the clip was exercised
    assert got_metrics["actor/ppo_kl"] == pytest.approx(want_metrics["actor/ppo_kl"], rel=1e-5)


@pytest.mark.parametrize("p", [0.0, 1e-6])
def test_fixed_p0_equals_geo_mean(batch_factory, make_actor_config, p):
    batch = batch_factory(16, 96, std=0.3, seed=2)
    geo_cfg = make_actor_config(loss_mode="geo_mean")
    pmpo_cfg = make_actor_config(p_mode="fixed", p=p)
    set_batch_info(pmpo_cfg, batch_size=16, n_tokens=int(batch.mask.sum()))
    want_loss, want_grad, want_metrics = run(get_policy_loss_fn("geo_mean"), batch, geo_cfg)
    got_loss, got_grad, _ = run(PMPO, batch, pmpo_cfg)
    tol = dict(rtol=1e-10, atol=1e-12) if p == 0 else dict(rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(got_loss, want_loss, **tol)
    torch.testing.assert_close(got_grad, want_grad, **tol)


def test_rollout_is_weights_follow_geo_mean_convention(batch_factory, make_actor_config):
    batch = batch_factory(12, 40, seed=3)
    weights = torch.exp(torch.randn(12, 40, dtype=torch.float64) * 0.1) * batch.mask + (~batch.mask)
    geo_cfg = make_actor_config(loss_mode="geo_mean")
    pmpo_cfg = make_actor_config(p_mode="fixed", p=0.0)
    set_batch_info(pmpo_cfg, batch_size=12, n_tokens=int(batch.mask.sum()))
    want = run(get_policy_loss_fn("geo_mean"), batch, geo_cfg, rollout_is_weights=weights)
    got = run(PMPO, batch, pmpo_cfg, rollout_is_weights=weights)
    torch.testing.assert_close(got[0], want[0], rtol=1e-7, atol=1e-9)
    torch.testing.assert_close(got[1], want[1], rtol=1e-7, atol=1e-9)
    unweighted = run(PMPO, batch, pmpo_cfg)
    assert not torch.allclose(unweighted[0], got[0])


def split_sum(batch, config, n_micro, dp_size=1):
    """Sum of the micro-batch losses and gradients as verl's engine accumulates them."""
    bs = batch.mask.shape[0]
    log_prob = batch.fresh_log_prob()
    total = torch.zeros((), dtype=log_prob.dtype)
    set_batch_info(config, batch_size=bs, n_tokens=int(batch.mask.sum()), dp_size=dp_size)
    for idx in torch.arange(bs).chunk(n_micro):
        loss, _ = PMPO(
            batch.old_log_prob[idx], log_prob[idx], batch.advantages[idx], batch.mask[idx], "token-mean", config
        )
        loss.backward()
        total = total + loss.detach()
    return total, log_prob.grad


@pytest.mark.parametrize(
    "knobs", [dict(), dict(p_mode="fixed", p=0.0), dict(solver="bisection", clip_mode="two_sided")]
)
def test_micro_batch_split_invariance(batch_factory, make_actor_config, knobs):
    batch = batch_factory(16, 80, std=0.3, seed=4)
    batch.mask[3] = False  # an empty response in the middle
    results = [split_sum(batch, make_actor_config(**knobs), n) for n in (1, 2, 4, 16)]
    for loss, grad in results[1:]:
        torch.testing.assert_close(loss, results[0][0], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(grad, results[0][1], rtol=1e-12, atol=1e-14)


def test_dp_scaling(batch_factory, make_actor_config):
    """Each of D ranks scales by D so that DP gradient averaging gives the global-batch mean."""
    batch = batch_factory(8, 50, seed=5)
    loss1, grad1 = split_sum(batch, make_actor_config(), 1, dp_size=1)
    loss2, grad2 = split_sum(batch, make_actor_config(), 1, dp_size=2)
    torch.testing.assert_close(loss2, 2 * loss1)
    torch.testing.assert_close(grad2, 2 * grad1)


def test_loss_is_global_batch_mean_of_sequence_losses(batch_factory, make_actor_config):
    from pmpo_verl.algo import PMPOSettings, pmpo_objective, sequence_advantage

    batch = batch_factory(10, 30, seed=6)
    cfg = make_actor_config()
    set_batch_info(cfg, batch_size=40, n_tokens=999)  # this micro-batch is a quarter of the mini-batch
    loss, _, _ = run(PMPO, batch, cfg)
    out = pmpo_objective(
        batch.log_prob.detach() - batch.old_log_prob,
        sequence_advantage(batch.advantages, batch.mask),
        batch.mask,
        PMPOSettings(),
    )
    assert loss.item() == pytest.approx(out.seq_loss.sum().item() / 40, rel=1e-12)


def test_clip_bounds_are_log_space_and_fall_back_to_clip_ratio(batch_factory, make_actor_config):
    from verl.workers.config.actor import ActorConfig

    from pmpo_verl.config import PMPOPolicyLossConfig

    batch = batch_factory(8, 60, std=0.5, seed=8)
    narrow = run(PMPO, batch, make_actor_config(eps=0.1))[2]["actor/pg_clipfrac"]
    wide = run(PMPO, batch, make_actor_config(eps=0.8))[2]["actor/pg_clipfrac"]
    assert narrow > wide > 0
    lr = (batch.log_prob - batch.old_log_prob).detach()
    adv = batch.advantages.sum(-1)
    over = ((lr > 0.1) & (adv > 0).unsqueeze(-1)) | ((lr < -0.1) & (adv < 0).unsqueeze(-1))
    assert narrow == pytest.approx((over & batch.mask).sum().item() / batch.mask.sum().item())
    fallback = ActorConfig(
        strategy="fsdp", rollout_n=1, ppo_micro_batch_size_per_gpu=1, clip_ratio=0.1, clip_ratio_low=None,
        clip_ratio_high=None, policy_loss=PMPOPolicyLossConfig(),
    )
    assert run(PMPO, batch, fallback)[2]["actor/pg_clipfrac"] == narrow
