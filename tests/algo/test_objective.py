"""The full PMPO objective: adaptive p against a per-trajectory float64 brute force, the rule's
endpoints, edge cases and property tests for finiteness."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmpo_verl.algo import (
    PMPOSettings,
    log_power_mean,
    pmpo_objective,
    sequence_advantage,
    sign_aware_clip,
)


def brute_force_p(log_ratio: np.ndarray, adv: float, s: PMPOSettings) -> tuple[float, float]:
    """Per-trajectory reference in plain numpy float64: clip, clip fraction, target, 200-step bisection."""
    lr = np.clip(log_ratio, -20, 20)
    clipped = np.minimum(lr, s.eps_high) if adv > 0 else np.maximum(lr, -s.eps_low)
    if s.clip_mode == "active":
        c = np.mean(clipped != lr)
    else:
        c = np.mean((lr > s.eps_high) | (lr < -s.eps_low))
    x = clipped if s.ess_on == "clipped" else lr

    def log_ess(p):
        w = np.exp(p * (x - x.max()))
        w /= w.sum()
        return -math.log(np.sum(w * w))

    n, e1 = len(x), math.exp(log_ess(1.0))
    g = min(max(c / s.clip_saturation, 0.0), 1.0) ** s.target_gamma
    target = e1 + g * (n - e1) if s.target_rule == "interp" else n * (s.target_nu0 + (1 - s.target_nu0) * g)
    target = min(max(target, e1), n)
    if 1 - e1 / n < 1e-6 or n <= 1:
        return s.degenerate_p, c
    if target <= e1:
        return 1.0, c
    if target >= n:
        return 0.0, c
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if log_ess(mid) > math.log(target) else (lo, mid)
    return (lo + hi) / 2, c


CASES = [
    PMPOSettings(),
    PMPOSettings(solver="bisection"),
    PMPOSettings(clip_mode="two_sided", ess_on="raw", clip_saturation=0.4, target_gamma=0.5),
    PMPOSettings(target_rule="normalized", target_nu0=0.9, eps_low=0.3, eps_high=0.5, clip_saturation=0.25),
]


@pytest.mark.parametrize("s", CASES, ids=["default", "bisection", "two_sided_raw", "normalized"])
def test_adaptive_p_matches_brute_force(batch_factory, s):
    batch = batch_factory(40, 150, std=0.3, seed=21, min_len=2)
    lr = batch.log_prob.detach() - batch.old_log_prob
    adv = sequence_advantage(batch.advantages, batch.mask)
    out = pmpo_objective(lr, adv, batch.mask, s)
    ps, cs = [], []
    for i in range(lr.shape[0]):
        p, c = brute_force_p(lr[i][batch.mask[i]].numpy(), adv[i].item(), s)
        ps.append(p)
        cs.append(c)
    np.testing.assert_allclose(out.clip_frac.numpy(), cs, atol=1e-12)
    np.testing.assert_allclose(out.p.numpy(), ps, atol=2e-6)
    assert ((out.p > 0.05) & (out.p < 0.95)).sum() >= 5  # interior p values: the solver really worked


def test_rule_endpoints_clip_fraction_zero_gives_1_and_saturated_gives_0():
    t = 200
    g = torch.Generator().manual_seed(0)
    base = torch.randn(3, t, generator=g, dtype=torch.float64) * 0.1
    base[0] = base[0].clamp(-0.39, 0.39)  # nothing clipped: c = 0
    base[1, :30] = 1.0  # 15% of tokens above eps_high: c >= c_sat = 0.1
    base[2, :10] = 1.0  # 5%: in between
    adv = torch.ones(3, dtype=torch.float64)
    out = pmpo_objective(base, adv, torch.ones(3, t, dtype=torch.bool), PMPOSettings())
    assert out.clip_frac.tolist() == pytest.approx([0.0, 0.15, 0.05])
    assert out.p[0].item() == 1.0 and out.p[1].item() == 0.0 and 0.0 < out.p[2].item() < 1.0
    torch.testing.assert_close(out.target_ess_norm[1], torch.tensor(1.0, dtype=torch.float64))


def test_p_decreases_with_clip_fraction():
    t = 400
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(t, generator=g, dtype=torch.float64) * 0.15
    rows = []
    for k in range(0, 48, 4):  # k tokens pushed above the clip (44 of 400 > c_sat = 10%)
        row = noise.clamp(-0.39, 0.39).clone()
        row[:k] = 0.9
        rows.append(row)
    x = torch.stack(rows)
    out = pmpo_objective(
        x, torch.ones(len(rows), dtype=torch.float64), torch.ones_like(x, dtype=torch.bool), PMPOSettings()
    )
    assert (out.p.diff() <= 1e-12).all() and out.p[0] == 1.0 and out.p[-1] == 0.0


def test_degenerate_empty_single_token_and_zero_advantage_rows():
    x = torch.tensor(
        [[0.0] * 5, [0.3, 0, 0, 0, 0], [0.1, 0.2, -0.1, 0.0, 0.5], [0.2] * 5, [0.1, 0.2, 0.3, 0.4, 0.5]],
        dtype=torch.float64,
    )
    mask = torch.tensor([[0] * 5, [1, 0, 0, 0, 0], [1] * 5, [1] * 5, [1] * 5], dtype=torch.bool)
    adv = torch.tensor([1.0, -1.0, 0.0, 2.0, -1.0], dtype=torch.float64)
    x.requires_grad_(True)
    out = pmpo_objective(x, adv, mask, PMPOSettings(degenerate_p=0.5))
    assert out.active.tolist() == [False, True, False, True, True]
    assert out.degenerate.tolist() == [False, True, False, True, False]
    assert out.seq_loss[0].item() == 0.0 and out.seq_loss[2].item() == 0.0
    assert out.p[:4].tolist() == [0.5, 0.5, 0.5, 0.5]
    assert out.seq_loss[3].item() == pytest.approx(-2.0 * math.exp(0.2))
    out.seq_loss.sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad[0] == 0).all() and (x.grad[2] == 0).all()
    assert (x.grad[1, 1:] == 0).all()


def hand_built_inputs(clamped_unclipped: bool = True):
    """float64 log-ratios with clipped tokens (beyond 0.4 on the clipped side), tokens beyond the +-20
    clamp, padding, a one-token row, an empty row and a zero advantage. Row 1 (A < 0) holds a token at
    +25 that the clamp stops but the clip does not; at p = 1 its e^20 makes finite differences useless,
    so ``clamped_unclipped=False`` puts it on the clipped side instead."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 80, generator=g, dtype=torch.float64) * 0.15
    x[0, :4] = torch.tensor([0.9, -0.8, 25.0, -30.0])
    x[1, :4] = torch.tensor([0.9, -0.8, 25.0 if clamped_unclipped else -25.0, -30.0])
    mask = torch.arange(80) < torch.tensor([[80], [80], [40], [1], [0], [60]])
    adv = torch.tensor([1.5, -0.7, 2.0, -1.0, 1.0, 0.0], dtype=torch.float64)
    return x, adv, mask


