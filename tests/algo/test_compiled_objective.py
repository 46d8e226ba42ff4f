"""The torch.compile path (the default on CUDA) agrees with eager mode and does not recompile for new
shapes or new (equal) settings objects."""

import pytest
import torch

from pmpo_verl.algo import PMPOSettings, pmpo_objective, sequence_advantage
from pmpo_verl.algo import compile as compile_module
from pmpo_verl.metrics import pmpo_metrics

COMPILED_PARTS = ("pmpo_statistics", "pmpo_sequence_loss", "pmpo_metric_rows")


def problem(batch, length, seed):
    g = torch.Generator().manual_seed(seed)
    lr = torch.randn(batch, length, generator=g, dtype=torch.float32) * 0.3
    mask = torch.arange(length) < torch.randint(1, length + 1, (batch, 1), generator=g)
    adv = sequence_advantage(torch.randn(batch, 1, generator=g).expand(batch, length), mask)
    return lr, adv, mask


def run(lr, adv, mask):
    lr = lr.clone().requires_grad_(True)
    out = pmpo_objective(lr, adv, mask, PMPOSettings())
    out.seq_loss.sum().backward()
    return out, lr.grad, pmpo_metrics(out, lr.detach(), adv.unsqueeze(-1).expand_as(lr), mask, adv, 0.1)


@pytest.mark.slow
def test_compiled_parts_match_eager(monkeypatch):
    import torch._dynamo.utils as dynamo_utils

    # all above 4096 elements: inductor specialises tiny inputs (B x T <= 4096) into one more graph
    problems = [problem(24, 300, 0), problem(17, 411, 1), problem(13, 500, 2)]
    monkeypatch.setenv("PMPO_VERL_COMPILE", "0")
    eager = [run(*pr) for pr in problems]
    monkeypatch.setenv("PMPO_VERL_COMPILE", "1")
    compile_module._CACHE.clear()
    torch._dynamo.reset()  # compile afresh so the graph count below is this test's
    dynamo_utils.counters.clear()
    compiled = [run(*pr) for pr in problems]
    assert set(COMPILED_PARTS) <= set(compile_module._CACHE)
    assert not compile_module._FAILED, compile_module._FAILED  # no part fell back to eager
    graphs = dynamo_utils.counters["stats"]["unique_graphs"]
    assert graphs == len(COMPILED_PARTS), f"one graph per part for all shapes and settings objects, got {graphs}"
    assert not dynamo_utils.counters["graph_break"]
    for (want, want_grad, want_metrics), (got, got_grad, got_metrics) in zip(eager, compiled):
        torch.testing.assert_close(got.p, want.p, rtol=0, atol=1e-9)
        torch.testing.assert_close(got.seq_loss, want.seq_loss, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(got_grad, want_grad, rtol=1e-5, atol=1e-6)
        assert torch.equal(got.clipped_tokens, want.clipped_tokens)
        assert got_metrics.keys() == want_metrics.keys()
        for key, values in want_metrics.items():
            assert got_metrics[key] == pytest.approx(values, rel=1e-6, abs=1e-9), key


def test_compiled_parts_are_bypassed_under_a_dispatch_mode(monkeypatch):
    """A compiled function entered under a TorchDispatchMode can leave dynamo running it eagerly for
    the rest of the process; memory trackers and op counters therefore get the plain function."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Passthrough(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    def fn(x):
        return x + 1

    monkeypatch.setenv("PMPO_VERL_COMPILE", "1")
    assert compile_module.maybe_compiled("test_dispatch_mode", fn, torch.device("cpu")) is not fn
    with Passthrough():
        assert compile_module.maybe_compiled("test_dispatch_mode", fn, torch.device("cpu")) is fn
    monkeypatch.setenv("PMPO_VERL_COMPILE", "0")
    assert compile_module.maybe_compiled("test_dispatch_mode", fn, torch.device("cpu")) is fn
    compile_module._CACHE.pop("test_dispatch_mode", None)


def test_compile_mode_is_passed_through_and_validated(monkeypatch):
    """PMPO_VERL_COMPILE_MODE picks torch.compile's mode (CUDA graphs for ``reduce-overhead``; on the CPU
    inductor skips the graphs and the result is the same); a value torch does not know is a clear error."""
    def fn(x):
        return (x * 2).exp().sum(-1)

    real_compile, modes = torch.compile, []

    def recording_compile(f, **kwargs):
        modes.append(kwargs.get("mode"))
        return real_compile(f, **kwargs)

    monkeypatch.setattr(torch, "compile", recording_compile)
    monkeypatch.setenv("PMPO_VERL_COMPILE", "1")
    monkeypatch.setenv("PMPO_VERL_COMPILE_MODE", " Reduce-Overhead ")
    assert compile_module.compile_mode() == "reduce-overhead"
    x = torch.randn(3, 5)
    try:
        torch.testing.assert_close(compile_module.maybe_compiled("test_mode", fn, x.device)(x), fn(x))
        assert modes == ["reduce-overhead"] and "test_mode" not in compile_module._FAILED
    finally:
        compile_module._CACHE.pop("test_mode", None)
    monkeypatch.setenv("PMPO_VERL_COMPILE_MODE", "fast")
    with pytest.raises(ValueError, match="PMPO_VERL_COMPILE_MODE must be one of"):
        compile_module.maybe_compiled("test_mode_bad", fn, x.device)
    monkeypatch.delenv("PMPO_VERL_COMPILE_MODE")
    assert compile_module.compile_mode() is None
