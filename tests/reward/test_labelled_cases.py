"""The labelled corpus: every ``tests/reward/cases/*.jsonl`` case as its own test.

Each line of a class file is one JSON object (format: tests/reward/cases/README.md)::

    {"response": str, "gold": str | number | [str, ...], "label": bool, "reason": str,
     "mode": "eval" | "reward", "options": {"precision": k, "rename_variables": bool, "set_accepts_relation": bool}}

``label`` is whether ``reward.verify(response, gold, mode=mode, **options).correct`` must be True.
Files are found with a glob, so a new class file is picked up without touching this module. A
malformed line is a failing test of its own (``<stem>:<line>``) naming the file, line and defect; the
well-formed cases of a file are verified in one ``reward.verify_batch`` call per (mode, options) group,
once per session, and each case then asserts its own verdict.

The loader and schema check live in :mod:`pmpo_verl.bench.labelled_cases`, which
scripts/bench_verifier.py (set (d)) reads the corpus through too, so the benchmark and these tests read
exactly the same cases.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pmpo_verl.bench.labelled_cases import (
    CASES_DIR,
    Case,
    CaseError,
    Malformed,
    describe,
    display_path,
    load_corpus,
    load_file,
    parse_case,
    verify_cases,
)

# ---------------------------------------------------------------- the corpus, one test per case

CORPUS, MALFORMED = load_corpus()
PARAMS = [pytest.param(case, id=case.id) for cases in CORPUS.values() for case in cases] + \
         [pytest.param(bad, id=bad.id) for bad in MALFORMED]


@pytest.fixture(scope="session")
def corpus_verdicts():
    """Verdicts per class file, computed on first use for the whole file (one batch per group)."""
    cache: dict[Path, dict[int, Any]] = {}

    def get(case: Case) -> Any:
        if case.path not in cache:
            cases = CORPUS[case.path]
            cache[case.path] = {c.line: v for c, v in zip(cases, verify_cases(cases))}
        return cache[case.path][case.line]

    return get


@pytest.mark.parametrize("case", PARAMS)
def test_labelled_case(case, corpus_verdicts):
    if isinstance(case, Malformed):
        pytest.fail(f"malformed corpus entry: {case.message}", pytrace=False)
    verdict = corpus_verdicts(case)
    if verdict.correct is not case.label:
        pytest.fail(describe(case, verdict), pytrace=False)


def test_no_duplicate_or_contradictory_cases():
    """The same input twice in one file is a copy; the same input with both labels anywhere is a contradiction."""
    seen: dict[str, list[Case]] = {}
    for cases in CORPUS.values():
        for case in cases:
            seen.setdefault(case.key, []).append(case)
    problems = []
    for group in seen.values():
        if len({c.label for c in group}) > 1:
            problems.append("contradictory labels: " + ", ".join(f"{c.id}={c.label}" for c in group))
        stems = [c.path for c in group]
        for path in set(stems):
            same = [c.id for c in group if c.path == path]
            if len(same) > 1:
                problems.append("duplicate case in one file: " + ", ".join(same))
    assert not problems, "\n".join(problems)


def test_cases_directory_holds_only_class_files_and_the_readme():
    """A misnamed file (``x.json``, ``x.jsonl.txt``) would be skipped silently by the glob."""
    assert (CASES_DIR / "README.md").is_file()
    strays = sorted(p.name for p in CASES_DIR.iterdir()
                    if p.name != "README.md" and not (p.is_file() and p.suffix == ".jsonl"))
    assert not strays, f"not a class file (<class>.jsonl) or README.md in {display_path(CASES_DIR)}: {strays}"


# ---------------------------------------------------------------- the schema check itself

GOOD = {"response": "\\boxed{1}", "gold": "1", "label": True, "reason": "same integer"}
_DROP = object()  # a key to leave out


def _line(**changes: Any) -> str:
    obj = dict(GOOD, **changes)
    return json.dumps({k: v for k, v in obj.items() if v is not _DROP})


@pytest.mark.parametrize("text", [
    _line(),
    _line(gold=27.0),
    _line(gold=3),
    _line(gold=["6630.65", "6630"]),
    _line(response=""),
    _line(mode="reward"),
    _line(mode="reward", options={"rename_variables": False}),
    _line(options={"precision": 2, "rename_variables": True, "set_accepts_relation": True}),
    _line(options={}),
    _line(reason="contains \u2028 a raw line separator"),
])
def test_schema_accepts(text):
    case = parse_case(text, CASES_DIR / "example.jsonl", 1)
    assert case.id == "example:1"


@pytest.mark.parametrize("text,message", [
    ("", "blank line"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"response": "1", "response": "2", "gold": "1", "label": true, "reason": "r"}', "duplicate key 'response'"),
    (_line(lable=True), "unknown key(s) 'lable'"),
    (_line(label=_DROP), "missing required key(s) 'label'"),
    (_line(reason=_DROP), "missing required key(s) 'reason'"),
    (_line(reason="  "), "'reason' must be a non-empty string"),
    (_line(reason=3), "'reason' must be a non-empty string"),
    (_line(response=None), "'response' must be a string"),
    (_line(gold=""), "'gold' is an empty string"),
    (_line(gold=[]), "'gold' is an empty list"),
    (_line(gold=["1", 2]), "'gold' list item 1"),
    (_line(gold=True), "'gold' must be a string, a number or a list of strings"),
    (_line(gold=None), "'gold' must be a string, a number or a list of strings"),
    (_line(gold={"a": 1}), "'gold' must be a string, a number or a list of strings"),
    ('{"response": "1", "gold": NaN, "label": true, "reason": "r"}', "NaN is not valid JSON"),
    (_line(label="true"), "'label' must be true or false"),
    (_line(label=1), "'label' must be true or false"),
    (_line(mode="strict"), "'mode' must be one of"),
    (_line(options=[]), "'options' must be an object"),
    (_line(options={"float_rounding": 2}), "unknown option(s) 'float_rounding'"),
    (_line(options={"precision": "2"}), "option 'precision' must be an integer"),
    (_line(options={"precision": True}), "option 'precision' must be an integer"),
    (_line(options={"precision": 2.0}), "option 'precision' must be an integer"),
    (_line(options={"precision": None}), "option 'precision' must be an integer"),
    (_line(options={"precision": 31}), "option 'precision' must be in [0, 30]"),
    (_line(options={"rename_variables": 1}), "option 'rename_variables' must be true or false"),
    (_line(mode="reward", options={"precision": 2}), "reward mode takes no eval-mode options"),
    (_line(mode="reward", options={"set_accepts_relation": True}), "reward mode takes no eval-mode options"),
])
def test_schema_rejects_with_file_and_line(text, message):
    with pytest.raises(CaseError) as info:
        parse_case(text, CASES_DIR / "example.jsonl", 7)
    assert str(info.value).split(": ", 1)[0].endswith("example.jsonl:7")
    assert message in str(info.value)


def test_load_file_reports_each_bad_line_and_keeps_the_good_ones(tmp_path):
    path = tmp_path / "demo.jsonl"
    path.write_text("\n".join([_line(), _line(lable=True), "", _line(label=False, reason="other")]) + "\n")
    cases, errors = load_file(path)
    assert [c.id for c in cases] == ["demo:1", "demo:4"]
    assert [e.id for e in errors] == ["demo:2", "demo:3"]
    assert errors[0].message.split(": ", 1)[0].endswith("demo.jsonl:2") and "'lable'" in errors[0].message
    assert "blank line" in errors[1].message


def test_load_file_whole_file_problems(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe{}\n")
    assert [e.id for e in load_file(empty)[1]] == ["empty:file"]
    assert "UTF-8" in load_file(binary)[1][0].message
