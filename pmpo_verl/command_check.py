"""Check a ``verl.trainer.main_ppo`` command for PMPO misconfigurations that verl does not report.

``pmpo-verl check --command "..."`` (or ``pmpo-verl check -- OVERRIDE ...``) and the demo's preflight run
:func:`check_command`. The command is composed with verl 0.9.1's real Hydra config (its own yaml files; no
``import verl``, no torch), and the rules below are applied to the composed values:

* error: ``_target_=pmpo_verl.config.PMPOPolicyLossConfig`` without ``loss_mode=pmpo``: verl's actor yaml
  sets ``loss_mode: vanilla`` and a ``_target_`` override keeps it; ``PMPOPolicyLossConfig`` refuses it
  when the actor worker builds its config (before, the vanilla loss ran with the PMPO knobs ignored);
* error: PMPO knobs (``+...policy_loss.p_mode=fixed`` ...) without that ``_target_``: verl's stock
  ``PolicyLossConfig`` has no such fields, and the actor worker fails when it builds its config;
* warning: ``loss_mode=pmpo`` without that ``_target_``: the loss runs with its default knobs;
* warning: ``algorithm.rollout_correction.bypass_mode=True`` with ``loss_mode=pmpo`` (:data:`BYPASS_MESSAGE`).

This module imports neither torch nor verl (``pmpo_verl.config`` imports its message from here).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .recipe import PMPO_TARGET

POLICY_LOSS = "actor_rollout_ref.actor.policy_loss"
STOCK_TARGETS = ("verl.workers.config.PolicyLossConfig", "verl.workers.config.actor.PolicyLossConfig")
BYPASS_KEY = "algorithm.rollout_correction.bypass_mode"
# the fields PMPOPolicyLossConfig adds to verl's PolicyLossConfig (a test keeps the two lists equal)
PMPO_KNOBS = ("p_mode", "p", "clip_mode", "ess_on", "target_rule", "target_nu0", "clip_saturation", "target_gamma",
              "solver", "solver_iters", "p_small", "degenerate_p")
# verl 0.9.1's yaml defaults of the keys the rules read (a test composes verl's config and compares)
VERL_DEFAULTS = {f"{POLICY_LOSS}.loss_mode": "vanilla", f"{POLICY_LOSS}._target_": STOCK_TARGETS[0], BYPASS_KEY: False}
DEFAULT_CONFIG_NAME = "ppo_trainer"

BYPASS_MESSAGE = (
    f"{BYPASS_KEY}=True with loss_mode=pmpo: verl 0.9.1 does not switch the loss to bypass_mode (its default v1 "
    "trainer never changes loss_mode; the legacy trainer, trainer.use_v1=False, changes it only in the driver's copy "
    "of the config, after the actor workers have built theirs), so PMPO runs with pi_old = the rollout engine's "
    "log-probs instead of log-probs recomputed by the trainer: every mini-batch, the first one included, is "
    "off-policy by the rollout/trainer mismatch, and the clip fractions and p react to that mismatch; the "
    "rollout-correction importance weights and rejection sampling (algorithm.rollout_correction.rollout_is/"
    "rollout_rs) are not applied. Remove bypass_mode=True unless this is what you want"
)


def loss_mode_error(got: object) -> str:
    """The one-line error of ``PMPOPolicyLossConfig`` (and of this check) for a loss mode other than pmpo."""
    return f"PMPOPolicyLossConfig needs loss_mode=pmpo, got {got!r}: add {POLICY_LOSS}.loss_mode=pmpo"


@dataclass(frozen=True)
class Finding:
    level: str  # "error" (the run fails or trains something else than asked) or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


@dataclass
class Command:
    """The Hydra side of a ``main_ppo`` command line."""

    overrides: list[str] = field(default_factory=list)
    config_name: str | None = None  # --config-name (None: main_ppo's ppo_trainer)
    config_path: str | None = None  # --config-path as given (absolute, or relative to verl/trainer/)
    hidden: list[str] = field(default_factory=list)  # words the shell would expand into arguments ("$@", "${ARGS[@]}")

    @property
    def name(self) -> str:
        return self.config_name or DEFAULT_CONFIG_NAME

    def extended(self, more: Command) -> Command:
        """This command with ``more``'s overrides appended (they win) and its options, where given."""
        return Command(self.overrides + more.overrides, more.config_name or self.config_name,
                       more.config_path or self.config_path, self.hidden + more.hidden)


@dataclass
class Report:
    findings: list[Finding]
    values: dict[str, Any]  # the values the rules read (None: unknown until the shell runs the command)
    knobs: list[str]  # PMPO knobs present under policy_loss
    source: str  # what the values come from, for the summary line

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]


