"""The demo's console: one line per step from verl's metrics file, errors passed through."""

import json

from pmpo_verl.demo.options import TrainRun
from pmpo_verl.demo.progress import Progress, progress_line
from pmpo_verl.demo.report import VAL_ACC_PREFIX

P = "actor/pmpo/"


def _record(step, **extra):
    return {"step": step, "critic/score/mean": 0.5, P + "active_frac": 0.5, P + "solved_frac": 0.5,
            P + "solved_p_per_row": 0.4, P + "active_clip_frac_per_row": 0.01, **extra}


def test_progress_line_names_reward_val_acc_p_clip_and_time_left():
    line = progress_line(_record(3), 30, 0.52, 150.0)
    assert line == "step 3/30  reward 0.50  val acc 0.520  p 0.80 (solved 50%)  clip 0.020  ~2 min left"
    assert progress_line({"step": 1}, 1, None, None) == "step 1/1"


def test_steps_are_printed_once_when_verl_reports_them(tmp_path):
    run = TrainRun("/m", "/t", "/v", str(tmp_path), loss="pmpo")
    lines = []
    progress = Progress(run, 2, log=lines.append)
    with open(run.verl_log, "w") as f:
        f.write(json.dumps({"step": 0, "data": {VAL_ACC_PREFIX + "4": 0.25}}) + "\n")
        f.write(json.dumps({"step": 1, "data": _record(1)}) + "\n")
    progress("(TaskRunner pid=1) some worker chatter\n")
    assert lines == []
    progress("(TaskRunner pid=1) step:1 - critic/score/mean:0.5 - timing_s/step:3.0\n")
    progress.flush()
    assert len(lines) == 1 and lines[0].startswith("[pmpo] step 1/2  reward 0.50  val acc 0.250")


def test_errors_pass_through_and_quiet_shows_no_steps(tmp_path):
    run = TrainRun("/m", "/t", "/v", str(tmp_path), loss="grpo")
    lines = []
    progress = Progress(run, 2, log=lines.append, quiet=True)
    progress("Traceback (most recent call last):\n")
    progress("RuntimeError: boom\n")
    progress("(TaskRunner pid=1) step:1 - x:1\n")
    assert lines == ["[grpo] verl: Traceback (most recent call last):", "[grpo] verl: RuntimeError: boom"]
