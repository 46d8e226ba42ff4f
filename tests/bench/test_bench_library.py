"""pmpo_verl.bench, the loss benchmark's library, without running the benchmark: its self-check passes on
CPU (exact storage tracker, inline references == verl's registry, inline path verl-free), its inputs are
reproducible, and a tiny size measures every method with PMPO's endpoints equal to vanilla / geo_mean."""

import torch

from pmpo_verl.bench.backends import METHODS, load_backend
from pmpo_verl.bench.inputs import realistic_batch
from pmpo_verl.bench.loss_report import fmt_details, fmt_table
from pmpo_verl.bench.loss_runner import Size, parse_sizes, run_size
from pmpo_verl.bench.self_check import self_check

CPU = torch.device("cpu")


def test_self_check_passes_on_cpu():
    lines = self_check(load_backend("auto"), CPU)
    assert len(lines) == 4 and all(line.endswith(": OK") for line in lines), lines


def test_inputs_are_reproducible_and_padded_with_zeros():
    first = realistic_batch(6, 40, torch.float32, CPU, seed=7)
    second = realistic_batch(6, 40, torch.float32, CPU, seed=7)
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    assert first.log_prob.requires_grad and first.mask.dtype == torch.bool
    assert not first.log_prob[~first.mask].any() and not first.advantages[~first.mask].any()


def test_parse_sizes():
    expected = [Size(4, 64, torch.float32), Size(8, 32, torch.bfloat16)]
    assert parse_sizes("4x64, 8x32:bf16", torch.float32) == expected


def test_run_size_and_report():
    res = run_size(load_backend("inline"), Size(4, 64, torch.float32), CPU, warmup=0, repeats=1, seed=0)
    assert [r["method"] for r in res["rows"]] == [m.key for m in METHODS]
    assert max(*res["checks"]["p1_vs_vanilla"], *res["checks"]["p0_vs_geo_mean"]) < 1e-5
    assert "| 4x64 | float32 | PMPO adaptive (newton) |" in fmt_table([res], markdown=True)
    assert any("same objective" in line for line in fmt_details(res, CPU))
