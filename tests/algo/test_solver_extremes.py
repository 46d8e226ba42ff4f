"""The adaptive-p solver on extreme rows, its reported residual, and rows with non-finite inputs.

The reference for p is a 60-step float64 bisection on the same ESS curve (the curve the objective builds
from the clipped log-ratios, the target it reports): the solver's p must agree with it within 1e-5 on
every row whose p it chose, however extreme the row."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pmpo_verl.algo import EssCurve, PMPOSettings, pmpo_objective, solve_p
from pmpo_verl.algo.objective import LOG_RATIO_CLAMP
from pmpo_verl.algo.solver import solve

P_TOL = 1e-5  # agreement with the reference, every row


def reference_bisection(curve: EssCurve, log_target: torch.Tensor, iters: int = 60) -> torch.Tensor:
    """Plain midpoint bisection on ``curve.log_ess`` (float64), independent of the solver module."""
    lo = torch.zeros_like(log_target)
    hi = torch.ones_like(log_target)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        above = curve.log_ess(mid) > log_target
        lo, hi = torch.where(above, mid, lo), torch.where(above, hi, mid)
    return 0.5 * (lo + hi)


def brute_log_ess(x: np.ndarray, p: float) -> float:
    w = np.exp(p * (x - x.max()))
    w /= w.sum()
    return -math.log(np.sum(w * w))


def objective_curve(log_ratio, adv, mask, s: PMPOSettings) -> EssCurve:
    """The curve the objective solves on: clamp, then the sign-aware clip (ess_on="clipped")."""
    lr = torch.where(mask, log_ratio.double(), 0.0).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    a = adv.double().unsqueeze(-1)
    clipped = torch.where(a > 0, lr.clamp(max=s.eps_high), torch.where(a < 0, lr.clamp(min=-s.eps_low), lr))
    return EssCurve(clipped if s.ess_on == "clipped" else lr, mask)


DEFAULTS = PMPOSettings()


def check_against_reference(log_ratio, adv, mask, s=DEFAULTS):
    """Solver p vs the reference on every solved row; the residual field vs the curve. Returns the output."""
    out = pmpo_objective(log_ratio, adv, mask, s)
    curve = objective_curve(log_ratio, adv, mask, s)
    n = mask.sum(-1).double()
    log_target = (out.target_ess_norm * n.clamp_min(1)).log()
    chosen = out.active & ~out.degenerate  # p from the solver or snapped to an endpoint (target at E1 or N)
    solved = chosen & (out.p > 0) & (out.p < 1)
    if solved.any():
        ref = reference_bisection(curve, log_target)
        err = (out.p - ref).abs()[solved]
        assert err.max().item() < P_TOL, (err.max().item(), out.p[solved], ref[solved])
    residual = (curve.log_ess(out.p) - log_target).abs()
    assert out.solver_residual.dtype == torch.float64 and out.solver_residual.shape == out.p.shape
    assert torch.isfinite(out.solver_residual).all() and (out.solver_residual >= 0).all()
    assert (out.solver_residual[~chosen] == 0).all()
    reported = chosen & ((out.solver_residual != 0) | solved)  # endpoint rows report 0
    torch.testing.assert_close(out.solver_residual[reported], residual[reported], rtol=0, atol=1e-12)
    return out


def spiky_rows(seed: int, batch: int = 8, length: int = 3000, level: float = 19.0):
    """The issue's rows: a few tokens at log-ratio ~+19 under a negative advantage (the sign-aware clip
    keeps them), a few tokens clipped below -eps_low, the rest ~ N(0, 0.1); T = 3000."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, generator=g, dtype=torch.float64) * 0.1
    for i in range(batch):
        k = int(torch.randint(1, 6, (1,), generator=g))
        x[i, :k] = level + torch.rand(k, generator=g, dtype=torch.float64)
        m = int(torch.randint(1, 40, (1,), generator=g))
        x[i, k : k + m] = -0.5 - torch.rand(m, generator=g, dtype=torch.float64)
    return x, -torch.ones(batch, dtype=torch.float64), torch.ones(batch, length, dtype=torch.bool)


@pytest.mark.parametrize("seed", [2, 62, 141, 157])
def test_newton_matches_bisection_on_spiky_rows(seed):
    """Safeguarded Newton alone (10 iterations) was up to 0.12 off on these rows (residual ~3 in log ESS)."""
    check_against_reference(*spiky_rows(seed))


