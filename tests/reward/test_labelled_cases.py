"""The labelled corpus: every ``tests/reward/cases/*.jsonl`` case as its own test.

Each line of a class file is one JSON object (format: tests/reward/cases/README.md)::

    {"response": str, "gold": str | number | [str, ...], "label": bool, "reason": str,
     "mode": "eval" | "reward", "options": {"precision": k, "rename_variables": bool, "set_accepts_relation": bool}}

``label`` is whether ``reward.verify(response, gold, mode=mode, **options).correct`` must be True.
Files are found with a glob, so a new class file is picked up without touching this module. A
malformed line is a failing test of its own (``<stem>:<line>``) naming the file, line and defect; the
well-formed cases of a file are verified in one ``reward.verify_batch`` call per (mode, options) group,
once per session, and each case then asserts its own verdict.

scripts/bench_verifier.py (set (d)) loads the corpus through :func:`load_corpus`, so the benchmark and
these tests read exactly the same cases.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CASES_DIR = Path(__file__).resolve().parent / "cases"
REQUIRED = ("response", "gold", "label", "reason")
OPTIONAL = ("mode", "options")
OPTION_TYPES = {"precision": int, "rename_variables": bool, "set_accepts_relation": bool}
MODES = ("eval", "reward")
PRECISION_RANGE = (0, 30)  # reward.verdict.Options accepts precision in [0, 30]
TIMEOUT = 5.0  # per-item deadline, as in scripts/bench_verifier.py


class CaseError(ValueError):
    """A malformed line or file of the corpus; the message starts with ``path:line:``."""


@dataclass(frozen=True)
class Case:
    """One labelled case: ``reward.verify(response, gold, mode=mode, **options).correct`` must be ``label``."""

    path: Path
    line: int
    response: str
    gold: Any
    label: bool
    reason: str
    mode: str = "eval"
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.path.stem}:{self.line}"

    @property
    def group(self) -> tuple[str, tuple[tuple[str, Any], ...]]:
        """Cases sharing a group are verified in one ``verify_batch`` call."""
        return self.mode, tuple(sorted(self.options.items()))

    @property
    def key(self) -> str:
        """Identity of the input (not the label or reason), for duplicate and contradiction checks."""
        return json.dumps([self.response, self.gold, self.mode, sorted(self.options.items())])


@dataclass(frozen=True)
class Malformed:
    """A line (``line >= 1``) or a whole file (``line == 0``) that is not a valid case."""

    path: Path
    line: int
    message: str

    @property
    def id(self) -> str:
        return f"{self.path.stem}:{self.line if self.line else 'file'}"


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"duplicate key {key!r}")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_case(text: str, path: Path, line: int) -> Case:
    """One line of a class file as a :class:`Case`; raises :class:`CaseError` saying what is wrong."""
    where = f"{_display(path)}:{line}"

    def fail(message: str) -> CaseError:
        return CaseError(f"{where}: {message}")

    if not text.strip():
        raise fail("blank line (one JSON object per line, no blank lines)")
    try:
        obj = json.loads(text, object_pairs_hook=_object_without_duplicate_keys, parse_constant=_reject_constant)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise fail(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise fail(f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise fail(f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(REQUIRED + OPTIONAL)}")
    missing = [key for key in REQUIRED if key not in obj]
    if missing:
        raise fail(f"missing required key(s) {', '.join(map(repr, missing))}")

    response = obj["response"]
    if not isinstance(response, str):
        raise fail(f"'response' must be a string, got {type(response).__name__}")

    gold = obj["gold"]
    if isinstance(gold, str):
        if not gold.strip():
            raise fail("'gold' is an empty string")
    elif _is_number(gold):
        if not math.isfinite(gold):
            raise fail("'gold' must be a finite number")
    elif isinstance(gold, list):
        if not gold:
            raise fail("'gold' is an empty list (a list gold holds at least one acceptable answer)")
        for i, alt in enumerate(gold):
            if not isinstance(alt, str) or not alt.strip():
                raise fail(f"'gold' list item {i} must be a non-empty string, got {alt!r}")
    else:
        raise fail(f"'gold' must be a string, a number or a list of strings, got {type(gold).__name__}")

    label = obj["label"]
    if not isinstance(label, bool):
        raise fail(f"'label' must be true or false, got {label!r}")

    reason = obj["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise fail("'reason' must be a non-empty string saying why the label is right")

    mode = obj.get("mode", "eval")
    if mode not in MODES:
        raise fail(f"'mode' must be one of {', '.join(map(repr, MODES))}, got {mode!r}")

    options = obj.get("options", {})
    if not isinstance(options, dict):
        raise fail(f"'options' must be an object, got {type(options).__name__}")
    unknown = sorted(set(options) - set(OPTION_TYPES))
    if unknown:
        raise fail(f"unknown option(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(OPTION_TYPES)}")
    for key, value in options.items():
        expected = OPTION_TYPES[key]
        if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
            raise fail(f"option {key!r} must be {'true or false' if expected is bool else 'an integer'}, got {value!r}")
    if "precision" in options and not PRECISION_RANGE[0] <= options["precision"] <= PRECISION_RANGE[1]:
        raise fail(f"option 'precision' must be in [{PRECISION_RANGE[0]}, {PRECISION_RANGE[1]}], "
                   f"got {options['precision']}")
    if mode == "reward" and ("precision" in options or any(options.get(k) for k in ("rename_variables",
                                                                                     "set_accepts_relation"))):
        raise fail("reward mode takes no eval-mode options (reward.verify raises ValueError)")
    return Case(path, line, response, gold, label, reason, mode, dict(options))


def load_file(path: Path) -> tuple[list[Case], list[Malformed]]:
    """All cases of one class file, and what is malformed in it (never raises)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Malformed(path, 0, f"{_display(path)}: cannot read the file as UTF-8: {exc}")]
    lines = text.split("\n")  # not splitlines(): U+2028 and friends may appear raw inside JSON strings
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines:
        return [], [Malformed(path, 0, f"{_display(path)}: the file has no cases")]
    cases: list[Case] = []
    errors: list[Malformed] = []
    for number, line in enumerate(lines, start=1):
        try:
            cases.append(parse_case(line.removesuffix("\r"), path, number))
        except CaseError as exc:
            errors.append(Malformed(path, number, str(exc)))
    return cases, errors


