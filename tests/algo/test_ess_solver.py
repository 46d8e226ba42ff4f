"""ESS curve, target rule and solvers against brute-force float64 references."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pmpo_verl.algo import EssCurve, solve_p, target_ess, target_fraction, token_weights


def brute_log_ess(x: np.ndarray, p: float) -> float:
    w = np.exp(p * (x - x.max()))
    w = w / w.sum()
    return -math.log(np.sum(w * w))


def brute_bisection(x: np.ndarray, log_target: float, iters: int = 200) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if brute_log_ess(x, mid) > log_target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def random_rows(n_rows=12, length=300, seed=0):
    g = np.random.default_rng(seed)
    lengths = g.integers(2, length + 1, n_rows)
    x = g.normal(0, g.uniform(0.05, 0.4, (n_rows, 1)), (n_rows, length))
    x[g.random((n_rows, length)) < 0.01] *= 8
    mask = np.arange(length)[None, :] < lengths[:, None]
    return x, mask


def test_log_ess_matches_brute_force_and_weights():
    x, mask = random_rows()
    curve = EssCurve(torch.tensor(x), torch.tensor(mask))
    for p in (0.0, 1e-3, 0.3, 1.0):
        got = curve.log_ess(p).numpy()
        want = [brute_log_ess(row[m], p) for row, m in zip(x, mask)]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)
        w = token_weights(torch.tensor(x), torch.tensor(mask), torch.full((len(x),), p, dtype=torch.float64))
        np.testing.assert_allclose(got, -np.log((w * w).sum(-1).numpy()), atol=1e-11)
    np.testing.assert_allclose(curve.log_ess(0.0).numpy(), np.log(mask.sum(-1)), atol=1e-12)


def test_slope_matches_finite_difference():
    x, mask = random_rows(seed=3)
    curve = EssCurve(torch.tensor(x), torch.tensor(mask))
    for p in (0.05, 0.4, 0.9):
        pv = torch.full((len(x),), p, dtype=torch.float64)
        _, slope = curve.log_ess_and_slope(pv)
        h = 1e-6
        fd = (curve.log_ess(pv + h) - curve.log_ess(pv - h)) / (2 * h)
        np.testing.assert_allclose(slope.numpy(), fd.numpy(), rtol=1e-5, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shift=st.floats(-15, 15),
    scale=st.floats(0.01, 3.0),
)
def test_ess_monotone_decreasing_and_shift_invariant(seed, shift, scale):
    g = np.random.default_rng(seed)
    x = g.normal(0, scale, (3, 50))
    mask = torch.ones(3, 50, dtype=torch.bool)
    curve = EssCurve(torch.tensor(x), mask)
    shifted = EssCurve(torch.tensor(x + shift), mask)
    ps = torch.linspace(0, 1, 21, dtype=torch.float64)
    values = torch.stack([curve.log_ess(p) for p in ps])
    assert (values.diff(dim=0) <= 1e-12).all()
    assert (values[1:] < values[0] + 1e-12).all() and (values >= -1e-12).all()
    torch.testing.assert_close(torch.stack([shifted.log_ess(p) for p in ps]), values, rtol=0, atol=1e-9)


@pytest.mark.parametrize("solver,iters", [("bisection", 45), ("newton", None)])
def test_solver_reaches_target_and_matches_brute_force(solver, iters):
    x, mask = random_rows(n_rows=20, seed=7)
    curve = EssCurve(torch.tensor(x), torch.tensor(mask))
    n = torch.tensor(mask.sum(-1), dtype=torch.float64)
    ess1 = curve.log_ess(1.0).exp()
    g = torch.linspace(0.02, 0.98, len(x), dtype=torch.float64)
    target = target_ess(n, ess1, g, "interp")
    p = solve_p(curve, target.log(), solver, iters)
    torch.testing.assert_close(curve.log_ess(p), target.log(), rtol=0, atol=1e-10)
    brute = [brute_bisection(row[m], math.log(t)) for row, m, t in zip(x, mask, target.tolist())]
    np.testing.assert_allclose(p.numpy(), brute, rtol=0, atol=1e-8)


def test_newton_and_bisection_agree_including_endpoints():
    x, mask = random_rows(n_rows=30, seed=11)
    curve = EssCurve(torch.tensor(x), torch.tensor(mask))
    n = torch.tensor(mask.sum(-1), dtype=torch.float64)
    ess1 = curve.log_ess(1.0).exp()
    g = torch.cat([torch.tensor([0.0, 1.0, 1e-9, 1 - 1e-9]), torch.rand(26, dtype=torch.float64)])
    target = target_ess(n, ess1, g, "interp")
    newton = solve_p(curve, target.log(), "newton")
    bisect = solve_p(curve, target.log(), "bisection", 60)
    torch.testing.assert_close(newton, bisect, rtol=0, atol=1e-7)
    assert abs(newton[0].item() - 1.0) < 1e-9 and newton[1].item() < 1e-6


def test_target_rule_endpoints_and_monotonicity():
    c = torch.tensor([0.0, 0.05, 0.1, 0.5, 1.0], dtype=torch.float64)
    g = target_fraction(c, clip_saturation=0.1, gamma=1.0)
    assert g.tolist() == [0.0, 0.5, 1.0, 1.0, 1.0]
    assert target_fraction(torch.tensor([0.05]), 0.1, 2.0).item() == pytest.approx(0.25)
    n = torch.full((5,), 100.0, dtype=torch.float64)
    e1 = torch.full((5,), 90.0, dtype=torch.float64)
    assert target_ess(n, e1, g, "interp").tolist() == [90.0, 95.0, 100.0, 100.0, 100.0]
    normalized = target_ess(n, e1, g, "normalized", nu0=0.8)
    assert normalized.tolist() == [90.0, 90.0, 100.0, 100.0, 100.0]  # 80 and 90 are clamped up to E1 = 90
    with pytest.raises(ValueError, match="target_rule"):
        target_ess(n, e1, g, "bogus")