def test_spiky_rows_against_numpy_brute_force():
    """The same rows against an independent numpy float64 bisection (200 steps) per row."""
    x, adv, mask = spiky_rows(62)
    out = pmpo_objective(x, adv, mask, PMPOSettings())
    clipped = np.maximum(x.numpy(), -0.4)
    for i in range(x.shape[0]):
        log_target = math.log(out.target_ess_norm[i].item() * x.shape[1])
        lo, hi = 0.0, 1.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if brute_log_ess(clipped[i], mid) > log_target else (lo, mid)
        assert abs(out.p[i].item() - 0.5 * (lo + hi)) < P_TOL, i


@pytest.mark.parametrize("solver,iters", [("newton", None), ("newton", 1), ("newton", 3), ("bisection", 40)])
def test_solution_is_an_evaluated_point_with_its_log_ess(solver, iters):
    """``solve`` returns p and log ESS at that very p (the residual is exact, not estimated), and p
    agrees with the reference whatever the iteration budget (the fallback finishes what Newton left)."""
    x, _, mask = spiky_rows(157)
    curve = EssCurve(x.clamp(min=-0.4), mask)
    n = mask.sum(-1).double()
    e1 = curve.log_ess(1.0).exp()
    log_target = (e1 + torch.linspace(0.01, 0.99, x.shape[0], dtype=torch.float64) * (n - e1)).log()
    sol = solve(curve, log_target, solver, iters)
    torch.testing.assert_close(sol.log_ess, curve.log_ess(sol.p), rtol=0, atol=1e-13)
    assert (sol.p - reference_bisection(curve, log_target)).abs().max().item() < P_TOL
    torch.testing.assert_close(solve_p(curve, log_target, solver, iters), sol.p, rtol=0, atol=0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    rows=st.integers(1, 4),
    length=st.sampled_from([1, 2, 7, 64, 500, 1000, 3000]),
    bulk=st.sampled_from([0.0, 0.03, 0.1, 0.3, 1.0]),
    tail=st.sampled_from(["normal", "cauchy", "lognormal"]),
    spikes=st.integers(0, 8),
    level=st.floats(0.0, 50.0),
    clipped=st.integers(0, 60),
    solver=st.sampled_from([("newton", None), ("newton", None), ("newton", 2), ("bisection", None)]),
)
def test_solver_agrees_with_bisection_on_extreme_inputs(data, rows, length, bulk, tail, spikes, level, clipped, solver):
    """Heavy-tailed bulks, a few spikes with |l| up to 50 (clamped at 20) on either side, a few to many
    clipped tokens, up to a few thousand tokens, one-token rows, rows whose every token is clipped,
    advantages of both signs. Newton with 2 iterations leaves most rows to the fallback."""
    seed = data.draw(st.integers(0, 2**31 - 1))
    g = np.random.default_rng(seed)
    if tail == "normal":
        x = g.normal(0, bulk, (rows, length))
    elif tail == "cauchy":
        x = g.standard_cauchy((rows, length)) * bulk * 0.1
    else:
        x = g.lognormal(0, 1 + 2 * bulk, (rows, length)) * g.choice([-1, 1], (rows, length)) * bulk * 0.1
    adv = g.choice([-1.0, 1.0], rows)
    for i in range(rows):
        at = g.permutation(length)
        k = min(spikes, length)
        side = -adv[i] if g.random() < 0.7 else adv[i]  # mostly the side the clip leaves alone
        x[i, at[:k]] = side * level * g.uniform(0.95, 1.0, k)
        m = min(clipped, length - k)
        x[i, at[k : k + m]] = adv[i] * g.uniform(0.41, 1.5, m)  # beyond the clip on the advantage's side
        if g.random() < 0.15:
            x[i] = adv[i] * (0.5 + np.abs(x[i]))  # every token clipped
    lengths = g.integers(1, length + 1, rows) if g.random() < 0.5 else np.full(rows, length)
    mask = np.arange(length)[None, :] < lengths[:, None]
    s = PMPOSettings(solver=solver[0], solver_iters=solver[1])
    check_against_reference(torch.tensor(np.clip(x, -50, 50)), torch.tensor(adv), torch.tensor(mask), s)


