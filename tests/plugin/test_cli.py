"""The console script's documented subcommands."""

import os
import subprocess
import sysconfig

import pytest

from pmpo_verl.cli import build_parser, main
from pmpo_verl.recipe import overrides_for

SCRIPT = os.path.join(sysconfig.get_path("scripts"), "pmpo-verl")  # the venv's console script


def test_console_script_is_installed_and_check_passes():
    out = subprocess.run([SCRIPT, "check"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "plugin: OK" in out.stdout


def test_overrides_prints_recipe_py(capsys):
    out = subprocess.run([SCRIPT, "overrides", "--method", "grpo"], capture_output=True, text=True, timeout=60)
    grpo = overrides_for("grpo")
    assert out.returncode == 0
    assert out.stdout.splitlines() == [o + " \\" for o in grpo[:-1]] + grpo[-1:]
    assert main(["overrides", "--lines", "--method", "vanilla"]) == 0
    assert capsys.readouterr().out.splitlines() == overrides_for("vanilla")


@pytest.mark.parametrize("command", [[], ["check"], ["overrides"], ["tiny-model"], ["demo"]])
def test_help_is_plain_text(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([*command, "--help"])
    text = capsys.readouterr().out
    assert "usage: pmpo-verl" in text
    assert "``" not in text and ":class:" not in text and "`" not in text, text


def test_demo_flags_take_defaults_and_help_from_demo_options():
    from dataclasses import fields

    from pmpo_verl.demo.options import DemoOptions

    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    actions = {a.dest: a for a in demo._actions}
    for f in fields(DemoOptions):
        if f.name in actions:
            assert actions[f.name].default == getattr(DemoOptions(), f.name)
            assert actions[f.name].help == f.metadata["help"]
    assert {"steps", "loss", "quiet", "verbose", "warmstart_steps", "val_samples"} <= set(actions)
