"""Shared helpers of the data preparation scripts (prompt templates, gold answers, readers, parquet rows).

Row schema (verl ``RLHFDataset``, ../shared/docs/verl-integration.md §10), identical for every file so that
verl can concatenate several validation files::

    data_source   "pmpo/<name>"          (names the metrics: val-core/pmpo/aime24/acc/mean@1)
    prompt        chat list (template below; the tokenizer's chat template is applied by verl)
    ability       "math"
    reward_model  {"style": "rule", "ground_truth": <str>}
    extra_info    {"index": int, "split": str, "answers": <JSON list of every acceptable gold string>}

``ground_truth`` is always a string: ``reward.compute_score`` grades a string gold (integral floats such as AMC's
``142.0`` are written ``142``). A benchmark row with several acceptable answers (Minerva) keeps the first as
``ground_truth``; all of them are in ``extra_info.answers`` (the reward reads a *list* gold as alternatives, but a
parquet column must have one type across files, and a JSON-encoded string would be graded as literal text).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
TEMPLATES = ("qwen_math", "r1d")


class DataError(SystemExit):
    """A missing or malformed input: exits with a message instead of a traceback."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def build_prompt(problem: str, template: str) -> list[dict[str, str]]:
    """The chat messages of one problem.

    ``qwen_math`` (the paper's template): system = the step-by-step instruction, user = the problem.
    ``r1d`` (R1-Distill; GMPO's exact text is not public): no system message (DeepSeek's usage advice), the
    instruction appended to the user message.
    """
    if template == "qwen_math":
        return [{"role": "system", "content": QWEN_MATH_SYSTEM}, {"role": "user", "content": problem}]
    if template == "r1d":
        return [{"role": "user", "content": f"{problem}\n{QWEN_MATH_SYSTEM}"}]
    raise DataError(f"unknown template {template!r}; choose from {', '.join(TEMPLATES)}")


def gold_strings(answer: Any) -> list[str]:
    """Acceptable gold answers as strings: lists are alternatives (stripped, duplicates dropped), integral
    floats become integers (``27.0`` -> ``27``), strings are stripped (leading zeros are kept: the verifier
    compares numbers)."""
    if hasattr(answer, "tolist") and not isinstance(answer, str):
        answer = answer.tolist()
    if isinstance(answer, (list, tuple)):
        out: list[str] = []
        for item in answer:
            for alt in gold_strings(item):
                if alt not in out:
                    out.append(alt)
        return out
    if answer is None or isinstance(answer, bool):
        return []
    if isinstance(answer, int):
        return [str(answer)]
    if isinstance(answer, float):
        if not math.isfinite(answer):
            return []
        return [str(int(answer))] if answer.is_integer() else [repr(answer)]
    text = str(answer).strip()
    return [text] if text else []


def last_boxed(solution: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in a MATH solution, braces matched."""
    best = None
    for macro in ("\\boxed", "\\fbox"):
        pos = solution.rfind(macro)
        if pos > (best[0] if best else -1):
            best = (pos, macro)
    if best is None:
        return None
    i = best[0] + len(best[1])
    while i < len(solution) and solution[i] == " ":
        i += 1
    if i >= len(solution):
        return None
    if solution[i] != "{":  # "\boxed 5" form
        token = solution[i:].split("$", 1)[0].strip()
        return token or None
    depth = 0
    for j in range(i, len(solution)):
        if solution[j] == "{":
            depth += 1
        elif solution[j] == "}":
            depth -= 1
            if depth == 0:
                content = solution[i + 1 : j].strip()
                return content or None
    return None


def make_row(data_source: str, problem: str, golds: Sequence[str], index: int, split: str,
             template: str) -> dict[str, Any]:
    return {
        "data_source": data_source,
        "prompt": build_prompt(problem, template),
        "ability": "math",
        "reward_model": {"style": "rule", "ground_truth": golds[0]},
        "extra_info": {"index": int(index), "split": split, "answers": json.dumps(list(golds), ensure_ascii=False)},
    }


def read_records(path: str) -> list[dict[str, Any]]:
    """Rows of a local ``.jsonl``, ``.json`` (a list, or an object with a list) or ``.parquet`` file."""
    if not os.path.isfile(path):
        raise DataError(f"input file not found: {path}")
    if path.endswith(".parquet"):
        import pandas as pd

        return pd.read_parquet(path).to_dict(orient="records")
    with open(path, encoding="utf-8") as fh:
        if path.endswith(".jsonl"):
            rows = []
            for lineno, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise DataError(f"{path}:{lineno}: not JSON ({exc})") from None
            return rows
        data = json.load(fh)
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DataError(f"{path}: expected a JSON list of rows (or an object holding one list)")
        data = lists[0]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of rows")
    return data


def load_hub(name: str, config: str | None, split: str) -> list[dict[str, Any]]:
    """Rows of a hub dataset split (the only split when ``split`` is absent and the dataset has one);
    ``datasets`` is imported only here, so local runs stay offline."""
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - verl depends on datasets
        raise DataError(f"`datasets` is not installed ({exc}); pass local files instead") from None
    where = f"{name}" + (f" ({config})" if config else "")
    try:
        dsd = datasets.load_dataset(name, config) if config else datasets.load_dataset(name)
    except Exception as exc:  # noqa: BLE001 - network, auth, unknown name: one clear message
        raise DataError(f"could not load {where} from the hub: {type(exc).__name__}: {exc}\n"
                        "       offline? pass local files instead (see --help)") from None
    if split in dsd:
        ds = dsd[split]
    elif len(dsd) == 1:
        ds = next(iter(dsd.values()))
    else:
        raise DataError(f"{where} has no split {split!r} (splits: {', '.join(dsd)})")
    return [dict(row) for row in ds]


def pick(row: dict[str, Any], keys: Iterable[str], what: str, source: str) -> Any:
    for key in keys:
        if key in row and row[key] is not None:
            return row[key]
    raise DataError(f"{source}: row has no {what} field (looked for {', '.join(keys)}; has {', '.join(map(str, row))})")


def write_parquet(rows: list[dict[str, Any]], path: str) -> None:
    if not rows:
        raise DataError(f"no rows to write to {path}")
    import pandas as pd

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    print(f"wrote {len(rows)} rows to {path}", file=sys.stderr)
