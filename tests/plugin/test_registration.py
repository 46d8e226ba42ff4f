"""The plugin reaches every process that imports verl: entry point, env-var fallback, hidden errors."""

import os
import subprocess
import sys
import textwrap

from pmpo_verl.cli import main
from pmpo_verl.plugin_check import probe_plugin


def env_with(**overrides):
    env = dict(os.environ)
    env.update(overrides)
    return env


def test_import_verl_registers_both_names_through_the_entry_point():
    status = probe_plugin()
    assert status.ok and status.error is None and status.verl_version == "0.9.1"


def test_without_the_entry_point_nothing_is_registered_and_the_env_var_fallback_works():
    disabled = probe_plugin(env_with(VERL_USE_EXTERNAL_PLUGINS="none"))
    assert not disabled.policy_loss and not disabled.adv_estimator
    fallback = probe_plugin(env_with(VERL_USE_EXTERNAL_PLUGINS="none", VERL_USE_EXTERNAL_MODULES="pmpo_verl.register"))
    assert fallback.ok


def test_registration_is_idempotent():
    code = textwrap.dedent(
        """
        import importlib, verl, pmpo_verl.register, pmpo_verl.config
        from verl.trainer.ppo.core_algos import get_adv_estimator_fn, get_policy_loss_fn
        from pmpo_verl import advantage, loss
        importlib.import_module("pmpo_verl.register")
        assert get_policy_loss_fn("pmpo") is loss.compute_policy_loss_pmpo
        assert get_adv_estimator_fn("pmpo") is advantage.compute_pmpo_outcome_advantage
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr


def test_hidden_plugin_import_error_is_detected_and_reported(tmp_path, capsys, monkeypatch):
    """verl swallows an entry point's ImportError; `pmpo-verl check` must surface it."""
    (tmp_path / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import importlib.abc, sys
            class _Break(importlib.abc.MetaPathFinder):
                def find_spec(self, name, path=None, target=None):
                    if name == "pmpo_verl.loss":
                        raise ImportError("simulated broken dependency of the PMPO loss")
            sys.meta_path.insert(0, _Break())
            """
        )
    )
    pythonpath = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    broken = probe_plugin(env_with(PYTHONPATH=pythonpath))
    assert not broken.ok and "simulated broken dependency" in broken.error
    monkeypatch.setenv("PYTHONPATH", pythonpath)
    assert main(["check"]) == 1
    printed = capsys.readouterr().out
    assert "did not register the PMPO plugin" in printed and "simulated broken dependency" in printed


def test_probe_reports_the_cpu_backend_only_where_it_is_asked_for():
    assert not probe_plugin().cpu_platform  # GPU users: the CPU backend is never loaded
    status = probe_plugin(env_with(VERL_PLATFORM="cpu"))
    assert status.ok and status.cpu_backend_ok and status.error is None
