"""The eval pipeline: resolve model and data, generate the missing samples chunk by chunk (each chunk
scored and saved atomically, so a killed run resumes where it stopped), then metrics and reports."""

from __future__ import annotations

import os
import re
import sys
import zlib

from reward.gold import prepare_gold

from . import backends, benchmarks, checkpoint, context, metrics, report, scoring, store, templates
from .errors import EvalError
from .options import EvalOptions

GENERIC_DIRS = frozenset({"actor", "huggingface", "hf", "checkpoints", "checkpoint", "ckpts", "ckpt"})
"""Path parts that do not name a run (verl's and common checkpoint folder names), skipped by the label."""


def _validate(o: EvalOptions) -> None:
    if o.n < 1:
        raise EvalError("--n must be at least 1")
    if o.temperature < 0 or not 0 < o.top_p <= 1:
        raise EvalError("--temperature must be >= 0 and --top-p in (0, 1]")
    if o.n > 1 and o.temperature == 0:
        raise EvalError("--n > 1 needs --temperature > 0 (greedy samples are identical)")
    if o.max_tokens < 1:
        raise EvalError("--max-tokens must be at least 1")
    if o.limit is not None and o.limit < 1:
        raise EvalError("--limit must be at least 1")
    if o.template not in templates.TEMPLATES:
        raise EvalError(f"unknown template {o.template!r}; choose from {', '.join(templates.TEMPLATES)}")


def default_label(model: str) -> str:
    """The row label that names the run: a hub id as given; a verl checkpoint (root, step, ``actor`` or its
    ``huggingface`` export) ``<run>/global_step_N``, where ``<run>`` is the nearest folder above the step
    that is not a generic checkpoint folder (:data:`GENERIC_DIRS`: ``runs/demo/checkpoints/global_step_30``
    -> ``demo/global_step_30``); another model directory its name (generic folders skipped)."""
    if not os.path.exists(model):
        return model  # hub id
    path = os.path.abspath(model)
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "config.json")):
        path = checkpoint.find_actor_dir(path) or path  # a checkpoint root means its latest step
    parts = [p for p in path.split(os.sep) if p]
    if not parts:
        return model
    while len(parts) > 1 and parts[-1].lower() in GENERIC_DIRS:
        parts.pop()
    if re.fullmatch(r"global_step_\d+", parts[-1]):
        run = next((p for p in reversed(parts[:-1]) if p.lower() not in GENERIC_DIRS), None)
        return f"{run}/{parts[-1]}" if run else parts[-1]
    return parts[-1]


def _writable_out(out: str) -> None:
    """Create ``--out`` and check that files can be written there, before any model is loaded."""
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, f".write_test.{os.getpid()}")
        with open(probe, "w", encoding="utf-8"):
            pass
        os.unlink(probe)
    except OSError as exc:
        raise EvalError(f"cannot write to --out {out}: {exc.strerror or exc}"
                        f"{f' ({exc.filename})' if exc.filename and exc.filename != out else ''}") from None


def sample_seed(seed: int, bench: str, pid: str, sample: int) -> int:
    """Per-sample seed, independent of batching and of which samples a resumed run still needs."""
    return zlib.crc32(f"{seed}|{bench}|{pid}|{sample}".encode()) & 0x7FFFFFFF


class _Lazy:
    """Tokenizer and backend, loaded only when some sample must be generated."""

    def __init__(self, model_path: str, backend_name: str, opts: EvalOptions):
        self.model_path, self.backend_name, self.opts = model_path, backend_name, opts
        self._tok = self._backend = None

    @property
    def tokenizer(self):
        if self._tok is None:
            from transformers import AutoTokenizer

            try:
                self._tok = AutoTokenizer.from_pretrained(self.model_path)
            except Exception as exc:
                msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
                raise EvalError(f"cannot load the tokenizer of model {self.model_path!r}: {msg}") from None
        return self._tok

    @property
    def backend(self):
        if self._backend is None:
            self._backend = backends.create(self.backend_name, self.model_path, self.tokenizer, self.opts)
        return self._backend

    def model_context(self) -> context.Context | None:
        """The context length the backend will enforce (:func:`.context.model_context`)."""
        return context.model_context(self.model_path, self.tokenizer, self.opts.max_model_len,
                                     self.backend_name)

    def close(self) -> None:
        if self._backend is not None and hasattr(self._backend, "close"):
            self._backend.close()