def test_residual_is_zero_in_fixed_mode_and_on_endpoint_rows():
    x, adv, mask = spiky_rows(2, batch=4, length=200)
    out = pmpo_objective(x, adv, mask, PMPOSettings(p_mode="fixed", p=0.3))
    assert out.solver_residual.tolist() == [0.0] * 4
    rows = torch.randn(3, 100, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.1
    rows[0] = rows[0].clamp(-0.39, 0.39)  # nothing clipped: p = 1
    rows[1, :30] = 1.0  # saturated: p = 0
    rows[2] = 0.25  # degenerate
    out = pmpo_objective(rows, torch.ones(3, dtype=torch.float64), torch.ones(3, 100, dtype=torch.bool), PMPOSettings())
    assert out.p.tolist() == [1.0, 0.0, 1.0] and out.solver_residual.tolist() == [0.0, 0.0, 0.0]


# -------------------------------------------------------------------------------------------------------
# Non-finite inputs: the bad row gets NaN (as verl's own losses: the engine then skips the step on a
# non-finite grad norm), every other row is bit-for-bit what it would have been.
# -------------------------------------------------------------------------------------------------------


def run_rows(log_ratio, adv, mask, s):
    lr = log_ratio.clone().requires_grad_(True)
    out = pmpo_objective(lr, adv, mask, s)
    (out.seq_loss * torch.linspace(0.5, 2.0, len(adv), dtype=lr.dtype)).sum().backward()
    return out, lr.grad


def mixed_rows(dtype=torch.float64):
    """Realistic rows (interior p), one spiky row that needs the solver's fallback, padding."""
    g = torch.Generator().manual_seed(5)
    x = (torch.randn(6, 400, generator=g, dtype=torch.float64) * 0.2)
    x[:, :6] = 0.9  # some clipped tokens either side
    x[:, 6:12] = -0.9
    spiky, _, _ = spiky_rows(62, batch=1, length=400)
    x[4] = spiky[0]
    mask = torch.arange(400) < torch.tensor([[400], [300], [250], [400], [400], [120]])
    adv = torch.tensor([1.0, -1.0, 0.5, -2.0, -1.0, 1.5], dtype=torch.float64)
    return x.to(dtype), adv.to(dtype), mask


@pytest.mark.parametrize("bad", ["nan_log_ratio", "nan_advantage", "inf_minus_inf", "all_nan"])
@pytest.mark.parametrize("solver", ["newton", "bisection"])
def test_non_finite_row_leaves_other_rows_unchanged(bad, solver):
    s = PMPOSettings(solver=solver)
    x, adv, mask = mixed_rows()
    clean, clean_grad = run_rows(x, adv, mask, s)
    assert ((clean.p > 0) & (clean.p < 1)).sum() >= 4
    row = 1
    x_bad, adv_bad = x.clone(), adv.clone()
    if bad == "nan_log_ratio":
        x_bad[row, 17] = math.nan
    elif bad == "nan_advantage":
        adv_bad[row] = math.nan
    elif bad == "inf_minus_inf":  # log pi_theta = log pi_old = -inf
        x_bad[row, 3] = math.inf - math.inf
    else:
        x_bad[row] = math.nan
    out, grad = run_rows(x_bad, adv_bad, mask, s)
    others = torch.arange(len(adv)) != row
    names = (
        "p",
        "seq_loss",
        "log_ratio_mean",
        "clip_frac",
        "ess_norm",
        "e1_norm",
        "target_ess_norm",
        "solver_residual",
    )
    for name in names:
        assert torch.equal(getattr(out, name)[others].detach(), getattr(clean, name)[others].detach()), name
    assert torch.equal(grad[others], clean_grad[others])
    # the bad row itself: NaN loss and gradient (not silently replaced)
    assert torch.isnan(out.seq_loss[row]) and torch.isnan(grad[row][mask[row]]).any()
    assert torch.isnan(out.seq_loss.sum())


def test_non_finite_values_at_padding_change_nothing():
    x, adv, mask = mixed_rows()
    clean, clean_grad = run_rows(x, adv, mask, PMPOSettings())
    x_pad = x.clone()
    x_pad[5, 200], x_pad[1, 350], x_pad[2, 399] = math.nan, math.inf, -math.inf  # rows 5, 1, 2 end before
    out, grad = run_rows(x_pad, adv, mask, PMPOSettings())
    for name in ("p", "seq_loss", "log_ratio_mean", "ess_norm", "solver_residual"):
        assert torch.equal(getattr(out, name).detach(), getattr(clean, name).detach()), name
    assert torch.equal(grad, clean_grad)


def test_inf_log_ratio_is_clamped_like_vanilla():
    """+-inf log-ratios (a token whose old or new probability is 0) are clamped to +-20 as verl's vanilla
    does: finite loss, zero gradient on that token, other rows unchanged."""
    x, adv, mask = mixed_rows()
    clean, clean_grad = run_rows(x, adv, mask, PMPOSettings())
    x_inf = x.clone()
    x_inf[2, 20], x_inf[2, 21] = math.inf, -math.inf
    out, grad = run_rows(x_inf, adv, mask, PMPOSettings())
    assert torch.isfinite(out.seq_loss).all() and torch.isfinite(grad).all()
    assert grad[2, 20] == 0 and grad[2, 21] == 0
    others = torch.arange(len(adv)) != 2
    assert torch.equal(out.p[others], clean.p[others]) and torch.equal(grad[others], clean_grad[others])


def test_eager_early_stop_ignores_non_finite_rows(monkeypatch):
    """A NaN row cannot keep the eager Newton loop running to its iteration cap for everyone."""
    from pmpo_verl.algo import ess as ess_module
    from pmpo_verl.algo import solver as solver_module

    calls = []
    real = ess_module.log_ess_and_slope

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(solver_module, "log_ess_and_slope", counting)
    monkeypatch.setenv("PMPO_VERL_COMPILE", "0")
    x, adv, mask = mixed_rows()
    x, adv, mask = x[:4], adv[:4], mask[:4]  # no row that needs the fallback
    run_rows(x, adv, mask, PMPOSettings())
    clean_calls = len(calls)
    calls.clear()
    x[1, 17] = math.nan
    run_rows(x, adv, mask, PMPOSettings())
    assert len(calls) == clean_calls < 10


@pytest.mark.slow
def test_compiled_solver_matches_eager_on_extreme_and_non_finite_rows(monkeypatch):
    """The compiled path (CUDA's default: fixed iteration and pass counts, no host synchronisation) gives
    the eager path's p on rows that need the fallback and keeps a NaN row to itself; it compiles without
    graph breaks or falling back to eager mode."""
    import torch._dynamo.utils as dynamo_utils

    from pmpo_verl.algo import compile as compile_module
    from pmpo_verl.algo import solver as solver_module

    x, adv, mask = spiky_rows(62, batch=6, length=3000)
    x[2, 100:] = torch.randn(2900, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.2  # realistic
    x[3, 17] = math.nan
    s = PMPOSettings(solver_iters=2)  # Newton leaves most rows to the fallback
    curve = objective_curve(x, adv, mask, s)
    monkeypatch.setenv("PMPO_VERL_COMPILE", "0")
    eager, eager_grad = run_rows(x, adv, mask, s)
    target = (eager.target_ess_norm * 3000).log()
    eager_solution = solve(curve, target)  # default iterations
    finite = torch.arange(6) != 3
    ref = reference_bisection(curve, target)
    with monkeypatch.context() as m:  # without the fallback, 2 Newton steps are far off
        m.setattr(solver_module, "FALLBACK_PASSES", 0)
        assert (solve(curve, target, iters=2).p - ref)[finite].abs().max().item() > 100 * P_TOL
    monkeypatch.setenv("PMPO_VERL_COMPILE", "1")
    compile_module._CACHE.clear()
    torch._dynamo.reset()
    dynamo_utils.counters.clear()
    try:
        compiled, compiled_grad = run_rows(x, adv, mask, s)
        compiled_solution = solve(curve, target)  # the solver compiled on its own (the statistics' fallback)
        assert not compile_module._FAILED, compile_module._FAILED
        assert not dynamo_utils.counters["graph_break"], dict(dynamo_utils.counters["graph_break"])
    finally:
        compile_module._CACHE.clear()
    for out, solution in ((compiled, compiled_solution), (eager, eager_solution)):
        assert (out.p - ref)[finite].abs().max().item() < P_TOL
        assert (solution.p - ref)[finite].abs().max().item() < P_TOL
        assert torch.isnan(out.p[3]) and torch.isnan(out.seq_loss[3]) and torch.isnan(out.solver_residual[3])
    torch.testing.assert_close(compiled.p[finite], eager.p[finite], rtol=0, atol=1e-12)
    torch.testing.assert_close(compiled_solution.p[finite], eager_solution.p[finite], rtol=0, atol=1e-12)
    torch.testing.assert_close(compiled.solver_residual[finite], eager.solver_residual[finite], rtol=0, atol=1e-12)
    torch.testing.assert_close(compiled_grad[finite], eager_grad[finite], rtol=1e-9, atol=1e-12)
