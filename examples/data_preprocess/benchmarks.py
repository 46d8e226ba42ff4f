#!/usr/bin/env python3
"""Write the validation sets of the paper (AIME24, AMC, MATH-500, Minerva, OlympiadBench) as verl parquet.

    # offline, from the JSON lines in ../shared/data/benchmarks/ (MANIFEST.md: the papers' exact sets)
    python examples/data_preprocess/benchmarks.py --local-dir ../shared/data/benchmarks --output-dir ~/data/pmpo/qwen_math
    # from the hub (see HUB below; field names are looked up tolerantly)
    python examples/data_preprocess/benchmarks.py --output-dir ~/data/pmpo/qwen_math
    # R1-Distill prompt
    python examples/data_preprocess/benchmarks.py --local-dir ... --template r1d --output-dir ~/data/pmpo/r1d

Writes ``<output-dir>/<name>.parquet`` with ``data_source = pmpo/<name>`` (schema: ``_pmpo_data.py``).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _pmpo_data import TEMPLATES, DataError, gold_strings, load_hub, make_row, pick, read_records, write_parquet

BENCHMARKS = ("aime24", "amc", "math500", "minerva", "olympiadbench")
# Hub copies: (dataset, config, split). The local JSON lines of ../shared/data/benchmarks are the reference
# copies of the papers' suite (understand-r1-zero's evaluation_suite); the hub copies hold the same problems.
HUB = {
    "aime24": ("HuggingFaceH4/aime_2024", None, "train"),
    "amc": ("AI-MO/aimo-validation-amc", None, "train"),
    "math500": ("HuggingFaceH4/MATH-500", None, "test"),
    "minerva": ("knoveleng/Minerva-Math", None, "train"),
    "olympiadbench": ("Hothan/OlympiadBench", "OE_TO_maths_en_COMP", "train"),
}
EXPECTED_ROWS = {"aime24": 30, "amc": 83, "math500": 500, "minerva": 272, "olympiadbench": 675}
PROBLEM_KEYS = ("problem", "question", "Problem", "Question")
ANSWER_KEYS = ("answer", "final_answer", "Answer", "expected_answer")


def convert(name: str, records: list[dict], template: str, source: str, max_rows: int | None) -> list[dict]:
    rows = []
    for i, rec in enumerate(records[:max_rows] if max_rows else records):
        problem = str(pick(rec, PROBLEM_KEYS, "problem", source)).strip()
        answer = pick(rec, ANSWER_KEYS, "answer", source)
        if hasattr(answer, "tolist") and not isinstance(answer, str):
            answer = answer.tolist()
        if rec.get("is_multiple_answer") and isinstance(answer, (list, tuple)) and len(answer) > 1:
            # OlympiadBench (hub): the parts together form one answer, they are not alternatives
            answer = ", ".join(str(a).strip() for a in answer)
        golds = gold_strings(answer)
        if not problem or not golds:
            raise DataError(f"{source}: row {i} has an empty problem or answer")
        rows.append(make_row(f"pmpo/{name}", problem, golds, i, "test", template))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default=os.path.expanduser("~/data/pmpo/qwen_math"),
                        help="where <name>.parquet is written (default: %(default)s)")
    parser.add_argument("--local-dir", default=None,
                        help="read <name>.jsonl from this directory instead of the hub (offline)")
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS), help="comma-separated (default: %(default)s)")
    parser.add_argument("--template", choices=TEMPLATES, default="qwen_math")
    parser.add_argument("--max-rows", type=int, default=None, help="first N rows of each set (smoke tests)")
    args = parser.parse_args(argv)

    names = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    unknown = [b for b in names if b not in HUB]
    if unknown:
        raise DataError(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    if args.local_dir is not None:
        if not os.path.isdir(args.local_dir):
            raise DataError(f"--local-dir {args.local_dir} is not a directory")
        missing = [os.path.join(args.local_dir, f"{b}.jsonl") for b in names
                   if not os.path.isfile(os.path.join(args.local_dir, f"{b}.jsonl"))]
        if missing:
            raise DataError("missing input file(s): " + ", ".join(missing))
    for name in names:
        if args.local_dir is not None:
            source = os.path.join(args.local_dir, f"{name}.jsonl")
            records = read_records(source)
        else:
            hub_name, config, split = HUB[name]
            source = f"hub:{hub_name}"
            records = load_hub(hub_name, config, split)
        rows = convert(name, records, args.template, source, args.max_rows)
        if args.max_rows is None and len(rows) != EXPECTED_ROWS[name]:
            print(f"warning: {name} has {len(rows)} rows, the papers' set has {EXPECTED_ROWS[name]}", file=sys.stderr)
        write_parquet(rows, os.path.join(args.output_dir, f"{name}.parquet"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
