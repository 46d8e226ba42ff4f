"""Argument parsing of ``pmpo-verl eval`` and ``pmpo-verl eval compare OUT...``; user errors become one
``error: ...`` line on stderr and exit code 2 (no traceback)."""

from __future__ import annotations

import argparse
import sys

from .errors import EvalError

EPILOG = """examples:
  pmpo-verl eval --model Qwen/Qwen2.5-Math-7B --out runs/base                   # the paper's five, greedy pass@1
  pmpo-verl eval --model ckpts/global_step_500/actor --data-dir shared/data/benchmarks --out runs/pmpo
  pmpo-verl eval compare runs/base runs/pmpo --plot compare.png"""


def add_parser(sub) -> argparse.ArgumentParser:
    from .benchmarks import PAPER_BENCHMARKS, known_names
    from .templates import TEMPLATES

    p = sub.add_parser("eval", help="evaluate a model or verl checkpoint on math benchmarks (pass@1 table)",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", nargs="*", metavar="compare OUT", help="`compare OUT1 OUT2 ...`: table/plot of runs")
    p.add_argument("--model", help="HF model directory, hub id, or verl checkpoint (global_step_N/actor)")
    p.add_argument("--benchmarks", default=",".join(PAPER_BENCHMARKS),
                   help=f"comma-separated: {known_names()}, or .jsonl/.parquet paths (default: the paper's five)")
    p.add_argument("--data-dir", help="read <name>.jsonl from this directory instead of the hub")
    p.add_argument("--template", choices=TEMPLATES, default="qwen_math")
    p.add_argument("--n", type=int, default=1, help="samples per problem (default 1)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--max-tokens", type=int, default=3000, help="max new tokens (default 3000)")
    p.add_argument("--backend", choices=["vllm", "hf"], default=None,
                   help="default: vllm when CUDA and vLLM are available, else hf (transformers)")
    p.add_argument("--limit", type=int, default=None, help="first K problems of each benchmark")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="eval_out", help="output directory (default ./eval_out); reruns resume")
    p.add_argument("--label", help="row label in results.md (default: the model's name)")
    p.add_argument("--batch-size", type=int, default=8, help="hf backend batch size")
    p.add_argument("--tensor-parallel-size", "--tp", type=int, default=1, help="vllm: GPUs per engine")
    p.add_argument("--data-parallel-size", "--dp", type=int, default=1, help="vllm: engines (one process each)")
    p.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU), bfloat16, float16, float32")
    p.add_argument("--device", default=None, help="hf backend device (default cuda if available, else cpu)")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    p.add_argument("--max-model-len", type=int, default=None)
    p.add_argument("--timeout", type=float, default=5.0, help="verifier deadline per answer, seconds")
    p.add_argument("--workers", type=int, default=None, help="verifier worker processes")
    p.add_argument("--cache-dir", default=None, help="where merged verl checkpoints go (~/.cache/pmpo-verl/merged)")
    p.add_argument("--plot", default=None, help="compare: write the bar chart to this file")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=command)
    return p


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
    from .runner import EvalOptions, run_eval

    opts = EvalOptions(
        model=args.model, benchmarks=args.benchmarks, data_dir=args.data_dir, template=args.template, n=args.n,
        temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens, backend=args.backend,
        limit=args.limit, seed=args.seed, out=args.out, label=args.label, batch_size=args.batch_size,
        tensor_parallel_size=args.tensor_parallel_size, data_parallel_size=args.data_parallel_size,
        dtype=args.dtype, device=args.device, gpu_memory_utilization=args.gpu_memory_utilization,
        max_model_len=args.max_model_len, timeout=args.timeout, workers=args.workers, cache_dir=args.cache_dir,
        progress=not args.no_progress)
    result = run_eval(opts)
    from .report import paper_table

    print(paper_table([result]))
    print(f"results: {args.out}/results.md, results.json, results.png; samples: {args.out}/samples/")
    return 0


def command(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished samples are saved; rerun the same command to resume", file=sys.stderr)
        return 130
