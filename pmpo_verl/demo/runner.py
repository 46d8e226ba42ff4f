"""The ``main_ppo`` command of the demo and its run (one subprocess, CPU backend through the plugin)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

from ..cli import CLIP_RATIO, overrides_for


@dataclass
class TrainSettings:
    model_path: str
    train_file: str
    val_file: str
    out_dir: str
    steps: int = 20
    loss: str = "pmpo"
    seed: int = 0
    batch_size: int = 8
    n: int = 4
    mini_batch_size: int = 8
    lr: float = 2e-4
    ppo_epochs: int = 1
    clip_ratio: float = CLIP_RATIO  # log-space clip for both sides
    val_samples: int = 1  # samples per validation question: 1 = greedy, > 1 = mean@samples at temperature 1
    max_prompt_length: int = 96
    max_response_length: int = 32
    test_freq: int = 5
    save_freq: int = -1
    resume: bool = False
    val_before_train: bool = True
    extra: list[str] = field(default_factory=list)

    @property
    def ckpt_dir(self) -> str:
        return os.path.join(self.out_dir, "checkpoints")

    @property
    def verl_log(self) -> str:
        return os.path.join(self.out_dir, "verl_metrics.jsonl")


CPU_OVERRIDES = [
    "trainer.device=cpu",
    "trainer.n_gpus_per_node=1",
    "trainer.nnodes=1",
    "+ray_kwargs.ray_init.num_cpus=16",
    "+ray_kwargs.ray_init.num_gpus=1",
    "+ray_kwargs.ray_init.include_dashboard=False",
    "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
    "actor_rollout_ref.rollout.name=hf",
    "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
    "actor_rollout_ref.rollout.agent.num_workers=1",
    "actor_rollout_ref.rollout.calculate_log_probs=True",
    "actor_rollout_ref.actor.strategy=fsdp2",
    "actor_rollout_ref.ref.strategy=fsdp2",
    "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
    "actor_rollout_ref.model.use_remove_padding=False",
    "actor_rollout_ref.model.enable_gradient_checkpointing=False",
    "actor_rollout_ref.actor.use_torch_compile=False",
    "actor_rollout_ref.actor.fsdp_config.model_dtype=fp32",
    "+actor_rollout_ref.actor.fsdp_config.mixed_precision={param_dtype:fp32,reduce_dtype:fp32,buffer_dtype:fp32}",
    "data.dataloader_num_workers=0",
    "reward.num_workers=1",
]


def _val_overrides(samples: int) -> list[str]:
    if samples <= 1:
        return []  # verl's default: greedy, one sample
    return [
        "actor_rollout_ref.rollout.val_kwargs.do_sample=True",
        "actor_rollout_ref.rollout.val_kwargs.temperature=1.0",
        "actor_rollout_ref.rollout.val_kwargs.top_p=1.0",
        f"actor_rollout_ref.rollout.val_kwargs.n={samples}",
    ]


def build_command(s: TrainSettings) -> list[str]:
    """``python -m verl.trainer.main_ppo`` with the PMPO plugin, the CPU backend and the demo sizes."""
    method = {"pmpo": "pmpo", "grpo": "grpo", "gmpo": "gmpo"}[s.loss]
    args = [
        sys.executable,
        "-m",
        "verl.trainer.main_ppo",
        *overrides_for(method, clip_ratio=s.clip_ratio),
        *CPU_OVERRIDES,
        "reward.custom_reward_function.path=pkg://reward",
        "reward.custom_reward_function.name=compute_score",
        f"data.train_files=['{s.train_file}']",
        f"data.val_files=['{s.val_file}']",
        f"data.train_batch_size={s.batch_size}",
        f"data.max_prompt_length={s.max_prompt_length}",
        f"data.max_response_length={s.max_response_length}",
        "data.filter_overlong_prompts=False",
        f"data.seed={s.seed}",
        f"actor_rollout_ref.model.path={s.model_path}",
        f"actor_rollout_ref.rollout.n={s.n}",
        "actor_rollout_ref.rollout.temperature=1.0",
        "actor_rollout_ref.rollout.top_p=1.0",
        *_val_overrides(s.val_samples),
        "actor_rollout_ref.rollout.prompt_length=" + str(s.max_prompt_length),
        "actor_rollout_ref.rollout.response_length=" + str(s.max_response_length),
        f"actor_rollout_ref.actor.ppo_mini_batch_size={s.mini_batch_size}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={s.mini_batch_size * s.n}",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={s.mini_batch_size * s.n}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={s.mini_batch_size * s.n}",
        f"actor_rollout_ref.actor.ppo_epochs={s.ppo_epochs}",
        f"actor_rollout_ref.actor.optim.lr={s.lr}",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "actor_rollout_ref.actor.entropy_coeff=0",
        "algorithm.use_kl_in_reward=False",
        f"trainer.total_training_steps={s.steps}",
        "trainer.total_epochs=1000",
        f"trainer.test_freq={s.test_freq}",
        f"trainer.save_freq={s.save_freq}",
        f"trainer.val_before_train={s.val_before_train}",
        f"trainer.default_local_dir={s.ckpt_dir}",
        f"trainer.resume_mode={'auto' if s.resume else 'disable'}",
        "trainer.project_name=pmpo_verl_demo",
        f"trainer.experiment_name={s.loss}",
        "trainer.logger=['console','file']",
        "trainer.log_val_generations=0",
        *s.extra,
    ]
    return args


def build_env(s: TrainSettings, base: dict | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(
        VERL_PLATFORM="cpu",
        VERL_ENGINE_DEVICE="cuda",
        PMPO_VERL_ROLLOUT="hf",
        VERL_FILE_LOGGER_PATH=s.verl_log,
        WANDB_MODE="disabled",
        TORCH_COMPILE_DISABLE="1",
        TOKENIZERS_PARALLELISM="false",
        RAY_DEDUP_LOGS="0",
        HYDRA_FULL_ERROR="1",
        RAY_USAGE_STATS_ENABLED="0",
        PYTHONUNBUFFERED="1",
    )
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


@dataclass
class RunResult:
    session_id: int
    returncode: int
    wall_s: float
    log_path: str


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def session_processes(sid: int) -> list[int]:
    """Live processes of session ``sid`` (Ray daemons change their process group, not their session)."""
    import psutil

    pids = []
    for p in psutil.process_iter(["pid", "status"]):
        try:
            if p.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(p.info["pid"]) == sid:
                pids.append(p.info["pid"])
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return pids


def _end_session(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """End the processes left in the session started for ``proc`` (ours only), after a grace period."""
    import signal

    if proc.poll() is None:
        proc.kill()
        proc.wait()
    deadline = time.time() + grace_s
    while session_processes(proc.pid) and time.time() < deadline:
        time.sleep(0.5)
    for pid in session_processes(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_training(s: TrainSettings, log=print, quiet: bool = False, timeout_s: float | None = None) -> RunResult:
    """Run ``main_ppo``; its output goes to ``out_dir/train.log`` (and to the console unless quiet)."""
    os.makedirs(s.out_dir, exist_ok=True)
    if os.path.exists(s.verl_log) and not s.resume:
        os.remove(s.verl_log)
    log_path = os.path.join(s.out_dir, "train.log")
    cmd = build_command(s)
    with open(os.path.join(s.out_dir, "command.txt"), "w") as f:
        f.write(" \\\n  ".join(cmd) + "\n")
    t0 = time.time()
    with open(log_path, "ab" if s.resume else "wb") as logf:
        # own session: whatever main_ppo leaves behind (Ray processes) is ended with it
        proc = subprocess.Popen(
            cmd, env=build_env(s), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=s.out_dir, start_new_session=True
        )
        assert proc.stdout is not None
        import signal

        def _on_term(signum, frame):  # SIGTERM: clean up like Ctrl-C
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _on_term) if _in_main_thread() else None
        try:
            for line in proc.stdout:
                logf.write(line)
                if not quiet:
                    sys.stdout.write(line.decode(errors="replace"))
                    sys.stdout.flush()
            rc = proc.wait(timeout=timeout_s)
        finally:
            _end_session(proc)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    return RunResult(proc.pid, rc, time.time() - t0, log_path)
