"""Benchmark registry, loaders (hub via ``datasets``, local JSON lines, custom JSONL/parquet files) and
answer normalisation (AIME strings, AMC floats, Minerva/OlympiadBench lists)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from . import hub
from .errors import EvalError

QUESTION_FIELDS = ("problem", "question", "Problem", "Question", "prompt")
ANSWER_FIELDS = ("answer", "final_answer", "expected_answer", "Answer", "gold", "ground_truth")


@dataclass(frozen=True)
class Benchmark:
    """Where a benchmark lives: hub dataset (id, config, split) and the local ``<name>.jsonl`` file."""

    name: str
    title: str  # column title in results.md (the paper's spelling)
    hub_id: Optional[str]
    hub_split: str = "test"
    hub_config: Optional[str] = None
    local_file: Optional[str] = None  # file name inside --data-dir
    question_fields: tuple = QUESTION_FIELDS
    answer_fields: tuple = ANSWER_FIELDS
    path: Optional[str] = None  # custom benchmark: a JSONL/JSON/parquet file


REGISTRY: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark("aime24", "AIME24", "HuggingFaceH4/aime_2024", "train", local_file="aime24.jsonl"),
        Benchmark("aime25", "AIME25", "math-ai/aime25", "test", local_file="aime25.jsonl"),
        # AMC 2022-23 (83 problems) of the paper's tables; the hub copy is AI-MO's validation set
        Benchmark("amc", "AMC", "AI-MO/aimo-validation-amc", "train", local_file="amc.jsonl"),
        Benchmark("amc23", "AMC23", "math-ai/amc23", "test", local_file="amc23.jsonl"),
        Benchmark("math500", "MATH500", "HuggingFaceH4/MATH-500", "test", local_file="math500.jsonl"),
        Benchmark("minerva", "Minerva", "knoveleng/Minerva-Math", "train", local_file="minerva.jsonl"),
        Benchmark("olympiadbench", "Oly.", "Hothan/OlympiadBench", "train", "OE_TO_maths_en_COMP",
                  local_file="olympiadbench.jsonl", answer_fields=("final_answer", "answer")),
    ]
}
PAPER_BENCHMARKS = ("aime24", "amc", "math500", "minerva", "olympiadbench")
CUSTOM_SUFFIXES = (".jsonl", ".json", ".parquet")


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    gold: Any  # str, or a list of acceptable alternatives
    extra: dict = field(default_factory=dict, compare=False)


def known_names() -> str:
    return ", ".join(REGISTRY)


def parse_specs(spec: str) -> list[Benchmark]:
    """``"aime24,amc,/path/set.jsonl"`` -> benchmarks; unknown names raise :class:`EvalError`."""
    out: list[Benchmark] = []
    for raw in (s.strip() for s in spec.split(",")):
        if not raw:
            continue
        if raw.lower() in REGISTRY:
            bench = REGISTRY[raw.lower()]
        elif raw.endswith(CUSTOM_SUFFIXES) or os.sep in raw:
            if not os.path.isfile(raw):
                raise EvalError(f"benchmark file {raw!r} does not exist")
            stem = os.path.splitext(os.path.basename(raw))[0]
            bench = Benchmark(stem, stem, None, path=os.path.abspath(raw))
        else:
            raise EvalError(f"unknown benchmark {raw!r}; known benchmarks: {known_names()} "
                            "(or a path to a .jsonl/.json/.parquet file)")
        if bench.name in {b.name for b in out}:
            raise EvalError(f"benchmark {bench.name!r} given twice")
        out.append(bench)
    if not out:
        raise EvalError(f"no benchmark given; known benchmarks: {known_names()}")
    return out


# ----------------------------------------------------------------------------------------- normalisation


def normalize_gold(answer: Any) -> Any:
    """Canonical gold: integral floats -> integer strings (AMC ``27.0`` -> ``"27"``), integer strings lose
    leading zeros (AIME ``"025"`` -> ``"25"``), list items are stripped and a one-item list is unwrapped.
    Longer lists stay lists: the verifier accepts any of them."""
    if hasattr(answer, "tolist") and not isinstance(answer, str):
        answer = answer.tolist()
    if isinstance(answer, (list, tuple)):
        items = [normalize_gold(a) for a in answer]
        items = [a for a in items if a not in (None, "")]
        return items[0] if len(items) == 1 else items
    if isinstance(answer, bool) or answer is None:
        return None
    if isinstance(answer, int):
        return str(answer)
    if isinstance(answer, float):
        if not math.isfinite(answer):
            return None
        return str(int(answer)) if answer.is_integer() else repr(answer)
    text = str(answer).strip()
    if text.lstrip("-").isdigit():
        return str(int(text))
    return text


def _pick(row: dict, fields: tuple, what: str, where: str) -> Any:
    for f in fields:
        if f in row and row[f] is not None:
            return row[f]
    raise EvalError(f"{where}: row has no {what} field (looked for {', '.join(fields)}; found {', '.join(row)})")


def _question_of(row: dict, bench: Benchmark, where: str) -> str:
    prompt = row.get("prompt")
    if isinstance(prompt, (list, tuple)) or hasattr(prompt, "tolist"):  # verl parquet: chat messages
        msgs = prompt.tolist() if hasattr(prompt, "tolist") else prompt
        users = [m.get("content", "") for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return str(users[-1])
    return str(_pick(row, bench.question_fields, "question", where))


def _answer_of(row: dict, bench: Benchmark, where: str) -> Any:
    rm = row.get("reward_model")
    if isinstance(rm, dict) and "ground_truth" in rm:  # verl parquet
        return rm["ground_truth"]
    ans = _pick(row, bench.answer_fields, "answer", where)
    if row.get("is_multiple_answer") and isinstance(ans, (list, tuple)) and len(ans) > 1:
        return ", ".join(str(a).strip() for a in ans)  # OlympiadBench: several parts form one answer
    return ans


def to_problems(rows: list[dict], bench: Benchmark, where: str) -> list[Problem]:
    problems = []
    for i, row in enumerate(rows):
        gold = normalize_gold(_answer_of(row, bench, f"{where} row {i}"))
        if gold in (None, "", []):
            raise EvalError(f"{where} row {i}: empty answer")
        problems.append(Problem(str(i), _question_of(row, bench, f"{where} row {i}"), gold,
                                {k: row[k] for k in ("id", "unique_id", "url") if k in row}))
    return problems


# ----------------------------------------------------------------------------------------------- loaders


def read_rows(path: str) -> list[dict]:
    """Rows of a JSON lines, JSON (a list) or parquet file."""
    try:
        if path.endswith(".parquet"):
            import pandas as pd

            return pd.read_parquet(path).to_dict(orient="records")
        with open(path, encoding="utf-8") as fh:
            if path.endswith(".json"):
                data = json.load(fh)
                return list(data if isinstance(data, list) else data.get("data", []))
            return [json.loads(line) for line in fh if line.strip()]
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read {path}: {exc}") from None


def _load_hub(bench: Benchmark) -> list[dict]:
    hint = (f"cannot load benchmark {bench.name!r} from the Hugging Face hub ({bench.hub_id}"
            f"{':' + bench.hub_config if bench.hub_config else ''}, split {bench.hub_split})")
    try:
        import datasets
    except ImportError:
        raise EvalError(f"{hint}: the `datasets` package is not installed; pass --data-dir DIR with "
                        f"{bench.local_file} (JSON lines, the layout of shared/data/benchmarks/MANIFEST.md)") from None
    if not hub.offline() and not hub.resolves():  # fail fast instead of minutes of retries
        raise EvalError(f"{hint}: the hub host does not resolve (no network?). Without hub access pass --data-dir "
                        f"DIR, a directory holding {bench.local_file} (JSON lines, the layout of "
                        "shared/data/benchmarks/MANIFEST.md); hub copies already cached load with HF_HUB_OFFLINE=1")
    try:
        ds = datasets.load_dataset(bench.hub_id, bench.hub_config, split=bench.hub_split)
        return [dict(r) for r in ds]
    except Exception as exc:  # offline, unknown id, ...: one line for the user
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise EvalError(f"{hint}: {first}. Without hub access pass --data-dir DIR, a directory holding "
                        f"{bench.local_file} (JSON lines, the layout of shared/data/benchmarks/MANIFEST.md)") from None


def load(bench: Benchmark, data_dir: Optional[str] = None, limit: Optional[int] = None) -> list[Problem]:
    """Problems of ``bench`` (the first ``limit`` ones), from --data-dir, a custom file or the hub."""
    if bench.path is not None:
        rows, where = read_rows(bench.path), bench.path
    elif data_dir is not None:
        path = os.path.join(data_dir, bench.local_file)
        if not os.path.isfile(path):
            raise EvalError(f"--data-dir {data_dir} has no {bench.local_file} for benchmark {bench.name!r} "
                            "(expected the layout of shared/data/benchmarks: <name>.jsonl)")
        rows, where = read_rows(path), path
    else:
        rows, where = _load_hub(bench), bench.hub_id
    if limit is not None:
        rows = rows[:limit]
    return to_problems(rows, bench, where)
