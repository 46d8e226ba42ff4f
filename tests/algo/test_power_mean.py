"""log M_p: centred form and Taylor branch against an exact (50-digit mpmath) reference; gradients."""

import mpmath
import numpy as np
import pytest
import torch

from pmpo_verl.algo import log_power_mean, token_weights
from pmpo_verl.algo.power_mean import log_power_mean_and_derivative

mpmath.mp.dps = 50


def exact_log_power_mean(x: np.ndarray, p: float) -> float:
    xs = [mpmath.mpf(float(v)) for v in x]
    if p == 0:
        return float(mpmath.fsum(xs) / len(xs))
    mean = mpmath.fsum(mpmath.exp(p * v) for v in xs) / len(xs)
    return float(mpmath.log(mean) / p)


def rows_with_outliers(n_rows=3, length=3000, seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(0.0, 0.2, size=(n_rows, length))
    x[:, :5] = [2.5, -3.0, 4.0, -1.5, 3.3]
    return x


@pytest.mark.parametrize("p", [0.0, 1e-6, 1e-5, 1e-4, 2e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-6)])
def test_matches_exact_reference(p, dtype, tol):
    x = rows_with_outliers()
    mask = torch.ones(x.shape, dtype=torch.bool)
    got = log_power_mean(torch.tensor(x, dtype=dtype), mask, torch.full((x.shape[0],), p, dtype=dtype))
    # Taylor branch error is O(p^2 * third moment); 1e-4 keeps it below 1e-8 here
    want = [exact_log_power_mean(row, p) for row in x]
    np.testing.assert_allclose(got.double().numpy(), want, rtol=0, atol=max(tol, 1e-8 if p <= 1e-4 else tol))


def test_naive_formula_would_fail_where_centred_passes():
    """The reason for the centred form: (LSE(p x) - log N) / p cancels catastrophically in fp32."""
    x = rows_with_outliers(n_rows=1)
    p = 1e-3
    xt = torch.tensor(x, dtype=torch.float32)
    naive = (torch.logsumexp(p * xt, -1) - np.log(x.shape[1])) / p
    want = exact_log_power_mean(x[0], p)
    centred = log_power_mean(xt, torch.ones_like(xt, dtype=torch.bool), torch.tensor([p]))
    assert abs(float(naive) - want) > 1e-4
    assert abs(float(centred) - want) < 1e-6


def test_masking_and_empty_rows():
    x = torch.tensor([[0.1, -0.3, 5.0, 7.0], [1.0, 2.0, 3.0, 4.0], [9.0, 9.0, 9.0, 9.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=torch.bool)
    got = log_power_mean(x, mask, torch.tensor([0.5, 1.0, 0.5], dtype=torch.float64))
    assert got[0].item() == pytest.approx(exact_log_power_mean(np.array([0.1, -0.3]), 0.5), abs=1e-14)
    assert got[1].item() == pytest.approx(np.log(np.mean(np.exp([1.0, 2.0, 3.0, 4.0]))), abs=1e-14)
    assert got[2].item() == 0.0


def test_power_mean_is_monotone_in_p_and_bounded():
    x = torch.tensor(rows_with_outliers(n_rows=2, length=200), dtype=torch.float64)
    mask = torch.ones_like(x, dtype=torch.bool)
    ps = torch.linspace(0, 1, 41, dtype=torch.float64)
    values = torch.stack([log_power_mean(x, mask, p.expand(2)) for p in ps])
    assert (values.diff(dim=0) >= -1e-12).all()
    assert torch.allclose(values[0], x.mean(-1)) and (values[-1] <= x.max(-1).values).all()


@pytest.mark.parametrize("p", [0.0, 1e-6, 0.3, 1.0])
def test_gradient_is_ratio_times_softmax_weights(p):
    """d M_p / d x_t = M_p * w_t(p), w = softmax(p x) (docs/algorithm.md#5-gradient-and-token-weights);
    finite differences agree."""
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(2, 7, generator=g, dtype=torch.float64) * 0.3).requires_grad_(True)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3], dtype=torch.bool)
    pv = torch.full((2,), p, dtype=torch.float64)
    ratio = log_power_mean(x, mask, pv).exp()
    (grad,) = torch.autograd.grad(ratio.sum(), x)
    expected = ratio.detach().unsqueeze(-1) * token_weights(x.detach(), mask, pv)
    # Taylor branch (p <= p_small) is exact only to first order in p
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-12 if p == 0 or p > 1e-4 else 1e-6)
    assert torch.autograd.gradcheck(lambda t: log_power_mean(t, mask, pv), (x,))


@pytest.mark.parametrize("p", [0.0, 1e-6, 1e-4, 2e-4, 0.3, 1.0])
def test_closed_form_derivative_equals_autograd(p):
    """The derivative the loss's backward uses is autograd's derivative of the same expression, on both
    branches, with masked tokens and an empty row; it sums to 1 over each non-empty row."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(4, 50, generator=g, dtype=torch.float64) * 0.5
    x[0, :3] = torch.tensor([6.0, -7.5, 9.0])
    mask = torch.arange(50) < torch.tensor([[50], [17], [1], [0]])
    pv = torch.full((4,), p, dtype=torch.float64)
    value, derivative = log_power_mean_and_derivative(x, mask, pv)
    xr = x.clone().requires_grad_(True)
    want_value = log_power_mean(xr, mask, pv)
    (want,) = torch.autograd.grad(want_value.sum(), xr)
    torch.testing.assert_close(value, want_value.detach(), rtol=0, atol=0)
    torch.testing.assert_close(derivative, want, rtol=1e-12, atol=1e-15)
    assert (derivative[~mask] == 0).all()
    torch.testing.assert_close(
        derivative.sum(-1)[:3], torch.ones(3, dtype=torch.float64), rtol=0, atol=1e-12 if p == 0 or p > 1e-4 else 1e-4
    )
