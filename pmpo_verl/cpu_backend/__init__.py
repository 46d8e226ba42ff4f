"""CPU backend for verl 0.9.1: a ``cpu`` platform (``VERL_PLATFORM=cpu``) and an ``hf`` rollout
(``actor_rollout_ref.rollout.name=hf``, transformers ``generate``).

``pmpo_verl.register`` imports :mod:`.register` only when one of them is asked for, so GPU users
never load this package. See ``docs`` in the project README ("The main job on CPU").
"""

HF_ROLLOUT_NAME = "hf"
