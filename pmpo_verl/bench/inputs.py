"""Synthetic micro-batches of verl's policy-loss inputs: one home for the benchmark, tests and profile.

Every generator draws from its own seeded ``torch.Generator`` on the CPU, so a seed gives the same tensors
on every machine and device. The three distributions differ on purpose and stay separate: the benchmark's
numbers (docs/benchmarks.md) and the tests' tolerances were set on exactly these draws.

- :func:`realistic_batch` (``scripts/bench_loss.py``): what a GRPO micro-batch looks like, float32.
- :func:`random_batch` (``tests/algo``, ``tests/plugin``): wider log-ratios and every row length down to 1, float64.
- :func:`log_ratio_batch` (``scripts/profile_loss_parts.py``): log-ratios and sequence advantages only.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..algo import sequence_advantage


class LossBatch(NamedTuple):
    """verl's policy-loss inputs, all (B, T); padding positions hold 0, as verl's padded tensors do."""

    old_log_prob: torch.Tensor  # log pi_old (no grad)
    log_prob: torch.Tensor  # log pi_theta, a leaf that requires grad
    advantages: torch.Tensor  # outcome advantage of each row, broadcast over its valid tokens
    mask: torch.Tensor  # bool, valid response tokens (right-padded)

    def fresh_log_prob(self) -> torch.Tensor:
        """A new leaf copy of ``log_prob`` (its own ``.grad``), for one more forward+backward."""
        return self.log_prob.detach().clone().requires_grad_(True)


def realistic_batch(
    batch: int, length: int, dtype: torch.dtype, device: torch.device, seed: int = 0
) -> LossBatch:
    """Right-padded responses, token log-ratios ~ N(0, sigma_i) with sigma_i in [0.1, 0.2] (5% of rows far
    off-policy, sigma 0.35), 0-4% outlier tokens per row with |log-ratio| in [0.5, 3], outcome advantages
    constant per row with random sign; response lengths uniform in [T/16, T], 10% truncated at T.
    Log-probs in ``dtype``, advantages float32."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(max(1, length // 16), length + 1, (batch,), generator=g)
    lengths[torch.rand(batch, generator=g) < 0.1] = length  # truncated at the length cap
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    old = -torch.empty(batch, length).exponential_(2.0, generator=g)  # token log-probs, mean -0.5
    sigma = torch.empty(batch, 1).uniform_(0.1, 0.2, generator=g)
    sigma = torch.where(torch.rand(batch, 1, generator=g) < 0.05, torch.tensor(0.35), sigma)
    delta = torch.randn(batch, length, generator=g) * sigma
    rate = torch.empty(batch, 1).uniform_(0.0, 0.04, generator=g)
    outlier = torch.rand(batch, length, generator=g) < rate
    outlier_value = torch.empty(batch, length).uniform_(0.5, 3.0, generator=g)
    outlier_value = outlier_value * (torch.randint(0, 2, (batch, length), generator=g) * 2 - 1)
    delta = torch.where(outlier, outlier_value, delta)
    old = old * mask
    new = (old + delta) * mask
    sign = torch.randint(0, 2, (batch, 1), generator=g) * 2 - 1
    magnitude = torch.randn(batch, 1, generator=g).abs() * 0.8 + 0.2
    advantages = (sign * magnitude).expand(batch, length) * mask
    return LossBatch(
        old_log_prob=old.to(dtype).to(device),
        log_prob=new.to(dtype).to(device).requires_grad_(True),
        advantages=advantages.float().to(device),
        mask=mask.to(device),
    )


def random_batch(
    batch: int = 8,
    length: int = 64,
    *,
    std: float = 0.25,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    outliers: float = 0.02,
    min_len: int = 1,
) -> LossBatch:
    """Right-padded responses with lengths uniform in [min_len, T], log-ratios ~ N(0, std) with a share
    ``outliers`` of tokens scaled by 6, and one outcome advantage ~ N(0, 1) per row broadcast over its
    valid tokens (the tests' batches: both signs, small and large ratios, rows of one token)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, length + 1, (batch,), generator=g)
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    old = -torch.rand(batch, length, generator=g, dtype=torch.float64) * 3 - 0.05
    ratio = torch.randn(batch, length, generator=g, dtype=torch.float64) * std
    spikes = torch.rand(batch, length, generator=g, dtype=torch.float64) < outliers
    ratio = torch.where(spikes, ratio * 6, ratio)
    new = old + ratio
    adv_row = torch.randn(batch, generator=g, dtype=torch.float64)
    adv = adv_row.unsqueeze(1) * mask
    old = torch.where(mask, old, 0.0).to(dtype)
    new = torch.where(mask, new, 0.0).to(dtype)
    return LossBatch(old_log_prob=old, log_prob=new.requires_grad_(True), advantages=adv.to(dtype), mask=mask)


class LogRatioBatch(NamedTuple):
    """The objective's own inputs: (B, T) log-ratios, (B,) sequence advantages, (B, T) bool mask."""

    log_ratio: torch.Tensor
    seq_adv: torch.Tensor
    mask: torch.Tensor


def log_ratio_batch(batch: int, length: int, device: torch.device, seed: int = 0) -> LogRatioBatch:
    """Lengths uniform in [T/16, T], log-ratios ~ N(0, 0.15) (0 on padding), advantages ~ N(0, 1) per row."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(length // 16, length + 1, (batch, 1), generator=g)
    mask = (torch.arange(length) < lengths).to(device)
    log_ratio = (torch.randn(batch, length, generator=g) * 0.15).to(device) * mask
    seq_adv = sequence_advantage(torch.randn(batch, 1, generator=g).expand(batch, length).to(device), mask)
    return LogRatioBatch(log_ratio=log_ratio, seq_adv=seq_adv, mask=mask)