def corpus_files(directory: Path = CASES_DIR) -> list[Path]:
    """The class files, one per class, in name order."""
    return sorted(directory.glob("*.jsonl"))


def load_corpus(directory: Path = CASES_DIR) -> tuple[dict[Path, list[Case]], list[Malformed]]:
    """Every class file's cases (keyed by file, in name order) and every malformed line or file."""
    cases: dict[Path, list[Case]] = {}
    errors: list[Malformed] = []
    for path in corpus_files(directory):
        cases[path], file_errors = load_file(path)
        errors.extend(file_errors)
    return cases, errors


def _truncate(text: str, limit: int = 400) -> str:
    if len(text) <= limit:
        return repr(text)
    half = limit // 2
    return f"{text[:half]!r} ... {text[-half:]!r} ({len(text)} chars, middle cut)"


def describe(case: Case, verdict: Any) -> str:
    """The failure message of a case whose verdict contradicts its label."""
    options = f", options {case.options}" if case.options else ""
    return (f"{_display(case.path)}:{case.line} ({case.mode} mode{options}): verdict correct={verdict.correct}, "
            f"label {case.label}\n"
            f"  reason:   {case.reason}\n"
            f"  response: {_truncate(case.response)}\n"
            f"  gold:     {case.gold!r}\n"
            f"  verdict:  status={verdict.status} method={verdict.method} pred={verdict.pred!r} "
            f"gold={verdict.gold!r} elapsed_ms={verdict.elapsed_ms:.1f}")


def verify_cases(cases: list[Case], timeout: float = TIMEOUT, workers: int | None = None) -> list[Any]:
    """Verdicts of ``cases`` in order: one ``reward.verify_batch`` call per (mode, options) group."""
    import reward

    groups: dict[tuple[str, tuple[tuple[str, Any], ...]], list[int]] = {}
    for index, case in enumerate(cases):
        groups.setdefault(case.group, []).append(index)
    verdicts: list[Any] = [None] * len(cases)
    for (mode, options), indices in groups.items():
        batch = reward.verify_batch([cases[i].response for i in indices], [cases[i].gold for i in indices],
                                    mode=mode, timeout=timeout, workers=workers, **dict(options))
        for i, verdict in zip(indices, batch):
            verdicts[i] = verdict
    return verdicts


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
    assert not strays, f"not a class file (<class>.jsonl) or README.md in {_display(CASES_DIR)}: {strays}"


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
