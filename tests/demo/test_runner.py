"""The demo's ``main_ppo`` command line."""

from pmpo_verl.demo.runner import TrainSettings, build_command


def _settings(**kw):
    return TrainSettings(model_path="/m", train_file="/t.parquet", val_file="/v.parquet", out_dir="/o", **kw)


def _values(cmd, key):
    return [a.split("=", 1)[1] for a in cmd if a.split("=", 1)[0] == key]


def test_defaults_keep_the_methods_clip_and_greedy_validation():
    cmd = build_command(_settings())
    assert cmd[1:3] == ["-m", "verl.trainer.main_ppo"]
    assert _values(cmd, "actor_rollout_ref.actor.clip_ratio_low") == ["0.4"]
    assert _values(cmd, "actor_rollout_ref.actor.clip_ratio_high") == ["0.4"]
    assert not [a for a in cmd if "val_kwargs" in a]
    assert _values(cmd, "actor_rollout_ref.actor.ppo_epochs") == ["1"]
    assert _values(cmd, "actor_rollout_ref.actor.policy_loss.loss_mode") == ["pmpo"]


def test_demo_clip_epochs_and_sampled_validation():
    cmd = build_command(_settings(loss="gmpo", clip_ratio=0.2, ppo_epochs=2, val_samples=4, extra=["trainer.test_freq=2"]))
    # set once, not repeated: command.txt shows one value per key (the user's extra overrides come last and win)
    assert _values(cmd, "actor_rollout_ref.actor.clip_ratio_low") == ["0.2"]
    assert _values(cmd, "actor_rollout_ref.actor.clip_ratio_high") == ["0.2"]
    assert _values(cmd, "+actor_rollout_ref.actor.policy_loss.p") == ["0"]
    assert _values(cmd, "actor_rollout_ref.actor.ppo_epochs") == ["2"]
    assert _values(cmd, "actor_rollout_ref.rollout.val_kwargs.n") == ["4"]
    assert _values(cmd, "actor_rollout_ref.rollout.val_kwargs.do_sample") == ["True"]
    assert _values(cmd, "actor_rollout_ref.rollout.val_kwargs.temperature") == ["1.0"]
    assert cmd[-1] == "trainer.test_freq=2"
    keys = [a.split("=", 1)[0] for a in cmd[3:-1]]
    assert len(keys) == len(set(keys))
