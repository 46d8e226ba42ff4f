"""Reading rows of a local data file: JSON lines, JSON (a list of rows, or an object holding one list) or
parquet. The one reader of benchmark and training files, for the evaluator and
``examples/data_preprocess``."""

from __future__ import annotations

import json
import os
from typing import Any

from .errors import EvalError


def read_rows(path: str) -> list[dict[str, Any]]:
    """The rows of ``path`` by its suffix (``.parquet``, ``.json``, else JSON lines); a missing, unreadable or
    malformed file raises :class:`EvalError` naming the file (and the line, for JSON lines)."""
    if not os.path.isfile(path):
        raise EvalError(f"file not found: {path}")
    try:
        if path.endswith(".parquet"):
            import pandas as pd

            return pd.read_parquet(path).to_dict(orient="records")
        with open(path, encoding="utf-8") as fh:
            if path.endswith(".json"):
                return _rows_of_json(json.load(fh), path)
            return [_json_line(line, path, lineno) for lineno, line in enumerate(fh, 1) if line.strip()]
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read {path}: {exc}") from None


def _json_line(line: str, path: str, lineno: int) -> dict[str, Any]:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise EvalError(f"{path}:{lineno}: not JSON ({exc})") from None


def _rows_of_json(data: Any, path: str) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise EvalError(f"{path}: expected a JSON list of rows (or an object holding one list)")
        data = lists[0]
    if not isinstance(data, list):
        raise EvalError(f"{path}: expected a JSON list of rows")
    return data