# ---------------------------------------------------------------------------------------------- parsing

_SEPARATORS = {";", "&", "&&", "|", "||", "\n"}
_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_OPTIONS = {"--config-name": "config_name", "-cn": "config_name", "--config-path": "config_path", "-cp": "config_path"}


def _shell_words(text: str) -> list[str]:
    """Shell words of ``text``, with ``\\n``, ``;``, ``&&``, ``|`` ... as separate words; comments dropped."""
    lex = shlex.shlex(text.replace("\\\n", " "), posix=True, punctuation_chars=";&|<>\n")
    lex.whitespace, lex.whitespace_split, lex.commenters = " \t\r", True, ""
    words, in_comment = [], False
    for word in lex:
        if word == "\n":
            in_comment = False
        elif in_comment:
            continue
        elif word.startswith("#"):
            in_comment = True
            continue
        words.append(word)
    return words


def _is_trainer(word: str) -> bool:
    return re.search(r"(^|[./])main_ppo(\.py)?$", word) is not None


def parse_command(command: str | Sequence[str]) -> Command:
    """The Hydra overrides and options of a ``main_ppo`` command.

    ``command`` is a shell command line (a string: quotes, ``\\``-continued lines, ``VAR=value`` prefixes,
    ``2>&1 | tee log`` and comments are understood) or its argv. The overrides are the words after the
    ``main_ppo`` module or script (the rest of that shell command); without one, every ``key=value`` word.
    """
    if isinstance(command, str):
        words = _shell_words(command)
    else:
        words = [str(w) for w in command]
    start = next((i + 1 for i, w in enumerate(words) if _is_trainer(w)), None)
    if start is None:
        words = [w for w in words if w != "\n" and not re.match(r"^[A-Z_][A-Z0-9_]*=", w)]
    else:
        words = words[start:]
        end = next((i for i, w in enumerate(words) if w in _SEPARATORS), len(words))
        words = words[:end]
    cmd = Command()
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word in _SEPARATORS:
            continue
        if word and word[0] in "<>":  # a redirection and its target
            i += 1
            continue
        name, eq, value = word.partition("=")
        if name in _OPTIONS:
            if not eq:
                value = words[i] if i < len(words) else ""
                i += 1
            setattr(cmd, _OPTIONS[name], value)
        elif word.startswith("-"):
            continue  # another Hydra option (--multirun, ...)
        elif "=" in word or word.startswith("~"):
            cmd.overrides.append(word)
        elif "$" in word:
            cmd.hidden.append(word)
    return cmd


# ------------------------------------------------------------------------------------------ composition

def verl_config_dir() -> str | None:
    """verl's ``trainer/config`` directory, found without importing verl."""
    spec = importlib.util.find_spec("verl")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "trainer", "config")


def _parser():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


def _for_hydra(override: str, parser) -> str:
    """``override`` as Hydra can parse it: a value the shell would expand (``$(nproc)``) is quoted."""
    try:
        parser.parse_override(override)
        return override
    except Exception:
        key, eq, value = override.partition("=")
        if eq and "$" in value:
            return key + "='" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return override


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def _compose(cmd: Command):
    """(config, None) or (None, why not)."""
    verl_dir = verl_config_dir()
    if verl_dir is None:
        return None, "verl is not installed"
    config_dir = verl_dir
    if cmd.config_path:
        if cmd.config_path.startswith("pkg://"):
            return None, f"--config-path {cmd.config_path} is a package path"
        config_dir = os.path.normpath(os.path.join(os.path.dirname(verl_dir), cmd.config_path))
    if not os.path.isdir(config_dir):
        return None, f"config directory {config_dir} not found"
    try:
        from hydra import compose, initialize_config_dir

        parser = _parser()
        overrides = [_for_hydra(o, parser) for o in cmd.overrides]
        with initialize_config_dir(config_dir=config_dir, version_base=None):
            return compose(config_name=cmd.name, overrides=overrides), None
    except Exception as exc:  # Hydra's own errors: unknown keys, a missing yaml, bad syntax
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        return None, " ".join(lines[:2]) or type(exc).__name__


def _select(cfg, key: str):
    from omegaconf import OmegaConf

    try:
        return OmegaConf.select(cfg, key)
    except Exception:  # an interpolation that only resolves at run time (${oc.env:...})
        return None


def _override_values(overrides: Sequence[str]) -> tuple[dict[str, Any], set[str]]:
    """Last value of each key as written (``~key`` deletes); verl's defaults where a rule needs one."""
    values: dict[str, Any] = dict(VERL_DEFAULTS)
    keys: set[str] = set()
    parser = _parser()
    for override in overrides:
        key = _key(override)
        if override.startswith("~"):
            values.pop(key, None)
            keys.discard(key)
            continue
        try:
            value = parser.parse_override(override).value()
        except Exception:
            value = override.partition("=")[2]
        values[key] = value
        keys.add(key)
    return values, keys


