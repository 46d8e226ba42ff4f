"""Importing ``pmpo_verl.config`` has no side effects of its own: it does not import ``pmpo_verl.register``
(which reads sys.argv and may set PMPO_VERL_ROLLOUT); only building a config registers the loss."""

import os
import subprocess
import sys

CODE = """
import os, sys
import verl.workers.config.actor  # verl's own import-time changes happen here, before we look
before = dict(os.environ)
import pmpo_verl.config
print("register" in sys.modules.get("pmpo_verl").__dict__, "pmpo_verl.register" in sys.modules,
      dict(os.environ) == before)
"""


def test_import_has_no_side_effects():
    env = {k: v for k, v in os.environ.items() if k not in ("VERL_PLATFORM", "PMPO_VERL_ROLLOUT")}
    env["VERL_USE_EXTERNAL_PLUGINS"] = "none"  # no entry point: only our own imports count
    out = subprocess.run([sys.executable, "-c", CODE, "actor_rollout_ref.rollout.name=hf"], env=env,
                         capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["False", "False", "True"], out.stdout + out.stderr
