"""Argument parsing of ``pmpo-verl eval`` and ``pmpo-verl eval compare OUT...``; user errors become one
``error: ...`` line on stderr and exit code 2 (no traceback)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import TYPE_CHECKING

from .errors import EvalError

if TYPE_CHECKING:
    from .options import EvalOptions

EPILOG = """examples:
  pmpo-verl eval --model Qwen/Qwen2.5-Math-7B --out runs/base        # the paper's five, greedy pass@1
  pmpo-verl eval --model ckpts/global_step_500/actor --data-dir shared/data/benchmarks --out runs/pmpo
  pmpo-verl eval compare runs/base runs/pmpo --plot compare.png"""


def add_parser(sub) -> argparse.ArgumentParser:
    """The ``eval`` sub-command; run options take defaults and help from :class:`.options.EvalOptions`."""
    from .backends import BACKENDS
    from .benchmarks import known_names
    from .options import option_defaults as opt
    from .templates import TEMPLATES

    p = sub.add_parser("eval", help="evaluate a model or verl checkpoint on math benchmarks (pass@1 table)",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", nargs="*", metavar="compare OUT",
                   help="`compare OUT1 OUT2 ...`: table/plot of runs")
    p.add_argument("--model", help=opt("model")["help"])
    benchmarks = opt("benchmarks")
    p.add_argument("--benchmarks", default=benchmarks["default"],
                   help=f"{benchmarks['help']}; known names: {known_names()}")
    p.add_argument("--data-dir", **opt("data_dir"))
    p.add_argument("--template", choices=TEMPLATES, **opt("template"))
    p.add_argument("--n", type=int, **opt("n"))
    p.add_argument("--temperature", type=float, **opt("temperature"))
    p.add_argument("--top-p", type=float, **opt("top_p"))
    p.add_argument("--max-tokens", type=int, **opt("max_tokens"))
    p.add_argument("--backend", choices=BACKENDS, **opt("backend"))
    p.add_argument("--limit", type=int, **opt("limit"))
    p.add_argument("--seed", type=int, **opt("seed"))
    p.add_argument("--out", **opt("out"))
    p.add_argument("--label", **opt("label"))
    p.add_argument("--batch-size", type=int, **opt("batch_size"))
    p.add_argument("--tensor-parallel-size", "--tp", type=int, **opt("tensor_parallel_size"))
    p.add_argument("--data-parallel-size", "--dp", type=int, **opt("data_parallel_size"))
    p.add_argument("--dtype", **opt("dtype"))
    p.add_argument("--device", **opt("device"))
    p.add_argument("--gpu-memory-utilization", type=float, **opt("gpu_memory_utilization"))
    p.add_argument("--max-model-len", type=int, **opt("max_model_len"))
    p.add_argument("--timeout", type=float, **opt("timeout"))
    p.add_argument("--workers", type=int, **opt("workers"))
    p.add_argument("--cache-dir", **opt("cache_dir"))
    p.add_argument("--plot", default=None, help="compare: write the bar chart to this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=command)
    return p


def options_from(args: argparse.Namespace) -> EvalOptions:
    """The run options of parsed arguments (every :class:`EvalOptions` field has an argument of that name,
    except ``progress``, set by ``--no-progress``)."""
    from .options import EvalOptions

    names = [f.name for f in fields(EvalOptions) if f.name != "progress"]
    return EvalOptions(**{name: getattr(args, name) for name in names}, progress=not args.no_progress)


def _run(args: argparse.Namespace) -> int:
    from . import report

    if args.action:
        if args.action[0] != "compare":
            raise EvalError(f"unknown eval action {args.action[0]!r}; use `pmpo-verl eval --model ...` or "
                            "`pmpo-verl eval compare OUT1 OUT2 ...`")
        print(report.compare(args.action[1:], args.plot))
        if args.plot:
            print(f"bar chart: {args.plot}")
        return 0
    if not args.model:
        raise EvalError("--model is required (a HF model directory, hub id or verl checkpoint)")
    from .runner import run_eval

    result = run_eval(options_from(args))
    print(report.paper_table([result]))
    print(f"results: {args.out}/results.md, results.json, results.png; samples: {args.out}/samples/")
    return 0


def command(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file or directory we cannot read or write (unwritable --out, full disk, ...)
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}; finished samples are saved", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished samples are saved; rerun the same command to resume", file=sys.stderr)
        return 130