def _drop_stale(rows: dict, problems: list) -> dict:
    """Stored samples whose gold differs from the problem's (the data changed under the same ids) are redone;
    golds are compared prepared (:func:`reward.gold.prepare_gold`): ``"9.6"`` and ``["9.6"]`` are one gold."""
    golds = {p.id: p.gold for p in problems}
    return {k: r for k, r in rows.items() if k[0] not in golds or prepare_gold(r["gold"]) == golds[k[0]]}


def _generate_missing(bench: str, problems: list, rows: dict, sample_store: store.SampleStore, lazy: _Lazy,
                      opts: EvalOptions) -> None:
    from tqdm.auto import tqdm

    by_id = {p.id: p for p in problems}
    pending = store.missing(rows, [(p.id, s) for p in problems for s in range(opts.n)])
    if not pending:
        return
    tok = lazy.tokenizer
    settings = backends.SamplingSettings(opts.temperature, opts.top_p, opts.max_tokens)
    special = templates.adds_special_tokens(opts.template)
    prompts = {pid: templates.render(opts.template, by_id[pid].question, tok)
               for pid in dict.fromkeys(k[0] for k in pending)}
    ids = {pid: tuple(tok(text, add_special_tokens=special)["input_ids"]) for pid, text in prompts.items()}
    warning = context.check(bench, [len(v) for v in ids.values()], opts.max_tokens, lazy.model_context())
    if warning:
        print(warning, file=sys.stderr)
    backend = lazy.backend
    chunk = max(1, int(backend.chunk_size))
    quiet = not opts.progress
    with tqdm(total=len(pending), desc=f"generate {bench}", unit="sample", disable=quiet) as gbar, \
            tqdm(total=len(pending), desc=f"score {bench}", unit="sample", disable=quiet) as sbar:
        for start in range(0, len(pending), chunk):
            keys = pending[start:start + chunk]
            reqs = [backends.Request(k, ids[k[0]], sample_seed(opts.seed, bench, k[0], k[1])) for k in keys]
            gens = backend.generate(reqs, settings)
            gbar.update(len(keys))
            verdicts = scoring.score([g.text for g in gens], [by_id[k[0]].gold for k in keys],
                                     timeout=opts.timeout, workers=opts.workers, progress=False)
            sbar.update(len(keys))
            for k, g, v in zip(keys, gens, verdicts):
                rows[k] = {"id": k[0], "sample": k[1], "prompt": prompts[k[0]], "response": g.text,
                           "gold": list(by_id[k[0]].gold), "finish_reason": g.finish_reason,
                           "n_tokens": g.n_tokens, **scoring.verdict_fields(v)}
            sample_store.save(bench, rows)


def run_eval(opts: EvalOptions) -> dict:
    """Run (or resume) an evaluation; returns the results dict also written to ``<out>/results.json``."""
    _validate(opts)
    benches = benchmarks.parse_specs(opts.benchmarks)
    backend_name = backends.choose(opts.backend)
    problem_sets = {b.name: benchmarks.load(b, opts.data_dir, opts.limit) for b in benches}
    _writable_out(opts.out)
    model_path = checkpoint.resolve_model(opts.model, opts.cache_dir)
    settings = {"model": opts.model, "template": opts.template, "n": opts.n, "temperature": opts.temperature,
                "top_p": opts.top_p, "max_tokens": opts.max_tokens, "seed": opts.seed}
    sample_store = store.SampleStore(opts.out)
    sample_store.check_run(settings)
    lazy = _Lazy(model_path, backend_name, opts)
    per_bench: dict[str, dict] = {}
    try:
        for bench in benches:
            problems = problem_sets[bench.name]
            rows = _drop_stale(sample_store.load(bench.name), problems)
            _generate_missing(bench.name, problems, rows, sample_store, lazy, opts)
            keys = [(p.id, s) for p in problems for s in range(opts.n)]
            per_bench[bench.name] = metrics.benchmark_metrics(store.select(rows, keys), opts.n)
    finally:
        lazy.close()
    result = {
        "label": opts.label or default_label(opts.model),
        "model": opts.model,
        "resolved_model": model_path,
        "settings": {**settings, "backend": backend_name, "limit": opts.limit,
                     "benchmarks": [b.name for b in benches]},
        "benchmarks": per_bench,
        "average": metrics.average(per_bench),
    }
    report.write_all(opts.out, result)
    return result
