#!/usr/bin/env python3
"""Write the validation sets of the paper (AIME24, AMC, MATH-500, Minerva, OlympiadBench) as verl parquet.

    # offline, from the JSON lines in ../shared/data/benchmarks/ (MANIFEST.md: the papers' exact sets)
    python examples/data_preprocess/benchmarks.py --local-dir ../shared/data/benchmarks \\
        --output-dir ~/data/pmpo/qwen_math
    # from the hub (pmpo_verl.evaluation.benchmarks.REGISTRY: the same sets, loaded as `pmpo-verl eval` does)
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

from _pmpo_data import TEMPLATES, DataError, make_row, one_line_errors, write_parquet

from pmpo_verl.evaluation.benchmarks import PAPER_BENCHMARKS, REGISTRY, Problem, load

# rows of the papers' sets (understand-r1-zero's evaluation_suite, ../shared/data/benchmarks/MANIFEST.md)
EXPECTED_ROWS = {"aime24": 30, "aime25": 30, "amc": 83, "amc23": 40, "math500": 500, "minerva": 272,
                 "olympiadbench": 675}


def convert(name: str, problems: list[Problem], template: str) -> list[dict]:
    """verl rows of a benchmark's problems, loaded exactly as ``pmpo-verl eval`` loads them."""
    return [make_row(f"pmpo/{name}", p.question.strip(), p.gold, int(p.id), "test", template)
            for p in problems]


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default=os.path.expanduser("~/data/pmpo/qwen_math"),
                        help="where <name>.parquet is written (default: %(default)s)")
    parser.add_argument("--local-dir", default=None,
                        help="read <name>.jsonl from this directory instead of the hub (offline)")
    parser.add_argument("--benchmarks", default=",".join(PAPER_BENCHMARKS),
                        help=f"comma-separated, from {', '.join(REGISTRY)} (default: %(default)s)")
    parser.add_argument("--template", choices=TEMPLATES, default="qwen_math")
    parser.add_argument("--max-rows", type=int, default=None, help="first N rows of each set (smoke tests)")
    args = parser.parse_args(argv)

    names = [b.strip() for b in args.benchmarks.split(",") if b.strip()]
    unknown = [b for b in names if b not in REGISTRY]
    if unknown:
        raise DataError(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(REGISTRY)}")
    if args.local_dir is not None:
        if not os.path.isdir(args.local_dir):
            raise DataError(f"--local-dir {args.local_dir} is not a directory")
        missing = [os.path.join(args.local_dir, f"{b}.jsonl") for b in names
                   if not os.path.isfile(os.path.join(args.local_dir, f"{b}.jsonl"))]
        if missing:
            raise DataError("missing input file(s): " + ", ".join(missing))
    for name in names:
        problems = load(REGISTRY[name], args.local_dir, args.max_rows, dir_option="--local-dir")
        rows = convert(name, problems, args.template)
        if args.max_rows is None and len(rows) != EXPECTED_ROWS[name]:
            print(f"warning: {name} has {len(rows)} rows, the papers' set has {EXPECTED_ROWS[name]}",
                  file=sys.stderr)
        write_parquet(rows, os.path.join(args.output_dir, f"{name}.parquet"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
