"""``pmpo-verl eval``: evaluate a checkpoint on the paper's math benchmarks (greedy pass@1 and friends).

One idea per module: :mod:`.benchmarks` (registry, loaders, answer normalisation), :mod:`.checkpoint`
(model resolution, verl checkpoint merge), :mod:`.templates` (prompts), :mod:`.backends` (vLLM and
transformers generation), :mod:`.scoring` (``reward.verify_batch``), :mod:`.metrics` (pass@k, maj@n, ...),
:mod:`.store` (atomic, resumable sample files), :mod:`.report` (results.json/.md/.png, compare),
:mod:`.runner` (the pipeline) and :mod:`.cli` (argument parsing and error reporting).
"""

from .errors import EvalError

__all__ = ["EvalError"]
