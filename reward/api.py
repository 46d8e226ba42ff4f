"""Public entry points: :func:`verify`, :func:`verify_batch` and verl's :func:`compute_score`.

Flow per item: gold preparation (:func:`reward.gold.prepare_gold`, cached) -> extraction
(:mod:`reward.parser`, in-process, linear in a bounded window) -> cheap rungs of the ladder in-process
(:func:`reward.grader.grade` with ``cheap_only=True``: integers, exact numbers, strings, choice letters) ->
everything else in the process pool (:mod:`reward.pool`) under a hard per-item deadline. Cheap items never
touch the pool, so a batch of AIME integers costs microseconds each.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

from reward.gold import Gold, prepare_gold, verl_gold
from reward.grader import Grade, grade
from reward.parser import extract_answer
from reward.verdict import Options, Verdict

Mode = Literal["reward", "eval"]

REWARD_TIMEOUT = 2.0


def verify(response: str, gold: Gold, *, mode: Mode = "eval", timeout: float = 5.0, precision: int | None = None,
           rename_variables: bool = False, set_accepts_relation: bool = False) -> Verdict:
    """Verify one response against its gold answer (see :func:`verify_batch`)."""
    return verify_batch([response], [gold], mode=mode, timeout=timeout, precision=precision,
                        rename_variables=rename_variables, set_accepts_relation=set_accepts_relation)[0]


def verify_batch(responses: Sequence[str], golds: Sequence[Gold], *, mode: Mode = "eval", timeout: float = 5.0,
                 workers: int | None = None, precision: int | None = None, rename_variables: bool = False,
                 set_accepts_relation: bool = False) -> list[Verdict]:
    """Verify responses against golds, in order; never raises for any response text.

    ``mode="reward"`` is strict (final ``\\boxed{}`` after ``</think>``, hedges wrong), ``mode="eval"``
    lenient (priority extraction). ``timeout`` is the hard per-item deadline in seconds for items that
    need the process pool; ``workers`` sizes the process-wide pool (default ``min(4, cpu_count)``).
    ``precision``, ``rename_variables`` and ``set_accepts_relation`` are eval-mode options, off by
    default (:class:`reward.verdict.Options`); passing one in reward mode raises ``ValueError``.
    """
    if mode not in ("reward", "eval"):
        raise ValueError(f"mode must be 'reward' or 'eval', not {mode!r}")
    options = Options(precision, bool(rename_variables), bool(set_accepts_relation))
    if mode == "reward" and options.lenient:
        raise ValueError("precision, rename_variables and set_accepts_relation are eval-mode options; "
                         "reward mode is strict")
    if len(responses) != len(golds):
        raise ValueError("responses and golds must have the same length")
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    verdicts: list[Verdict | None] = [None] * len(responses)
    deferred: list[tuple[int, tuple[str, ...], tuple[str, ...], float]] = []
    for i, (response, gold) in enumerate(zip(responses, golds)):
        start = time.perf_counter()
        gold_alts = prepare_gold(gold)
        gold_text = " | ".join(gold_alts)
        extraction = extract_answer(response if isinstance(response, str) else str(response), mode)
        pred = ", ".join(extraction.candidates) if extraction.rejected else (
            extraction.candidates[0] if extraction.candidates else None)
        if not gold_alts:
            verdicts[i] = Verdict(False, "parse_error", pred, gold_text, "gold", _ms(start))
            continue
        if extraction.rejected or not extraction.candidates:
            verdicts[i] = Verdict(False, extraction.status, pred, gold_text, extraction.method, _ms(start))
            continue
        outcome = grade(extraction.candidates, gold_alts, mode=mode, cheap_only=True, options=options)
        if outcome is not None:
            verdicts[i] = _verdict(outcome, gold_text, _ms(start))
        else:
            deferred.append((i, extraction.candidates, gold_alts, _ms(start)))
    if deferred:
        from reward.pool import get_pool

        tasks = [(cands, gold_alts, mode, options) for _, cands, gold_alts, _ in deferred]
        results = get_pool(workers).run(tasks, [timeout] * len(tasks))
        for (i, _, gold_alts, spent_ms), (outcome, elapsed) in zip(deferred, results):
            verdicts[i] = _verdict(outcome, " | ".join(gold_alts), spent_ms + elapsed * 1000.0)
    return [v for v in verdicts if v is not None]


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None,
                  **kwargs: Any) -> dict[str, Any]:
    """verl reward function (``reward.custom_reward_function.path=pkg://reward``, ``name=compute_score``).

    Returns the same keys on every call: ``score`` (float), ``acc`` (bool), ``pred`` (str, empty when
    nothing was extracted), ``status`` and ``method`` (str). Keyword arguments come from verl's
    ``reward_kwargs``: ``mode`` (default ``"reward"``), ``timeout`` (default 2 s), ``workers``,
    ``correct_score`` (default 1.0) and ``incorrect_score`` (default 0.0); with ``mode="eval"`` also
    ``precision``, ``rename_variables`` and ``set_accepts_relation``; other keys are ignored.
    Parquet stores one ground-truth string per row: when ``extra_info["answers"]`` holds the acceptable
    answers (a JSON list written by examples/data_preprocess through :func:`reward.gold.verl_fields`, or a
    list), the gold is that list (:func:`reward.gold.verl_gold`), so validation during training grades like
    the evaluator.
    Safe to call from any thread: timeouts are enforced by killing worker processes, never by signals.
    """
    mode: Mode = kwargs.get("mode", "reward")
    timeout = float(kwargs.get("timeout", REWARD_TIMEOUT))
    verdict = verify_batch([solution_str], [verl_gold(ground_truth, extra_info)], mode=mode, timeout=timeout,
                           workers=kwargs.get("workers"), precision=kwargs.get("precision"),
                           rename_variables=kwargs.get("rename_variables", False),
                           set_accepts_relation=kwargs.get("set_accepts_relation", False))[0]
    score = float(kwargs.get("correct_score", 1.0)) if verdict.correct else float(kwargs.get("incorrect_score", 0.0))
    return {"score": score, "acc": bool(verdict.correct), "pred": verdict.pred or "", "status": verdict.status,
            "method": verdict.method}


def _verdict(outcome: Grade, gold_text: str, elapsed_ms: float) -> Verdict:
    return Verdict(outcome.correct and outcome.status == "ok", outcome.status, outcome.pred, gold_text,
                   outcome.method, elapsed_ms)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
