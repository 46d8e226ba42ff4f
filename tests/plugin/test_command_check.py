"""`pmpo-verl check --command`: a main_ppo command composed with verl 0.9.1's Hydra config, checked for PMPO
misconfigurations verl does not report (loss_mode, _target_, knobs, bypass mode)."""

import io
import os
import shlex
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from pmpo_verl.cli import main
from pmpo_verl.command_check import (
    BYPASS_MESSAGE,
    PMPO_TARGET,
    VERL_DEFAULTS,
    check_command,
    loss_mode_error,
    parse_command,
    verl_config_dir,
)
from pmpo_verl.recipe import overrides_for

REPO = Path(__file__).resolve().parents[2]
SCRIPT = os.path.join(sysconfig.get_path("scripts"), "pmpo-verl")
PL = "actor_rollout_ref.actor.policy_loss"
TARGET = f"{PL}._target_={PMPO_TARGET}"
LOSS_MODE = f"{PL}.loss_mode=pmpo"
KNOB = f"+{PL}.clip_saturation=0.05"
BYPASS = "algorithm.rollout_correction.bypass_mode=True"
TRAINER = "python3 -m verl.trainer.main_ppo"


def messages(report, level):
    return [f.message for f in report.findings if f.level == level]


def test_parse_a_shell_command_line():
    text = textwrap.dedent(
        f"""\
        PYTHONUNBUFFERED=1 {TRAINER} --config-name ppo_megatron_trainer \\
            algorithm.adv_estimator=pmpo \\
            "data.train_files=['/d/a b.parquet']" \\
            +{PL}.p=0 ~trainer.logger "${{EXTRA[@]}}" 2>&1 | tee train.log  # a comment
        echo done x=1
        """
    )
    cmd = parse_command(text)
    assert cmd.overrides == [
        "algorithm.adv_estimator=pmpo",
        "data.train_files=['/d/a b.parquet']",
        f"+{PL}.p=0",
        "~trainer.logger",
    ]
    assert cmd.config_name == "ppo_megatron_trainer" and cmd.hidden == ["${EXTRA[@]}"]
    assert parse_command([sys.executable, "-m", "verl.trainer.main_ppo", "--config-name=x", "a=1"]).overrides == ["a=1"]
    assert parse_command("a.b=1 # c.d=2\ne.f=3").overrides == ["a.b=1", "e.f=3"]  # overrides only, one per line
    assert parse_command("python3 verl/trainer/main_ppo.py -cp /cfg a=1").config_path == "/cfg"


@pytest.mark.parametrize("method", ["pmpo", "grpo", "gmpo"])
def test_the_documented_overrides_pass(method):
    report = check_command(overrides_for(method))
    assert report.findings == [] and report.values[f"{PL}.loss_mode"] == "pmpo"


def test_verl_defaults_are_those_of_its_yaml():
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    for name in ("ppo_trainer", "ppo_megatron_trainer"):
        with initialize_config_dir(config_dir=verl_config_dir(), version_base=None):
            cfg = compose(config_name=name)
        assert {k: OmegaConf.select(cfg, k) for k in VERL_DEFAULTS} == VERL_DEFAULTS


@pytest.mark.parametrize("config_name", ["ppo_trainer", "ppo_megatron_trainer"])
def test_target_and_knobs_without_loss_mode_is_an_error(config_name):
    report = check_command(["--config-name", config_name, TARGET, KNOB])
    assert messages(report, "error") == [
        loss_mode_error("vanilla") + " (the actor workers refuse this config at start-up)"
    ]
    assert not check_command(["--config-name", config_name, TARGET, KNOB, LOSS_MODE]).findings


def test_another_loss_mode_with_the_target_is_an_error():
    report = check_command([TARGET, f"{PL}.loss_mode=geo_mean"])
    assert messages(report, "error")[0].startswith(loss_mode_error("geo_mean"))


def test_knobs_without_target_are_an_error():
    [msg] = messages(check_command([LOSS_MODE, KNOB]), "error")
    assert (
        "PMPO knobs (clip_saturation)" in msg
        and f"add {TARGET}" in msg
        and "loss_mode=pmpo" not in msg.split("add")[-1]
    )
    [msg] = messages(check_command([KNOB]), "error")
    assert msg.endswith(f"add {TARGET} and {LOSS_MODE}")


def test_loss_mode_without_target_warns_that_knobs_default():
    report = check_command([LOSS_MODE, "algorithm.adv_estimator=pmpo"])
    assert not report.errors and "PMPO's knobs take their defaults" in messages(report, "warning")[0]