@pytest.mark.parametrize("p", [0.0, 1e-6, 0.37, 1.0])
def test_closed_form_backward_passes_gradcheck(p):
    """The loss's hand-written backward (both outputs) against finite differences, with p fixed (the
    adaptive p is a constant to autograd, which finite differences would not respect)."""
    x, adv, mask = hand_built_inputs(clamped_unclipped=False)
    s = PMPOSettings(p_mode="fixed", p=p)

    def f(lr):
        out = pmpo_objective(lr, adv, mask, s)
        return out.seq_loss, out.log_ratio_mean

    assert torch.autograd.gradcheck(f, (x.clone().requires_grad_(True),))


@pytest.mark.parametrize(
    "s", [PMPOSettings(), PMPOSettings(eps_low=0.3, eps_high=0.5, clip_saturation=0.2, target_gamma=0.5)]
)
def test_gradient_equals_autograd_of_the_reference_expression(s):
    """Adaptive p: the gradient equals autograd through clamp, sign-aware clip and log M_p with the same
    (detached) p; clipped tokens, clamped tokens and padding get exactly 0."""
    x, adv, mask = hand_built_inputs()
    lr = x.clone().requires_grad_(True)
    out = pmpo_objective(lr, adv, mask, s)
    (got,) = torch.autograd.grad((out.seq_loss * torch.linspace(0.5, 2.0, 6, dtype=torch.float64)).sum(), lr)
    ref = x.clone().requires_grad_(True)
    a = torch.where(mask.any(-1), adv, 0.0)
    clipped, _ = sign_aware_clip(torch.where(mask, ref, 0.0).clamp(-20, 20), a, s.eps_low, s.eps_high)
    want_loss = -a * log_power_mean(clipped, mask, out.p, s.p_small).exp()
    (want,) = torch.autograd.grad((want_loss * torch.linspace(0.5, 2.0, 6, dtype=torch.float64)).sum(), ref)
    assert ((out.p > 0) & (out.p < 1)).sum() == 2  # rows 0 and 1: interior p
    torch.testing.assert_close(out.seq_loss.detach(), want_loss.detach(), rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-15)
    # row 0 (A > 0): 0.9 and 25 clipped, -30 clamped; row 1 (A < 0): -0.8 and -30 clipped, 25 clamped
    zero = got[0, [0, 2, 3]].tolist() + got[1, 1:4].tolist() + got[5].tolist() + got[~mask].tolist()
    assert zero == [0.0] * len(zero) and got[0, 1] != 0 and got[1, 0] != 0


