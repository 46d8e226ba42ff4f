"""``pmpo-verl demo``: PMPO through verl 0.9.1's real trainer (``verl.trainer.main_ppo``) on CPU with a
tiny model and a synthetic verifiable math task.

Modules: :mod:`.task` (data), :mod:`.tiny_model` (model + tokenizer), :mod:`.warmstart` (short SFT),
:mod:`.preflight` (clear errors), :mod:`.runner` (the ``main_ppo`` command and the run), :mod:`.report`
(metrics.jsonl, plots, the compare table).
"""
