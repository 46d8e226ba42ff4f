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


def broken_plugin_pythonpath(folder) -> str:
    """A PYTHONPATH whose sitecustomize makes ``import pmpo_verl.loss`` fail, as a broken dependency would
    (verl swallows that error when it loads the entry point)."""
    (folder / "sitecustomize.py").write_text(
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
    return os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))


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
    pythonpath = broken_plugin_pythonpath(tmp_path)
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


_BUILD_ACTOR_CONFIG = textwrap.dedent(
    """
    import os, sys
    import pmpo_verl.config  # what Hydra's instantiate imports for the _target_
    imported_register = "pmpo_verl.register" in sys.modules
    from hydra import compose, initialize_config_dir
    import verl
    from verl.utils.config import omega_conf_to_dataclass
    from verl.trainer.ppo.core_algos import POLICY_LOSS_REGISTRY
    before = "pmpo" in POLICY_LOSS_REGISTRY
    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=[
            "actor_rollout_ref.actor.policy_loss.loss_mode=pmpo",
            "actor_rollout_ref.actor.policy_loss._target_=pmpo_verl.config.PMPOPolicyLossConfig",
            "actor_rollout_ref.actor.ppo_mini_batch_size=16", "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4",
        ])
    omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)  # ActorRolloutRefWorker.init_model
    print("RESULT", imported_register, before, "pmpo" in POLICY_LOSS_REGISTRY)
    """
)


def _build_actor_config(env):
    out = subprocess.run(
        [sys.executable, "-c", _BUILD_ACTOR_CONFIG], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return [word == "True" for word in line.split()[1:]]


def test_the_worker_that_builds_the_actor_config_has_the_loss():
    """With the entry point (the supported install), `import verl` registers the loss in every process, the
    actor worker included, before any config is built."""
    imported_register, before, after = _build_actor_config(dict(os.environ))
    assert imported_register and before and after


def test_building_the_config_registers_the_loss_even_without_the_entry_point():
    """VERL_USE_EXTERNAL_PLUGINS=none (or a whitelist without `pmpo`): building PMPOPolicyLossConfig still
    registers loss_mode=pmpo in that worker, but importing pmpo_verl.config has no side effect of its own."""
    imported_register, before, after = _build_actor_config(env_with(VERL_USE_EXTERNAL_PLUGINS="none"))
    assert not imported_register and not before and after


def test_a_broken_plugin_fails_the_actor_config_build_with_the_real_error(tmp_path):
    """verl swallows the entry point's import error; building the config repeats the import and raises it."""
    pythonpath = broken_plugin_pythonpath(tmp_path)
    out = subprocess.run([sys.executable, "-c", _BUILD_ACTOR_CONFIG], env=env_with(PYTHONPATH=pythonpath),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "simulated broken dependency" in out.stderr
