"""The torch.compile path of the solver (used on CUDA by default) agrees with eager mode."""

import pytest
import torch

from pmpo_verl.algo import EssCurve, target_ess
from pmpo_verl.algo import solver as solver_module


@pytest.mark.slow
def test_compiled_newton_solver_matches_eager(monkeypatch):
    g = torch.Generator().manual_seed(0)
    problems = []
    for batch, length in ((24, 300), (17, 411)):  # second shape: reused without recompiling (dynamic=True)
        x = torch.randn(batch, length, generator=g, dtype=torch.float64) * 0.3
        curve = EssCurve(x, torch.rand(batch, length, generator=g) < 0.8)
        frac = torch.rand(batch, generator=g, dtype=torch.float64)
        problems.append((curve, target_ess(curve.n.clamp_min(1), curve.log_ess(1.0).exp(), frac).log()))
    monkeypatch.setenv("PMPO_VERL_COMPILE", "0")
    eager = [solver_module.solve_p(curve, target) for curve, target in problems]
    monkeypatch.setenv("PMPO_VERL_COMPILE", "1")
    compiled = [solver_module.solve_p(curve, target) for curve, target in problems]
    assert "newton" in solver_module._COMPILED
    for want, got in zip(eager, compiled):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
