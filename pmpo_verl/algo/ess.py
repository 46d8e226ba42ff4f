"""Token weights and the Kish effective sample size (ESS) of a trajectory as functions of p.

The gradient of ``M_p`` weights token t by ``w_t(p) = r_t^p / sum_k r_k^p = softmax_t(p x_t)``, and

    ESS(p) = 1 / sum_t w_t(p)^2 = (sum_t e^{p x_t})^2 / sum_t e^{2 p x_t},
    log ESS(p) = 2 LSE_t(p x) - LSE_t(2 p x),
    d log ESS / dp = 2 (E_{w(p)}[x] - E_{w(2p)}[x]) <= 0.

ESS(0) = N, ESS is strictly decreasing on (0, 1] unless all x are equal, flat at 0
(``log ESS = log N - p^2 Var(x) + O(p^3)``) and invariant to ``x -> x + const``.
"""

from __future__ import annotations

import torch


def token_weights(x: torch.Tensor, mask: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``w_t(p) = softmax_t(p x_t)`` over valid tokens, (B, T); zero at invalid positions and empty rows."""
    logits = (p.unsqueeze(-1) * x).masked_fill(~mask, -torch.inf)
    w = torch.softmax(logits, dim=-1)
    return torch.nan_to_num(w, nan=0.0)


def _valid_sums(dev: torch.Tensor, n_pad: torch.Tensor, p: torch.Tensor, slope: bool) -> tuple[torch.Tensor, ...]:
    """Valid-token sums ``S(q) = sum e^{q d}`` (and ``S'(q) = sum d e^{q d}``) at q = p and q = 2p."""
    e = torch.exp(dev * p.unsqueeze(-1))
    s1 = (e.sum(-1) - n_pad).clamp_min(1.0)
    s1d = (dev * e).sum(-1) if slope else None
    e = e.square_()
    s2 = (e.sum(-1) - n_pad).clamp_min(1.0)
    s2d = (dev * e).sum(-1) if slope else None
    return s1, s2, s1d, s2d


def log_ess(dev: torch.Tensor, n_pad: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``log ESS(p) = 2 log S(p) - log S(2p)`` per row of an :class:`EssCurve`'s shifted log-ratios."""
    s1, s2, _, _ = _valid_sums(dev, n_pad, p, slope=False)
    return 2.0 * s1.log() - s2.log()


def log_ess_and_slope(dev: torch.Tensor, n_pad: torch.Tensor, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log ESS(p), d log ESS / dp)``, the slope being ``2 (S'(p)/S(p) - S'(2p)/S(2p))``."""
    s1, s2, s1d, s2d = _valid_sums(dev, n_pad, p, slope=True)
    return 2.0 * s1.log() - s2.log(), 2.0 * (s1d / s1 - s2d / s2)


class EssCurve:
    """``log ESS_i(p)`` and its slope for every row of a batch, evaluated for a vector of p at once.

    Built once per batch from detached x in float64. Each row is shifted by its maximum so every
    exponential lies in (0, 1]: no overflow for any x, and the shift cancels exactly in ESS
    (scale invariance). Invalid positions are set to 0 and their contribution (exactly 1 each to
    ``sum e^{q d}``, 0 to ``sum d e^{q d}``) is subtracted, which saves a mask multiply per evaluation;
    the valid sum is >= 1, so the subtraction loses at most ``T * 1e-16`` relative precision.
    """

    def __init__(self, x: torch.Tensor, mask: torch.Tensor):
        x = x.detach().to(torch.float64)
        self.n = mask.sum(-1).to(torch.float64)
        self.n_pad = mask.shape[-1] - self.n
        row_max = x.masked_fill(~mask, -torch.inf).amax(-1, keepdim=True)
        self.dev = torch.where(mask, x - row_max.clamp_min(-torch.finfo(x.dtype).max), 0.0)
        self.log_n = self.n.clamp_min(1.0).log()

    def _p(self, p: torch.Tensor | float) -> torch.Tensor:
        return torch.as_tensor(p, dtype=torch.float64, device=self.dev.device).expand_as(self.n)

    def log_ess(self, p: torch.Tensor | float) -> torch.Tensor:
        """``log ESS(p)`` per row (p: (B,) or a scalar); ``log 1 = 0`` for empty rows."""
        return log_ess(self.dev, self.n_pad, self._p(p))

    def log_ess_and_slope(self, p: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log ESS(p), d log ESS / dp)`` per row."""
        return log_ess_and_slope(self.dev, self.n_pad, self._p(p))
