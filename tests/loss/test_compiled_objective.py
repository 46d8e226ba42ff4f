"""The torch.compile path of the objective (the default on CUDA) agrees with eager mode and does not
recompile for new shapes or new (equal) settings objects."""

import pytest
import torch

from pmpo_verl.algo import PMPOSettings, pmpo_objective
from pmpo_verl.algo import compile as compile_module
from pmpo_verl.algo import objective as objective_module


def problem(batch, length, seed):
    g = torch.Generator().manual_seed(seed)
    lr = torch.randn(batch, length, generator=g, dtype=torch.float32) * 0.3
    mask = torch.arange(length) < torch.randint(1, length + 1, (batch, 1), generator=g)
    adv = torch.randn(batch, generator=g)
    return lr, adv, mask


def run(lr, adv, mask):
    lr = lr.clone().requires_grad_(True)
    out = pmpo_objective(lr, adv, mask, PMPOSettings())
    out.seq_loss.sum().backward()
    return out, lr.grad


@pytest.mark.slow
def test_compiled_objective_matches_eager(monkeypatch):
    import torch._dynamo.utils as dynamo_utils

    problems = [problem(24, 300, 0), problem(17, 411, 1), problem(9, 77, 2)]
    monkeypatch.setenv("PMPO_VERL_COMPILE", "0")
    eager = [run(*pr) for pr in problems]
    monkeypatch.setenv("PMPO_VERL_COMPILE", "1")
    compile_module._CACHE.clear()
    torch._dynamo.reset()  # compile afresh so the graph count below is this test's
    dynamo_utils.counters.clear()
    compiled = [run(*pr) for pr in problems]
    assert compile_module._CACHE["pmpo_objective"] is not objective_module._objective  # no eager fallback
    graphs = dynamo_utils.counters["stats"]["unique_graphs"]
    assert graphs == 1, f"expected one graph for all shapes and settings objects, got {graphs}"
    assert not dynamo_utils.counters["graph_break"]
    for (want, want_grad), (got, got_grad) in zip(eager, compiled):
        torch.testing.assert_close(got.p, want.p, rtol=0, atol=1e-9)
        torch.testing.assert_close(got.seq_loss, want.seq_loss, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(got_grad, want_grad, rtol=1e-5, atol=1e-6)
        assert torch.equal(got.clipped_tokens, want.clipped_tokens)
