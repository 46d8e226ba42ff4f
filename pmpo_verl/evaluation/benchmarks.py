"""Benchmark registry and loading: rows from the hub (:mod:`.hub`), a ``--data-dir`` of JSON lines or a custom
JSONL/JSON/parquet file (:mod:`.datafiles`), turned into problems whose golds are prepared by
:func:`reward.gold.prepare_gold` (the rule the training data and the reward use too)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import datafiles, hub
from .errors import EvalError

QUESTION_FIELDS = ("problem", "question", "Problem", "Question", "prompt")
ANSWER_FIELDS = ("answer", "final_answer", "expected_answer", "Answer", "gold", "ground_truth")


@dataclass(frozen=True)
class Benchmark:
    """Where a benchmark lives: hub dataset (id, config, split) and the local ``<name>.jsonl`` file."""

    name: str
    title: str  # column title in results.md (the paper's spelling)
    hub_id: str | None
    hub_split: str = "test"
    hub_config: str | None = None
    local_file: str | None = None  # file name inside --data-dir
    question_fields: tuple = QUESTION_FIELDS
    answer_fields: tuple = ANSWER_FIELDS
    path: str | None = None  # custom benchmark: a JSONL/JSON/parquet file


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
    gold: tuple[str, ...]  # the acceptable gold strings (reward.gold.prepare_gold)
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


def _pick(row: dict, fields: tuple, what: str, where: str) -> Any:
    for f in fields:
        if f in row and row[f] is not None:
            return row[f]
    raise EvalError(f"{where}: row has no {what} field (looked for {', '.join(fields)}; "
                    f"found {', '.join(map(str, row))})")


def _question_of(row: dict, bench: Benchmark, where: str) -> str:
    prompt = row.get("prompt")
    if isinstance(prompt, (list, tuple)) or hasattr(prompt, "tolist"):  # verl parquet: chat messages
        msgs = prompt.tolist() if hasattr(prompt, "tolist") else prompt
        users = [m.get("content", "") for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return str(users[-1])
    return str(_pick(row, bench.question_fields, "question", where))


def golds_of(row: dict, bench: Benchmark, where: str) -> tuple[str, ...]:
    """The gold strings of a row (:func:`reward.gold.prepare_gold`): a verl parquet row's
    ``extra_info.answers``/``ground_truth`` (:func:`reward.gold.verl_gold`), else the first answer field; the
    items of OlympiadBench's ``is_multiple_answer`` lists are the parts of one answer."""
    # imported here: building the CLI parser imports this module (PAPER_BENCHMARKS) and must stay light
    from reward.gold import prepare_gold, verl_gold

    rm = row.get("reward_model")
    if isinstance(rm, dict) and "ground_truth" in rm:
        return prepare_gold(verl_gold(rm["ground_truth"], row.get("extra_info")))
    answer = _pick(row, bench.answer_fields, "answer", where)
    return prepare_gold(answer, parts=bool(row.get("is_multiple_answer")))


def to_problems(rows: list[dict], bench: Benchmark, where: str) -> list[Problem]:
    problems = []
    for i, row in enumerate(rows):
        golds = golds_of(row, bench, f"{where} row {i}")
        if not golds:
            raise EvalError(f"{where} row {i}: empty answer")
        problems.append(Problem(str(i), _question_of(row, bench, f"{where} row {i}"), golds,
                                {k: row[k] for k in ("id", "unique_id", "url") if k in row}))
    return problems


def load(bench: Benchmark, data_dir: str | None = None, limit: int | None = None, *,
         dir_option: str = "--data-dir") -> list[Problem]:
    """Problems of ``bench`` (the first ``limit`` ones), from ``data_dir`` (``<local_file>`` in it), a custom
    file or the hub; ``dir_option`` names the data-dir option in error messages."""
    layout = "JSON lines, the layout of shared/data/benchmarks/MANIFEST.md"
    if bench.path is not None:
        rows, where = datafiles.read_rows(bench.path), bench.path
    elif data_dir is not None:
        if not os.path.isdir(data_dir):
            raise EvalError(f"{dir_option} {data_dir} does not exist (or is not a directory)")
        path = os.path.join(data_dir, bench.local_file)
        if not os.path.isfile(path):
            raise EvalError(f"{dir_option} {data_dir} has no {bench.local_file} for benchmark {bench.name!r} "
                            "(expected the layout of shared/data/benchmarks: <name>.jsonl)")
        rows, where = datafiles.read_rows(path), path
    else:
        hint = f"Without hub access pass {dir_option} DIR, a directory holding {bench.local_file} ({layout})"
        rows = hub.load_split(bench.hub_id, bench.hub_config, bench.hub_split, f"benchmark {bench.name!r}",
                              hint)
        where = bench.hub_id
    if limit is not None:
        rows = rows[:limit]
    return to_problems(rows, bench, where)