def _shell_dependent(cmd: Command) -> set[str]:
    return {_key(o) for o in cmd.overrides if "$" in o.partition("=")[2] and not o.startswith("~")}


# ---------------------------------------------------------------------------------------------- rules

def _rules(values: dict[str, Any], knobs: list[str]) -> list[Finding]:
    loss_mode = values.get(f"{POLICY_LOSS}.loss_mode")
    target = values.get(f"{POLICY_LOSS}._target_")
    bypass = values.get(BYPASS_KEY)
    pmpo_target = target == PMPO_TARGET
    out = []
    if loss_mode is not None and target is not None:
        if pmpo_target and loss_mode != "pmpo":
            out.append(
                Finding("error", loss_mode_error(loss_mode) + " (the actor workers refuse this config at start-up)")
            )
        elif knobs and target in STOCK_TARGETS:
            need = [f"{POLICY_LOSS}._target_={PMPO_TARGET}"] + (
                [f"{POLICY_LOSS}.loss_mode=pmpo"] if loss_mode != "pmpo" else []
            )
            out.append(Finding(
                "error",
                f"PMPO knobs ({', '.join(knobs)}) with verl's stock PolicyLossConfig: it has no such fields, so the "
                "actor workers fail when they build their config; add " + " and ".join(need),
            ))
        elif loss_mode == "pmpo" and target in STOCK_TARGETS:
            out.append(Finding(
                "warning",
                f"loss_mode=pmpo with verl's stock PolicyLossConfig: PMPO's knobs take their defaults; add "
                f"{POLICY_LOSS}._target_={PMPO_TARGET} to set them",
            ))
    if loss_mode == "pmpo" and bypass:
        out.append(Finding("warning", BYPASS_MESSAGE))
    return out


def check_command(command: str | Sequence[str] | Command) -> Report:
    """Compose ``command`` with verl's Hydra config and apply the rules (module docstring) to it."""
    cmd = command if isinstance(command, Command) else parse_command(command)
    findings = [
        Finding("warning", f"the command passes {word!r}: the overrides the shell expands it to are not checked")
        for word in cmd.hidden
    ]
    cfg, why = _compose(cmd)
    if cfg is not None:
        values = {key: _select(cfg, key) for key in VERL_DEFAULTS}
        node = _select(cfg, POLICY_LOSS)
        knobs = [k for k in PMPO_KNOBS if node is not None and k in node]
        where = f"from {cmd.config_path}" if cmd.config_path else "(verl's config)"
        source = f"composed with {cmd.name} {where}"
        certain = True
    else:
        values, keys = _override_values(cmd.overrides)
        knobs = [k for k in PMPO_KNOBS if f"{POLICY_LOSS}.{k}" in keys]
        uses_verl_config = cmd.config_path is None
        if uses_verl_config:
            # main_ppo composes exactly this: it would stop at start-up with the same error
            findings.append(Finding("error", f"Hydra cannot compose the command with verl's {cmd.name} config: {why}"))
        else:
            findings.append(Finding(
                "warning",
                f"could not compose the command with its config ({why}): checked the overrides as written, "
                "so what the config's yaml sets is not seen",
            ))
        source = "read from the overrides"
        certain = uses_verl_config
    for key in sorted(_shell_dependent(cmd) & set(VERL_DEFAULTS)):
        findings.append(Finding("warning", f"{key} comes from the shell ({values.get(key)!r}): not checked"))
        values[key] = None
    for finding in _rules(values, knobs):
        if finding.level == "error" and not certain:
            finding = Finding("warning", finding.message + " (unless the config's yaml sets it)")
        findings.append(finding)
    return Report(findings, values, knobs, source)


def format_report(report: Report, n_overrides: int) -> list[str]:
    """Lines for the console: the values checked, each finding, a verdict."""
    v = report.values
    target = v.get(f"{POLICY_LOSS}._target_")
    summary = (
        f"command: {n_overrides} override(s), {report.source}: loss_mode={v.get(f'{POLICY_LOSS}.loss_mode')}, "
        f"policy_loss._target_={target}, {BYPASS_KEY.rsplit('.', 1)[1]}={v.get(BYPASS_KEY)}"
        + (f", PMPO knobs: {', '.join(report.knobs)}" if report.knobs else "")
    )
    lines = [summary, *map(str, report.findings)]
    if report.errors:
        lines.append(f"command: {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    else:
        lines.append("command: OK" + (f" ({len(report.warnings)} warning(s))" if report.warnings else ""))
    return lines
