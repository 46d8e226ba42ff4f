"""The ``main_ppo`` command of the demo and its run (one subprocess, CPU backend through the plugin)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..recipe import overrides_for
from .options import DemoOptions, TrainRun

CPU_OVERRIDES = [
    "trainer.device=cpu",
    "trainer.n_gpus_per_node=1",
    "trainer.nnodes=1",
    # a Ray of its own: ray.init() without an address attaches to a cluster named by RAY_ADDRESS or
    # recorded in Ray's temp dir (`ray start`, or a stale record of one), and then refuses num_cpus/num_gpus
    "+ray_kwargs.ray_init.address=local",
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


def build_command(o: DemoOptions, run: TrainRun) -> list[str]:
    """``python -m verl.trainer.main_ppo`` with the PMPO plugin, the CPU backend and the demo sizes."""
    micro = o.mini_batch_size * o.n
    args = [
        sys.executable,
        "-m",
        "verl.trainer.main_ppo",
        *overrides_for(run.loss, clip_ratio=o.clip_ratio),
        *CPU_OVERRIDES,
        "reward.custom_reward_function.path=pkg://reward",
        "reward.custom_reward_function.name=compute_score",
        f"data.train_files=['{run.train_file}']",
        f"data.val_files=['{run.val_file}']",
        f"data.train_batch_size={o.batch_size}",
        f"data.max_prompt_length={o.max_prompt_length}",
        f"data.max_response_length={o.max_response_length}",
        "data.filter_overlong_prompts=False",
        f"data.seed={o.seed}",
        f"actor_rollout_ref.model.path={run.model_path}",
        f"actor_rollout_ref.rollout.n={o.n}",
        "actor_rollout_ref.rollout.temperature=1.0",
        "actor_rollout_ref.rollout.top_p=1.0",
        *_val_overrides(o.val_samples),
        f"actor_rollout_ref.rollout.prompt_length={o.max_prompt_length}",
        f"actor_rollout_ref.rollout.response_length={o.max_response_length}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={o.mini_batch_size}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={micro}",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={micro}",
        f"actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu={micro}",
        f"actor_rollout_ref.actor.ppo_epochs={o.ppo_epochs}",
        f"actor_rollout_ref.actor.optim.lr={o.lr}",
        "actor_rollout_ref.actor.use_kl_loss=False",
        "actor_rollout_ref.actor.entropy_coeff=0",
        "algorithm.use_kl_in_reward=False",
        f"trainer.total_training_steps={o.steps}",
        "trainer.total_epochs=1000",
        f"trainer.test_freq={o.test_freq}",
        f"trainer.save_freq={o.steps if o.save_freq is None else o.save_freq}",
        f"trainer.val_before_train={o.val_before_train}",
        f"trainer.default_local_dir={run.ckpt_dir}",
        f"trainer.resume_mode={'auto' if o.resume else 'disable'}",
        "trainer.project_name=pmpo_verl_demo",
        f"trainer.experiment_name={run.loss}",
        # the file first: when the console line of a step arrives, its metrics are on disk (progress lines)
        "trainer.logger=['file','console']",
        "trainer.log_val_generations=0",
        *o.extra,
    ]
    return args


def tq_num_threads() -> int:
    """transfer_queue's torch threads (env ``TQ_NUM_THREADS``, default 8): at most the physical cores, above
    which it logs a warning on every put and get (17,000 lines in a 30-step demo on 2 cores) and clamps."""
    import psutil

    return max(1, min(8, psutil.cpu_count(logical=False) or os.cpu_count() or 1))


def build_env(run: TrainRun, base: dict | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(
        VERL_PLATFORM="cpu",
        VERL_ENGINE_DEVICE="cuda",
        PMPO_VERL_ROLLOUT="hf",
        VERL_FILE_LOGGER_PATH=run.verl_log,
        WANDB_MODE="disabled",
        TORCH_COMPILE_DISABLE="1",
        TOKENIZERS_PARALLELISM="false",
        RAY_DEDUP_LOGS="0",
        HYDRA_FULL_ERROR="1",
        RAY_USAGE_STATS_ENABLED="0",
        PYTHONUNBUFFERED="1",
    )
    env.setdefault("TQ_NUM_THREADS", str(tq_num_threads()))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.pop("RAY_ADDRESS", None)  # the demo's Ray is its own (ray_init.address=local): no child attaches
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


def run_training(
    o: DemoOptions,
    run: TrainRun,
    on_line: Callable[[str], None] | None = None,
    timeout_s: float | None = None,
) -> RunResult:
    """Run ``main_ppo``; its whole output goes to ``out_dir/train.log``, each line to ``on_line`` if given."""
    os.makedirs(run.out_dir, exist_ok=True)
    if os.path.exists(run.verl_log) and not o.resume:
        os.remove(run.verl_log)
    log_path = os.path.join(run.out_dir, "train.log")
    cmd = build_command(o, run)
    with open(os.path.join(run.out_dir, "command.txt"), "w") as f:
        f.write(" \\\n  ".join(cmd) + "\n")
    t0 = time.time()
    with open(log_path, "ab" if o.resume else "wb") as logf:
        # own session: whatever main_ppo leaves behind (Ray processes) is ended with it
        proc = subprocess.Popen(
            cmd, env=build_env(run), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=run.out_dir,
            start_new_session=True,
        )
        assert proc.stdout is not None
        import signal

        def _on_term(signum, frame):  # SIGTERM: clean up like Ctrl-C
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _on_term) if _in_main_thread() else None
        try:
            for line in proc.stdout:
                logf.write(line)
                if on_line is not None:
                    on_line(line.decode(errors="replace"))
            rc = proc.wait(timeout=timeout_s)
        finally:
            _end_session(proc)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    return RunResult(proc.pid, rc, time.time() - t0, log_path)
