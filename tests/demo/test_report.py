import json
from pathlib import Path

import pytest

from pmpo_verl.demo import report

VAL_ACC = report.VAL_ACC_PREFIX + "4"


def pmpo_step(s):
    """An actor/pmpo/* record: 80% of rows active, 40% solved with mean p 0.5 (step 2: none solved)."""
    solved = 0.0 if s == 2 else 0.4
    return {
        "actor/pmpo/active_frac": 0.8,
        "actor/pmpo/solved_frac": solved,
        "actor/pmpo/solved_p_per_row": 0.5 * solved,
        "actor/pmpo/p_below1_frac": solved / 2,
        "actor/pmpo/p0_frac": solved / 4,
        "actor/pmpo/clip_saturated_frac": 0.1,
        "actor/pmpo/active_clip_frac_per_row": 0.8 * 0.05 * s,
    }


def test_derived_values_in_records_summary_and_console_line():
    records = report.add_derived([{"step": 0}] + [{"step": s, **pmpo_step(s)} for s in (1, 2, 3)])
    assert records[0] == {"step": 0}
    assert records[1]["derived/pmpo/p_mean"] == pytest.approx(0.5)
    assert "derived/pmpo/p_mean" not in records[2]  # no solved row: undefined, not a placeholder
    assert records[3]["derived/pmpo/clip_frac_mean"] == pytest.approx(0.15)
    p = report.p_summary(records)
    assert p["train_steps"] == 3 and p["p_mean"] == pytest.approx(0.5)
    assert p["solved_frac"] == pytest.approx(0.8 / 3) and p["p_below1_share"] == pytest.approx(0.5)
    assert p["p_below1_frac_min"] == 0.0 and p["p_below1_frac_max"] == pytest.approx(0.2)
    line = report.p_line({"p": p})
    assert "mean 0.500" in line and "per step 0.0% to 20.0%" in line
    assert report.p_summary([{"step": 1}]) == {} and report.p_line({"p": {}}) == ""


def test_verl_file_log_to_metrics_plots_and_table(tmp_path):
    log = tmp_path / "verl.jsonl"
    lines = [{"step": 0, "data": {VAL_ACC: 0.25}}]
    for s in (1, 2, 3):
        data = {report.TRAIN_SCORE: 0.1 * s, "timing_s/step": 2.0 + s, **pmpo_step(s)}
        lines.append({"step": s, "data": data})
    lines.append({"step": 3, "data": {VAL_ACC: 0.5}})  # the final validation, logged separately
    log.write_text("\n".join(json.dumps(x) for x in lines) + "\n{truncated")
    records = report.read_verl_log(str(log))
    assert [r["step"] for r in records] == [0, 1, 2, 3]
    assert records[3][VAL_ACC] == 0.5 and records[3][report.TRAIN_SCORE] == 0.30000000000000004
    out = report.write_metrics_jsonl(records, str(tmp_path / "metrics.jsonl"))
    assert [json.loads(x)["step"] for x in Path(out).read_text().splitlines()] == [0, 1, 2, 3]
    assert (tmp_path / "r.png").exists() is False
    report.plot_reward({"pmpo": records}, str(tmp_path / "r.png"))
    report.plot_p(records, str(tmp_path / "p.png"))
    assert (tmp_path / "r.png").stat().st_size > 1000 and (tmp_path / "p.png").stat().st_size > 1000
    assert report.val_acc_key(records) == VAL_ACC and report.val_acc_label(VAL_ACC) == "mean@4, T=1"
    s = report.summarize(records, threshold=0.5, wall_s=10.0)
    assert s["initial_acc"] == 0.25 and s["final_acc"] == 0.5 and s["steps_to_threshold"] == 3 and s["steps"] == 3
    assert s["s_per_step"] == 4.5  # the first (warm-up) step is left out
    table = report.compare_table({"pmpo": s, "grpo": {**s, "steps_to_threshold": None}}, 0.5)
    assert "PMPO (adaptive p)" in table and "not reached" in table


@pytest.mark.parametrize("n, label", [("1", "greedy"), ("8", "mean@8, T=1")])
def test_validation_key_follows_the_samples_per_question(n, label):
    records = [{"step": 0, "critic/score/mean": 0.1}, {"step": 5, report.VAL_ACC_PREFIX + n: 0.5}]
    assert report.val_acc_key(records) == report.VAL_ACC_PREFIX + n
    assert report.val_acc_label(report.val_acc_key(records)) == label
    assert report.val_acc_key(records[:1]) is None
    assert report.summarize(records[:1], threshold=0.5)["steps_to_threshold"] is None