@pytest.mark.parametrize("output", ["seq_loss", "log_ratio_mean"])
@pytest.mark.parametrize("extra", [False, True], ids=["alone", "plus_other_terms"])
def test_double_backward_raises_instead_of_returning_a_wrong_value(output, extra):
    """The closed-form backward is first-order only: a Hessian-vector product through it must fail loudly
    (it used to return a silently wrong value), also when the loss has other, twice-differentiable terms,
    while ``create_graph=True`` still gives the same first-order gradient."""
    x, adv, mask = hand_built_inputs(clamped_unclipped=False)

    def loss(lr):
        value = getattr(pmpo_objective(lr, adv, mask, PMPOSettings()), output).sum()
        return value + (lr * lr).sum() if extra else value

    lr = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(lr), lr, create_graph=True)
    ref = x.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(loss(ref), ref)
    torch.testing.assert_close(grad.detach(), want, rtol=0, atol=0)
    v = torch.linspace(-1.0, 1.0, x.numel(), dtype=x.dtype).reshape(x.shape)
    with pytest.raises(RuntimeError, match="second derivatives through it"):
        torch.autograd.grad((grad * v).sum(), lr)


def test_invalid_settings_are_rejected_with_the_field_name():
    for bad, field in [
        (dict(p_mode="auto"), "p_mode"),
        (dict(p=1.5), "p"),
        (dict(clip_saturation=0.0), "clip_saturation"),
        (dict(solver="brent"), "solver"),
        (dict(solver_iters=0), "solver_iters"),
        (dict(ess_on="both"), "ess_on"),
    ]:
        with pytest.raises(ValueError, match=field):
            PMPOSettings(**bad)


P_VALUES = [0.0, 1e-6, 1e-3, 0.5, 1.0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    rows=st.integers(1, 6),
    length=st.integers(1, 40),
    scale=st.floats(0.0, 50.0),
    p_mode=st.sampled_from(["adaptive"] + [f"fixed:{p}" for p in P_VALUES]),
    dtype=st.sampled_from([torch.float32, torch.bfloat16, torch.float64]),
)
def test_loss_and_gradient_finite_for_extreme_inputs(data, rows, length, scale, p_mode, dtype):
    seed = data.draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    lr = ((torch.rand(rows, length, generator=g, dtype=torch.float64) * 2 - 1) * scale).to(dtype)
    lengths = torch.randint(0, length + 1, (rows,), generator=g)
    mask = torch.arange(length) < lengths.unsqueeze(1)
    adv = torch.tensor(data.draw(st.lists(st.sampled_from([-2.0, -1.0, 0.0, 0.5, 3.0]), min_size=rows, max_size=rows)))
    mode, _, p = p_mode.partition(":")
    s = PMPOSettings(p_mode=mode, p=float(p) if p else 1.0)
    lr.requires_grad_(True)
    out = pmpo_objective(lr, adv, mask, s)
    out.seq_loss.sum().backward()
    assert out.seq_loss.dtype in (torch.float32, torch.float64)
    assert torch.isfinite(out.seq_loss).all() and torch.isfinite(lr.grad.float()).all()
    assert ((out.p >= 0) & (out.p <= 1)).all()
    assert (out.seq_loss[~mask.any(-1)] == 0).all() and (out.seq_loss[adv == 0] == 0).all()
    assert (lr.grad[~mask] == 0).all()
