"""The labelled corpus of verifier cases, ``tests/reward/cases/<class>.jsonl``: reading and checking it.

One home for the loader: ``tests/reward/test_labelled_cases.py`` runs every case as its own test and the
verifier benchmark (``scripts/bench_verifier.py``, set (d)) scores the same cases against Math-Verify,
so both read exactly the same cases with the same schema check.

Each line of a class file is one JSON object (format: tests/reward/cases/README.md)::

    {"response": str, "gold": str | number | [str, ...], "label": bool, "reason": str,
     "mode": "eval" | "reward",
     "options": {"precision": k, "rename_variables": bool, "set_accepts_relation": bool}}

``label`` is whether ``reward.verify(response, gold, mode=mode, **options).correct`` must be True. Files
are found with a glob, so a new class file is picked up without touching any code. A malformed line is
reported (:class:`Malformed`, naming the file, line and defect), never raised, so one bad line costs one
case, not the corpus. The corpus lives in the source checkout (:data:`CASES_DIR`); it does not ship in the
wheel.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .verifier_score import TIMEOUT  # per-item deadline (seconds), the same as the verifier benchmark's

CASES_DIR = Path(__file__).resolve().parents[2] / "tests" / "reward" / "cases"  # in a source checkout
REQUIRED = ("response", "gold", "label", "reason")
OPTIONAL = ("mode", "options")
OPTION_TYPES = {"precision": int, "rename_variables": bool, "set_accepts_relation": bool}
MODES = ("eval", "reward")
PRECISION_RANGE = (0, 30)  # reward.verdict.Options accepts precision in [0, 30]


class CaseError(ValueError):
    """A malformed line or file of the corpus; the message starts with ``path:line:``."""


@dataclass(frozen=True)
class Case:
    """One labelled case: ``reward.verify(response, gold, mode=mode, **options).correct`` must be
    ``label``."""

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


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (shorter messages)."""
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
    where = f"{display_path(path)}:{line}"

    def fail(message: str) -> CaseError:
        return CaseError(f"{where}: {message}")

    if not text.strip():
        raise fail("blank line (one JSON object per line, no blank lines)")
    try:
        obj = json.loads(text, object_pairs_hook=_object_without_duplicate_keys,
                         parse_constant=_reject_constant)
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise fail(f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise fail(f"expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise fail(f"unknown key(s) {', '.join(map(repr, unknown))}; "
                   f"allowed: {', '.join(REQUIRED + OPTIONAL)}")
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
            kind = "true or false" if expected is bool else "an integer"
            raise fail(f"option {key!r} must be {kind}, got {value!r}")
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
        return [], [Malformed(path, 0, f"{display_path(path)}: cannot read the file as UTF-8: {exc}")]
    lines = text.split("\n")  # not splitlines(): U+2028 and friends may appear raw inside JSON strings
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines:
        return [], [Malformed(path, 0, f"{display_path(path)}: the file has no cases")]
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
    return (f"{display_path(case.path)}:{case.line} ({case.mode} mode{options}): "
            f"verdict correct={verdict.correct}, "
            f"label {case.label}\n"
            f"  reason:   {case.reason}\n"
            f"  response: {_truncate(case.response)}\n"
            f"  gold:     {case.gold!r}\n"
            f"  verdict:  status={verdict.status} method={verdict.method} pred={verdict.pred!r} "
            f"gold={verdict.gold!r} elapsed_ms={verdict.elapsed_ms:.1f}")


def verify_grouped(items: list[tuple[str, Any, str, dict[str, Any]]], timeout: float = TIMEOUT,
                   workers: int | None = None) -> list[Any]:
    """Verdicts of ``(response, gold, mode, options)`` items in order: one ``reward.verify_batch`` call per
    (mode, options) group (the labelled cases here, every set of the verifier benchmark)."""
    import reward

    groups: dict[tuple[str, tuple[tuple[str, Any], ...]], list[int]] = {}
    for index, (_, _, mode, options) in enumerate(items):
        groups.setdefault((mode, tuple(sorted(options.items()))), []).append(index)
    verdicts: list[Any] = [None] * len(items)
    for (mode, options), indices in groups.items():
        batch = reward.verify_batch([items[i][0] for i in indices], [items[i][1] for i in indices],
                                    mode=mode, timeout=timeout, workers=workers, **dict(options))
        for i, verdict in zip(indices, batch):
            verdicts[i] = verdict
    return verdicts


def verify_cases(cases: list[Case], timeout: float = TIMEOUT, workers: int | None = None) -> list[Any]:
    """Verdicts of ``cases`` in order: one ``reward.verify_batch`` call per (mode, options) group."""
    return verify_grouped([(c.response, c.gold, c.mode, c.options) for c in cases], timeout, workers)
