"""``pmpo-verl eval``: evaluate a checkpoint on the paper's math benchmarks (greedy pass@1 and friends).

One idea per module: :mod:`.options` (the run settings, their defaults and help), :mod:`.benchmarks` (registry,
loading; golds by :mod:`reward.gold`), :mod:`.datafiles` (reading JSONL/JSON/parquet rows), :mod:`.hub` (hub
access and dataset loading), :mod:`.checkpoint` (model resolution, verl checkpoint merge), :mod:`.templates`
(prompt rendering; texts in :mod:`pmpo_verl.prompts`), :mod:`.context` (prompt + --max-tokens vs the model's
context), :mod:`.backends` (vLLM and transformers generation), :mod:`.scoring` (``reward.verify_batch``),
:mod:`.metrics` (pass@k, maj@n, ...), :mod:`.atomic` (atomic writes honouring the umask), :mod:`.store`
(resumable sample files), :mod:`.report` (results.json/.md/.png, compare), :mod:`.runner` (the pipeline) and
:mod:`.cli` (argument parsing and error reporting).
"""

from .errors import EvalError

__all__ = ["EvalError"]
