"""``pmpo-verl eval`` behaves like a good CLI: one-line errors with exit 2, outputs that honour the umask,
honest compare plots, a context-length check before generating, labels that name the run, defaults in one
place."""

import json
import os
import stat
import subprocess
import sys
from dataclasses import fields

import pytest

from pmpo_verl.cli import main
from pmpo_verl.evaluation import atomic, checkpoint, context, report, store
from pmpo_verl.evaluation.errors import EvalError
from pmpo_verl.evaluation.options import EvalOptions
from pmpo_verl.evaluation.runner import default_label


def eval_args(model, data_dir, out, *extra, benchmarks="aime24"):
    return ["eval", "--model", str(model), "--benchmarks", benchmarks, "--data-dir", str(data_dir), "--backend", "hf",
            "--max-tokens", "4", "--out", str(out), "--no-progress", "--workers", "1", "--limit", "1", *extra]


def test_unwritable_out_is_one_line_and_exit_2(tiny_model, data_dir, tmp_path):
    (tmp_path / "a_file").write_text("x")
    proc = subprocess.run([sys.executable, "-m", "pmpo_verl.cli",
                           *eval_args(tiny_model, data_dir, tmp_path / "a_file" / "out")],
                          check=False, capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write to --out {tmp_path / 'a_file' / 'out'}")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_honour_the_umask(tmp_path, umask, mode):
    scores = {"pass@1": 0.5, "mean_tokens": 3.0, "problems": 2}
    result = {"label": "m", "model": "m", "resolved_model": "m", "average": scores,
              "settings": {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 4, "template": "qwen_math",
                           "backend": "hf", "seed": 0},
              "benchmarks": {"aime24": scores}}
    old = os.umask(umask)
    try:
        atomic.write_text(str(tmp_path / "plain.txt"), "x")
        report.write_all(str(tmp_path), result)
        samples = store.SampleStore(str(tmp_path))
        samples.check_run({k: 0 for k in store.RUN_KEYS})
        samples.save("aime24", {("0", 0): {k: "0" if k == "id" else 0 for k in store.ROW_KEYS}})
    finally:
        os.umask(old)
    for name in ("plain.txt", "results.json", "results.md", "results.png", "run.json", "samples/aime24.jsonl"):
        assert _mode(tmp_path / name) == mode, name
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


def _run(label, **pass1):
    return {"label": label, "benchmarks": {b: {"pass@1": v} for b, v in pass1.items()}}


def test_compare_does_not_plot_or_average_a_missing_benchmark(tmp_path):
    runs = [_run("full", aime24=0.2, amc=0.4), _run("part", aime24=0.6)]
    labels, series = report.chart_data(runs)
    assert labels == ["AIME24", "AMC", "Avg."]
    assert series[0].label == "full" and series[0].values == pytest.approx([20.0, 40.0, 30.0])
    assert series[1].values == [pytest.approx(60.0), None, None]  # no bar for AMC, no average over fewer sets
    assert series[1].label == "part (not run: AMC; no Avg.)"
    table = report.paper_table(runs)
    assert "| part | 60.0 | – | – |" in table and report.MISSING_NOTE in table
    assert report.MISSING_NOTE not in report.paper_table(runs[:1])
    assert report.bar_chart(runs, str(tmp_path / "cmp.png")) == str(tmp_path / "cmp.png")


def test_context_check_rules():
    ctx = context.Context(100, "max_position_embeddings in the model config")
    assert context.check("aime24", [10, 20], 50, ctx) is None
    warning = context.check("aime24", [10, 60], 50, ctx)
    assert warning.startswith("warning: aime24: prompts of up to 60 tokens plus --max-tokens 50 exceed the "
                              "model's context of 100 tokens (max_position_embeddings in the model config)")
    assert "1 of 2 prompts leave as few as 40 tokens" in warning
    with pytest.raises(EvalError, match="1 of 2 prompts fill the model's context of 100 tokens .* longest has 100"):
        context.check("aime24", [10, 100], 50, ctx)
    assert context.check("aime24", [10_000], 50, None) is None


def test_context_warning_and_error_with_the_tiny_model(tiny_model, data_dir, tmp_path, capsys, monkeypatch):
    """The tiny model's config says max_position_embeddings=1024; the check runs before generating (which is
    stubbed here: 1020 real tokens take a minute on a CPU)."""
    from pmpo_verl.evaluation.backends import Generation, hf_backend

    monkeypatch.setattr(hf_backend.HFBackend, "generate",
                        lambda self, requests, settings: [Generation("\\boxed{1}", "stop", 3) for _ in requests])
    assert main(eval_args(tiny_model, data_dir, tmp_path / "o1", "--max-tokens", "1020")) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning: aime24:")]
    assert len(warnings) == 1 and "--max-tokens 1020" in warnings[0] and "context of 1024 tokens" in warnings[0]
    long_set = tmp_path / "long.jsonl"
    long_set.write_text(json.dumps({"problem": "1 2 3 4 " * 400, "answer": "1"}) + "\n")
    assert main(eval_args(tiny_model, data_dir, tmp_path / "o2", benchmarks=str(long_set))) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: long: 1 of 1 prompts fill the model's context of 1024 tokens") and "\n" not in err


def test_default_label_names_the_run(tmp_path, tiny_model):
    step = tmp_path / "runs" / "demo" / "checkpoints" / "global_step_30"
    (step / "actor" / "huggingface").mkdir(parents=True)
    (step / "actor" / "fsdp_config.json").write_text("{}")
    for given in (step.parent, step, step / "actor", step / "actor" / "huggingface"):
        assert default_label(str(given)) == "demo/global_step_30", given
    assert default_label(tiny_model) == os.path.basename(tiny_model)
    assert default_label("Qwen/Qwen2.5-Math-7B") == "Qwen/Qwen2.5-Math-7B"


def test_merge_dir_from_the_environment(tmp_path, tiny_model, monkeypatch, capsys):
    actor = tmp_path / "exp" / "global_step_1" / "actor"
    (actor / "huggingface").mkdir(parents=True)
    for name in os.listdir(tiny_model):
        if not name.endswith(".safetensors"):
            (actor / "huggingface" / name).write_bytes((open(os.path.join(tiny_model, name), "rb")).read())
    (actor / "model_world_size_1_rank_0.pt").write_bytes(b"x")
    (actor / "fsdp_config.json").write_text(json.dumps({"world_size": 1}))

    def merger(cmd):
        target = cmd[cmd.index("--target_dir") + 1]
        os.makedirs(target)
        for name in os.listdir(tiny_model):
            with open(os.path.join(target, name), "wb") as fh:
                fh.write(open(os.path.join(tiny_model, name), "rb").read())

    monkeypatch.setenv(checkpoint.MERGE_DIR_ENV, str(tmp_path / "merged"))
    merged = checkpoint.resolve_model(str(actor), runner=merger)
    assert merged.startswith(str(tmp_path / "merged"))
    err = capsys.readouterr().err
    assert f"into {merged}" in err and checkpoint.MERGE_DIR_ENV in err and "--cache-dir" in err
    assert checkpoint.resolve_model(str(actor), runner=merger) == merged
    assert f"using the merge of {actor} in {merged}" in capsys.readouterr().err


def test_cli_defaults_and_help_come_from_the_options():
    import argparse

    from pmpo_verl.evaluation.cli import add_parser, options_from

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["eval", "--model", "m"])
    assert options_from(args) == EvalOptions(model="m")
    helps = {a.dest: a.help for a in parser._subparsers._group_actions[0].choices["eval"]._actions}
    for f in fields(EvalOptions):
        if f.name != "progress":
            assert f.metadata["help"] in helps[f.name], f.name
    assert "(default: 3000)" in helps["max_tokens"]