def test_bypass_mode_with_pmpo_warns_what_happens():
    report = check_command(overrides_for("pmpo") + [BYPASS])
    assert messages(report, "warning") == [BYPASS_MESSAGE] and not report.errors
    for words in ("pi_old = the rollout engine's log-probs", "first one included", "p react", "not applied"):
        assert words in BYPASS_MESSAGE
    assert not check_command([BYPASS]).findings  # verl's own loss: nothing to say
    assert not check_command(overrides_for("pmpo") + ["algorithm.rollout_correction.bypass_mode=False"]).findings


def test_a_command_hydra_rejects_is_an_error():
    """A knob without `+`: main_ppo would stop at start-up with the same Hydra error."""
    report = check_command([LOSS_MODE, TARGET, f"{PL}.clip_saturation=0.05"])
    [msg] = messages(report, "error")
    assert msg.startswith("Hydra cannot compose") and f"+{PL}.clip_saturation" in msg


def test_values_from_the_shell_are_not_guessed():
    report = check_command(f"{TRAINER} {TARGET} {PL}.loss_mode=$LOSS_MODE trainer.n_gpus_per_node=$(nproc) \"$@\"")
    assert not report.errors
    warnings = messages(report, "warning")
    assert any("'$@'" in w for w in warnings) and any("loss_mode comes from the shell" in w for w in warnings)


def test_a_custom_config_is_composed_when_it_can_be(tmp_path):
    (tmp_path / "my_pmpo.yaml").write_text(textwrap.dedent(
        f"""\
        hydra:
          searchpath: [file://{verl_config_dir()}]
        defaults:
          - ppo_trainer
          - _self_
        actor_rollout_ref:
          actor:
            policy_loss:
              loss_mode: pmpo
        """
    ))
    report = check_command(["--config-path", str(tmp_path), "--config-name", "my_pmpo", TARGET, KNOB])
    assert report.findings == [] and report.source.startswith("composed with my_pmpo")
    # a config that is not here: the overrides as written, and no error (its yaml may set loss_mode)
    report = check_command(["--config-path", str(tmp_path / "elsewhere"), "--config-name", "x", TARGET, KNOB])
    assert not report.errors and any("unless the config's yaml sets it" in w for w in messages(report, "warning"))


def test_recipes_pass(tmp_path):
    """Every recipe's dry-run command (the form `pmpo-verl check --command "$(PMPO_DRY_RUN=1 bash ...)"` checks)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMPO_")}
    env.update(PMPO_DRY_RUN="1", PMPO_SKIP_CHECKS="1", MODEL_PATH="/nonexistent/model", DATA_DIR="/nonexistent/data")
    recipes = sorted([*(REPO / "examples" / "pmpo").glob("*.sh"), *(REPO / "examples" / "baselines").glob("*.sh")])
    assert len(recipes) >= 7
    for recipe in recipes:
        proc = subprocess.run(["bash", str(recipe)], env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
        assert proc.returncode == 0, proc.stderr
        report = check_command(proc.stdout.strip())
        assert report.findings == [], (recipe.name, report.findings)
        assert report.values[f"{PL}.loss_mode"] == ("vanilla" if "vanilla" in recipe.name else "pmpo")


def test_cli(capsys, monkeypatch):
    assert main(["check", "--command", f"{TRAINER} {TARGET} {KNOB} 2>&1 | tee log"]) == 1
    out = capsys.readouterr().out
    assert loss_mode_error("vanilla") in out and "command: 1 error(s)" in out
    assert main(["check", "--", *overrides_for("pmpo"), BYPASS]) == 0  # warnings do not fail
    out = capsys.readouterr().out
    assert "warning: algorithm.rollout_correction.bypass_mode=True with loss_mode=pmpo" in out and "command: OK" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO(shlex.join([*TRAINER.split(), *overrides_for("gmpo")])))
    assert main(["check", "--command", "-"]) == 0
    assert "command: OK" in capsys.readouterr().out
    # the overrides after -- are appended to --command's
    assert main(["check", "--command", f"{TRAINER} {TARGET}", "--", LOSS_MODE]) == 0
    assert main(["check", "--gpu", "--command", TRAINER + " a=1"]) == 2
    assert main(["check", "--command", "echo hello"]) == 2
    assert "no Hydra overrides found" in capsys.readouterr().out


def test_console_script_and_no_torch_or_verl_import():
    proc = subprocess.run([SCRIPT, "check", "--", TARGET, KNOB], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and loss_mode_error("vanilla") in proc.stdout, proc.stdout + proc.stderr
    code = ("import sys; from pmpo_verl.command_check import check_command; r = check_command(['a.b=1']); "
            "print('torch' in sys.modules, 'verl' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split()[-2:] == ["False", "False"], out.stderr
