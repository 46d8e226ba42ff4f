"""``pmpo-verl eval`` end to end with a tiny local model and the transformers backend (CPU)."""

import json
import os
import subprocess
import sys

import pytest

from pmpo_verl.cli import main
from pmpo_verl.evaluation import runner, store

ROW_KEYS = set(store.ROW_KEYS)


def eval_args(model, data_dir, out, *extra, benchmarks="aime24,minerva"):
    return ["eval", "--model", str(model), "--benchmarks", benchmarks, "--data-dir", str(data_dir), "--backend", "hf",
            "--max-tokens", "12", "--out", str(out), "--no-progress", "--workers", "1", *extra]


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def snapshot(out):
    files = ["results.json", "results.md", "samples/aime24.jsonl", "samples/minerva.jsonl"]
    return {f: (out / f).read_text(encoding="utf-8") for f in files}


@pytest.fixture
def count_generated(monkeypatch):
    """Counts the samples the backend generates (wrapping the real transformers backend)."""
    from pmpo_verl.evaluation.backends import hf_backend

    counts = []
    real = hf_backend.HFBackend.generate

    def counting(self, requests, settings):
        counts.append(len(requests))
        return real(self, requests, settings)

    monkeypatch.setattr(hf_backend.HFBackend, "generate", counting)
    return counts


