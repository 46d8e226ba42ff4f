"""Shared helpers of the data preparation scripts: parquet rows and errors. The prompt texts, the gold rule,
the file reader and the hub loader are the evaluator's (:mod:`pmpo_verl.prompts`, :mod:`reward.gold`,
:mod:`pmpo_verl.evaluation.datafiles`, :mod:`pmpo_verl.evaluation.hub`), so that training data, evaluation
and the reward agree by construction.

Row schema (verl ``RLHFDataset``), identical for every file so that verl can concatenate several validation
files::

    data_source   "pmpo/<name>"   (names the metrics: val-core/pmpo/aime24/acc/mean@1)
    prompt        chat list (pmpo_verl.prompts.chat_messages; verl applies the tokenizer's chat template)
    ability       "math"
    reward_model  {"style": "rule", "ground_truth": <str>}
    extra_info    {"index": int, "split": str, "answers": <JSON list of every acceptable gold string>}

``ground_truth`` and ``answers`` are written by :func:`reward.gold.verl_fields` from the prepared golds
(:func:`reward.gold.prepare_gold`): ``ground_truth`` is the first acceptable answer, ``answers`` all of them
as a JSON string (a parquet column must have one type across files); ``reward.compute_score`` reads them
back with :func:`reward.gold.verl_gold`, so a row with several acceptable answers (Minerva) is graded against
all of them.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pmpo_verl.evaluation.errors import EvalError
from pmpo_verl.prompts import CHAT_TEMPLATES, chat_messages
from reward.gold import verl_fields

TEMPLATES = CHAT_TEMPLATES


class DataError(SystemExit):
    """A missing or malformed input: exits with a message instead of a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def one_line_errors(main: Callable[..., int]) -> Callable[..., int]:
    """``main`` with the evaluator's :class:`EvalError` (file reader, hub loader, benchmark loader)
    turned into :class:`DataError`."""

    @functools.wraps(main)
    def wrapped(*args: Any, **kwargs: Any) -> int:
        try:
            return main(*args, **kwargs)
        except EvalError as exc:
            raise DataError(str(exc)) from None

    return wrapped


def make_row(data_source: str, problem: str, golds: Sequence[str], index: int, split: str,
             template: str) -> dict[str, Any]:
    """One verl row; ``golds`` are prepared gold strings (:func:`reward.gold.prepare_gold`)."""
    ground_truth, answers = verl_fields(tuple(golds))
    return {
        "data_source": data_source,
        "prompt": chat_messages(problem, template),
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": ground_truth},
        "extra_info": {"index": int(index), "split": split, "answers": answers},
    }


def pick(row: dict[str, Any], keys: Iterable[str], what: str, source: str) -> Any:
    for key in keys:
        if key in row and row[key] is not None:
            return row[key]
    raise DataError(f"{source}: row has no {what} field (looked for {', '.join(keys)}; "
                    f"has {', '.join(map(str, row))})")


def write_parquet(rows: list[dict[str, Any]], path: str) -> None:
    if not rows:
        raise DataError(f"no rows to write to {path}")
    import pandas as pd

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    print(f"wrote {len(rows)} rows to {path}", file=sys.stderr)
