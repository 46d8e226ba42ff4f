"""The demo's ``main_ppo`` command line and environment."""

from pmpo_verl.demo.options import DemoOptions, TrainRun
from pmpo_verl.demo.runner import build_command, build_env, tq_num_threads
from pmpo_verl.recipe import overrides_for

RUN = TrainRun(model_path="/m", train_file="/t.parquet", val_file="/v.parquet", out_dir="/o")


def _values(cmd, key):
    return [a.split("=", 1)[1] for a in cmd if a.split("=", 1)[0] == key]


def test_defaults_are_the_demo_options():
    cmd = build_command(DemoOptions(), RUN)
    assert cmd[1:3] == ["-m", "verl.trainer.main_ppo"]
    assert set(overrides_for("pmpo", clip_ratio=0.2)) <= set(cmd)
    assert _values(cmd, "actor_rollout_ref.actor.clip_ratio_low") == ["0.2"]
    assert _values(cmd, "actor_rollout_ref.actor.ppo_epochs") == ["2"]
    assert _values(cmd, "actor_rollout_ref.rollout.val_kwargs.n") == ["4"]
    assert _values(cmd, "trainer.save_freq") == ["30"]  # one checkpoint, after the last step


def test_options_reach_the_command_once():
    opts = DemoOptions(loss="gmpo", clip_ratio=0.3, ppo_epochs=1, val_samples=1, save_freq=-1,
                       extra=["trainer.test_freq=2"])
    cmd = build_command(opts, TrainRun("/m", "/t", "/v", "/o", loss="gmpo"))
    # set once, not repeated: command.txt shows one value per key (the user's extras come last and win)
    assert _values(cmd, "actor_rollout_ref.actor.clip_ratio_high") == ["0.3"]
    assert _values(cmd, "+actor_rollout_ref.actor.policy_loss.p") == ["0"]
    assert not [a for a in cmd if "val_kwargs" in a]  # greedy validation: verl's default
    assert _values(cmd, "trainer.save_freq") == ["-1"]
    assert cmd[-1] == "trainer.test_freq=2"
    keys = [a.split("=", 1)[0] for a in cmd[3:-1]]
    assert len(keys) == len(set(keys))


def test_the_demo_starts_its_own_ray():
    # ray.init() without an address attaches to RAY_ADDRESS or to the cluster recorded in Ray's temp dir, and
    # then refuses the num_cpus/num_gpus the demo passes
    cmd = build_command(DemoOptions(), RUN)
    assert _values(cmd, "+ray_kwargs.ray_init.address") == ["local"]
    assert "RAY_ADDRESS" not in build_env(RUN, base={"RAY_ADDRESS": "127.0.0.1:1", "PATH": "/bin"})


def test_transfer_queue_threads_fit_the_cores():
    import psutil

    env = build_env(RUN, base={})
    assert env["TQ_NUM_THREADS"] == str(tq_num_threads())
    assert 1 <= tq_num_threads() <= min(8, psutil.cpu_count(logical=False) or 8)
    assert build_env(RUN, base={"TQ_NUM_THREADS": "3"})["TQ_NUM_THREADS"] == "3"  # the user's choice wins