@pytest.fixture(scope="session")
def reference_run(tiny_model, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "out"
    assert main(eval_args(tiny_model, data_dir, out)) == 0
    return out


def test_outputs_complete_and_well_formed(reference_run, capsys):
    out = reference_run
    for name in ("results.json", "results.md", "results.png", "run.json"):
        assert os.path.getsize(out / name) > 0
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for bench in ("aime24", "minerva"):
        rows = read_jsonl(out / "samples" / f"{bench}.jsonl")
        assert [(r["id"], r["sample"]) for r in rows] == [("0", 0), ("1", 0)]
        for r in rows:
            assert set(r) == ROW_KEYS
            assert r["prompt"].startswith("<|im_start|>system\nPlease reason step by step")
            assert r["prompt"].endswith("<|im_start|>assistant\n")
            assert r["finish_reason"] in ("stop", "length") and 1 <= r["n_tokens"] <= 12
            assert r["finish_reason"] == "stop" or r["n_tokens"] == 12
            assert isinstance(r["correct"], bool) and r["status"] in ("ok", "no_answer", "parse_error", "timeout",
                                                                      "too_large")
            assert isinstance(r["gold"], list) and r["gold"] and all(isinstance(g, str) for g in r["gold"])
    res = json.loads((out / "results.json").read_text())
    assert res["settings"]["benchmarks"] == ["aime24", "minerva"] and res["settings"]["backend"] == "hf"
    for m in list(res["benchmarks"].values()) + [res["average"]]:
        for key in ("pass@1", "mean@1", "maj@1", "truncated", "no_answer", "parse_error"):
            assert 0.0 <= m[key] <= 1.0
    assert res["benchmarks"]["aime24"]["problems"] == 2
    md = (out / "results.md").read_text()
    assert "| model | AIME24 | Minerva | Avg. |" in md and f"| {os.path.basename(res['model'])} | " in md
    capsys.readouterr()
    assert main(["eval", "compare", str(out), str(out), "--plot", str(out / "cmp.png")]) == 0
    table = capsys.readouterr().out
    assert table.count("| AIME24 |") == 1 and table.count("\n| ") >= 2 and os.path.getsize(out / "cmp.png") > 0


def test_kill_after_first_benchmark_then_resume(tiny_model, data_dir, tmp_path, reference_run, monkeypatch,
                                                count_generated):
    out = tmp_path / "out"
    from pmpo_verl.evaluation import scoring

    real_score = scoring.score

    def dies_on_minerva(responses, golds, **kw):
        if len(count_generated) > 1:
            raise KeyboardInterrupt  # the "kill": after aime24 is saved, while minerva is being scored
        return real_score(responses, golds, **kw)

    monkeypatch.setattr(runner.scoring, "score", dies_on_minerva)
    assert main(eval_args(tiny_model, data_dir, out)) == 130
    assert len(read_jsonl(out / "samples" / "aime24.jsonl")) == 2
    assert not (out / "samples" / "minerva.jsonl").exists() and not (out / "results.json").exists()
    monkeypatch.setattr(runner.scoring, "score", real_score)
    count_generated.clear()
    assert main(eval_args(tiny_model, data_dir, out)) == 0
    assert count_generated == [2]  # only minerva was generated again
    assert snapshot(out) == snapshot(reference_run)
    count_generated.clear()
    assert main(eval_args(tiny_model, data_dir, out)) == 0  # a finished run loads no model at all
    assert count_generated == [] and snapshot(out) == snapshot(reference_run)


def test_partial_samples_file_resumes_without_duplicates(tiny_model, data_dir, tmp_path, reference_run,
                                                         count_generated):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(reference_run, out)
    path = out / "samples" / "aime24.jsonl"
    text = path.read_text()
    first_end = text.index("\n") + 1
    path.write_text(text[:first_end] + text[first_end:first_end + 40])  # a torn second line
    os.remove(out / "results.json")
    assert main(eval_args(tiny_model, data_dir, out)) == 0
    assert count_generated == [1]
    rows = read_jsonl(path)
    assert [(r["id"], r["sample"]) for r in rows] == [("0", 0), ("1", 0)]
    assert snapshot(out) == snapshot(reference_run)
    # a stored sample whose gold no longer matches the data (the set changed under the same ids) is redone
    rows[0]["gold"] = "not the gold"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    count_generated.clear()
    assert main(eval_args(tiny_model, data_dir, out)) == 0
    assert count_generated == [1] and snapshot(out) == snapshot(reference_run)


def test_sampling_n2_metrics_and_settings_guard(tiny_model, data_dir, tmp_path, capsys):
    out = tmp_path / "out"
    args = eval_args(tiny_model, data_dir, out, "--n", "2", "--temperature", "1.0", "--seed", "3",
                     "--template", "chat", benchmarks="amc")
    assert main(args) == 0
    rows = read_jsonl(out / "samples" / "amc.jsonl")
    assert [(r["id"], r["sample"]) for r in rows] == [("0", 0), ("0", 1), ("1", 0), ("1", 1)]
    assert rows[0]["gold"] == ["2"] and rows[0]["prompt"].startswith("<|im_start|>user\nWhat is 1+1?")
    m = json.loads((out / "results.json").read_text())["benchmarks"]["amc"]
    assert {"pass@1", "mean@2", "pass@2", "maj@2"} <= set(m)
    capsys.readouterr()
    assert main(eval_args(tiny_model, data_dir, out, "--n", "2", "--temperature", "0.5", benchmarks="amc")) == 2
    assert "other settings" in capsys.readouterr().err


def test_correct_answers_are_scored_correct(tiny_model, data_dir, tmp_path, monkeypatch):
    """A backend that answers with the gold, on a custom JSONL benchmark with list golds: all correct."""
    from pmpo_verl.evaluation.backends import Generation, hf_backend

    custom = tmp_path / "mine.jsonl"
    rows = [{"question": "What is 1+1?", "answer": 2.0}, {"question": "Name a prime below 4.", "answer": ["2", "3"]},
            {"question": "What is 2+2?", "final_answer": ["4\n"]}]
    custom.write_text("".join(json.dumps(r) + "\n" for r in rows))
    answers = {"What is 1+1?": "2", "Name a prime below 4.": "3", "What is 2+2?": "4"}

    def oracle(self, requests, settings):
        out = []
        for r in requests:
            prompt = self.tokenizer.decode(list(r.prompt_ids))
            answer = next(a for q, a in answers.items() if q in prompt)
            out.append(Generation(f"so the answer is \\boxed{{{answer}}}", "stop", 9))
        return out

    monkeypatch.setattr(hf_backend.HFBackend, "generate", oracle)
    out = tmp_path / "out"
    assert main(eval_args(tiny_model, data_dir, out, benchmarks=f"amc,{custom}")) == 0
    res = json.loads((out / "results.json").read_text())
    for bench in ("amc", "mine"):
        assert res["benchmarks"][bench]["pass@1"] == 1.0 and res["benchmarks"][bench]["maj@1"] == 1.0
    stored = read_jsonl(out / "samples" / "mine.jsonl")
    assert [r["gold"] for r in stored] == [["2"], ["2", "3"], ["4"]]
    assert all(r["correct"] and r["status"] == "ok" for r in stored)
    assert "| model | AMC | mine | Avg. |" in (out / "results.md").read_text()
    assert "| 100.0 | 100.0 | 100.0 |" in (out / "results.md").read_text()


# ------------------------------------------------------------------------------------------ error paths


def one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_unknown_benchmark_lists_known_ones(tiny_model, data_dir, tmp_path, capsys):
    assert main(eval_args(tiny_model, data_dir, tmp_path / "o", benchmarks="aime24,gsm8k")) == 2
    err = one_line_error(capsys)
    assert "gsm8k" in err and "aime24, aime25, amc, amc23, math500, minerva, olympiadbench" in err


def test_missing_and_unreadable_model(data_dir, tmp_path, capsys):
    assert main(eval_args(tmp_path / "no_such_model", data_dir, tmp_path / "o")) == 2
    assert "does not exist" in one_line_error(capsys)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert main(eval_args(broken, data_dir, tmp_path / "o2")) == 2
    assert "cannot load" in one_line_error(capsys)


def test_compare_of_a_non_run_and_unknown_action(tmp_path, capsys):
    assert main(["eval", "compare", str(tmp_path)]) == 2
    assert "is '" in one_line_error(capsys)
    assert main(["eval", "frob"]) == 2
    assert "unknown eval action" in one_line_error(capsys)
    assert main(["eval"]) == 2
    assert "--model is required" in one_line_error(capsys)


def test_missing_data_dir_file(tiny_model, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(eval_args(tiny_model, tmp_path / "empty", tmp_path / "o")) == 2
    assert "has no aime24.jsonl" in one_line_error(capsys)
    assert main(eval_args(tiny_model, tmp_path / "no_such_dir", tmp_path / "o")) == 2
    err = one_line_error(capsys)
    assert f"--data-dir {tmp_path / 'no_such_dir'} does not exist" in err and "has no" not in err


def test_vllm_without_gpu(tiny_model, data_dir, tmp_path, capsys):
    import torch

    import pmpo_verl.evaluation.backends.vllm_backend  # noqa: F401  (imports without vLLM installed: lazy)

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    args = eval_args(tiny_model, data_dir, tmp_path / "o")
    args[args.index("hf")] = "vllm"
    assert main(args) == 2
    assert "needs a CUDA GPU" in one_line_error(capsys)


def test_no_hub_access_subprocess_no_traceback(tiny_model, tmp_path):
    """Real command line, hub disabled: one error line that explains --data-dir, exit code 2."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "pmpo_verl.cli", "eval", "--model", tiny_model, "--benchmarks",
                           "math500", "--backend", "hf", "--out", str(tmp_path / "o")],
                          check=False, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot load benchmark 'math500'")
    assert "--data-dir DIR" in lines[0] and "math500.jsonl" in lines[0]
