#!/usr/bin/env python3
"""Write the training set of the paper's recipe (MATH, levels 3-5, about 8.5k problems) as verl parquet.

The GMPO / Dr.GRPO "MATH level 3-5" set (8,523 problems) is drawn from MATH's 12,000 problems outside MATH-500
(the 7,500 train problems plus the 4,500 test problems that are not in MATH-500). By default this script takes
both splits of the hub copy and drops every MATH-500 problem, so no validation problem is trained on:

    python examples/data_preprocess/math_lvl3to5.py --output-dir ~/data/pmpo/qwen_math
    # offline: local MATH files (jsonl/json/parquet rows with problem, level, solution) and the MATH-500 list
    python examples/data_preprocess/math_lvl3to5.py --local-file math_train.jsonl math_test.jsonl \\
        --exclude-file ../shared/data/benchmarks/math500.jsonl --output-dir ~/data/pmpo/qwen_math
    # MATH train split only (about 5k problems)
    python examples/data_preprocess/math_lvl3to5.py --splits train --no-exclude

Writes ``<output-dir>/math_lvl3to5_train.parquet``, ``data_source = pmpo/math``; the gold answer is the last
``\\boxed{}`` of the reference solution (rows without one are skipped and counted).
"""

from __future__ import annotations

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _pmpo_data import TEMPLATES, DataError, make_row, one_line_errors, pick, write_parquet

from pmpo_verl.evaluation.datafiles import read_rows
from pmpo_verl.evaluation.hub import load_split
from reward.gold import last_boxed, prepare_gold

HUB_NAME = "DigitalLearningGmbH/MATH-lighteval"
HUB_CONFIG = "default"
MATH500_HUB = ("HuggingFaceH4/MATH-500", None, "test")
OUTPUT_NAME = "math_lvl3to5_train.parquet"
_LEVEL = re.compile(r"(\d+)")


def parse_level(value) -> int | None:
    match = _LEVEL.search(str(value))
    return int(match.group(1)) if match else None


def problem_key(problem: str) -> str:
    return " ".join(problem.split())


def load_hub(name: str, config: str | None, split: str) -> list[dict]:
    return load_split(name, config, split, name,
                      "Offline? Pass local files instead (--local-file, --exclude-file; see --help)")


def golds_of(rec: dict, source: str) -> tuple[str, ...]:
    """The prepared golds of a MATH row: its ``answer`` field, else the last ``\\boxed{}`` of its solution."""
    if rec.get("answer") not in (None, ""):
        return prepare_gold(rec["answer"])
    boxed = last_boxed(str(pick(rec, ("solution",), "solution or answer", source)))
    return prepare_gold(boxed) if boxed else ()


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default=os.path.expanduser("~/data/pmpo/qwen_math"),
                        help="where math_lvl3to5_train.parquet is written (default: %(default)s)")
    parser.add_argument("--local-file", nargs="+", default=None,
                        help="local MATH rows (problem, level, solution or answer) instead of the hub "
                             "(offline)")
    parser.add_argument("--splits", default="train,test",
                        help=f"hub splits of {HUB_NAME} (default: %(default)s)")
    parser.add_argument("--levels", default="3,4,5", help="MATH levels to keep (default: %(default)s)")
    parser.add_argument("--exclude-file", default=None,
                        help="rows whose `problem` is dropped (MATH-500); "
                             "default: the hub's HuggingFaceH4/MATH-500")
    parser.add_argument("--no-exclude", action="store_true",
                        help="keep MATH-500 problems (only with --splits train)")
    parser.add_argument("--template", choices=TEMPLATES, default="qwen_math")
    parser.add_argument("--max-rows", type=int, default=None, help="keep the first N rows (smoke tests)")
    args = parser.parse_args(argv)

    try:
        levels = {int(x) for x in args.levels.split(",") if x.strip()}
    except ValueError:
        raise DataError(f"--levels must be comma-separated integers, not {args.levels!r}") from None

    # Inputs first, so a missing file fails before anything is downloaded.
    if args.local_file:
        missing = [f for f in args.local_file if not os.path.isfile(f)]
        if missing:
            raise DataError("missing input file(s): " + ", ".join(missing))
    if args.exclude_file and not os.path.isfile(args.exclude_file):
        raise DataError(f"--exclude-file not found: {args.exclude_file}")

    if args.no_exclude:
        excluded: set[str] = set()
    elif args.exclude_file:
        excluded = {problem_key(str(pick(r, ("problem", "question"), "problem", args.exclude_file)))
                    for r in read_rows(args.exclude_file)}
    else:
        excluded = {problem_key(str(pick(r, ("problem",), "problem", MATH500_HUB[0])))
                    for r in load_hub(*MATH500_HUB)}

    records: list[tuple[str, dict]] = []
    if args.local_file:
        for path in args.local_file:
            records += [(path, r) for r in read_rows(path)]
    else:
        for split in [s.strip() for s in args.splits.split(",") if s.strip()]:
            records += [(f"hub:{HUB_NAME}:{split}", r) for r in load_hub(HUB_NAME, HUB_CONFIG, split)]

    rows, seen = [], set()
    counts = {"level": 0, "excluded": 0, "duplicate": 0, "no_answer": 0}
    for source, rec in records:
        level = parse_level(pick(rec, ("level", "Level"), "level", source))
        if level not in levels:
            counts["level"] += 1
            continue
        problem = str(pick(rec, ("problem", "question"), "problem", source)).strip()
        key = problem_key(problem)
        if key in excluded:
            counts["excluded"] += 1
            continue
        if key in seen:
            counts["duplicate"] += 1
            continue
        golds = golds_of(rec, source)
        if not problem or not golds:
            counts["no_answer"] += 1
            continue
        seen.add(key)
        rows.append(make_row("pmpo/math", problem, golds, len(rows), "train", args.template))
        if args.max_rows and len(rows) >= args.max_rows:
            break
    print(f"kept {len(rows)} problems; skipped: other levels {counts['level']}, "
          f"MATH-500 {counts['excluded']}, duplicates {counts['duplicate']}, "
          f"no boxed answer {counts['no_answer']}", file=sys.stderr)
    write_parquet(rows, os.path.join(args.output_dir, OUTPUT_NAME))
    return 0


if __name__ == "__main__":
    sys.exit(main())
