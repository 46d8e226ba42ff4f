"""Scoring: ``reward.verify_batch(..., mode="eval")`` over responses, in chunks with a progress bar.
The eval command and ``scripts/bench_eval.py`` both call :func:`score`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

SCORE_CHUNK = 512


def score(responses: Sequence[str], golds: Sequence[Any], *, timeout: float = 5.0, workers: int | None = None,
          desc: str | None = None, progress: bool = True, chunk: int = SCORE_CHUNK) -> list:
    """Eval-mode verdicts (``reward.Verdict``), in order."""
    from tqdm.auto import tqdm

    import reward

    verdicts: list = []
    with tqdm(total=len(responses), desc=desc or "score", unit="resp", disable=not progress or not responses,
              leave=False) as bar:
        for i in range(0, len(responses), chunk):
            part = reward.verify_batch(list(responses[i:i + chunk]), list(golds[i:i + chunk]), mode="eval",
                                       timeout=timeout, workers=workers)
            verdicts.extend(part)
            bar.update(len(part))
    return verdicts


def verdict_fields(v) -> dict:
    """The sample-row fields of one verdict."""
    return {"extracted": v.pred, "correct": bool(v.correct), "status": v.status, "method": v.method}
