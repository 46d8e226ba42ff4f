"""The warm start's stopping rule: stop at the first held-out check that meets the target, else at the cap;
the check scores like the demo's validation (training reward: a final ``\\boxed{}`` only) and does not change
the training it interrupts."""

import os
import shutil

import pytest
import torch

from pmpo_verl.demo.task import make_problems
from pmpo_verl.demo.warmstart import encode_example, heldout_accuracy, heldout_problems, warm_start

TINY = dict(batch_size=4, heldout=4, heldout_samples=1, max_new_tokens=4, log=None)


@pytest.fixture
def model_dir(tiny_model_dir, tmp_path):
    """A private copy: the warm start trains in place, the session's tiny model is shared."""
    return shutil.copytree(tiny_model_dir, tmp_path / "model")


def test_stops_at_the_first_check_that_meets_the_target(model_dir):
    stats = warm_start(str(model_dir), steps=10, target=0.0, check_every=3, **TINY)
    assert stats["warmstart_steps"] == 3 and stats["warmstart_target_met"]
    assert [step for step, _ in stats["warmstart_checks"]] == [3]


def test_an_unmet_target_trains_to_the_cap_checking_every_n_steps_and_the_last(model_dir):
    lines: list[str] = []
    stats = warm_start(str(model_dir), steps=5, target=1.01, check_every=2, **{**TINY, "log": lines.append})
    assert stats["warmstart_steps"] == 5 and not stats["warmstart_target_met"]
    assert [step for step, _ in stats["warmstart_checks"]] == [2, 4, 5]
    assert lines[-1].startswith("warning: the warm start did not reach held-out accuracy 1.01 in 5 steps")


def test_checking_does_not_change_the_training(model_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    other = shutil.copytree(model_dir, tmp_path / "other")
    warm_start(str(model_dir), steps=4, target=None, **TINY)
    warm_start(str(other), steps=4, target=1.01, check_every=1, **TINY)
    a, b = (AutoModelForCausalLM.from_pretrained(str(d)).state_dict() for d in (model_dir, other))
    assert all(torch.equal(a[k], b[k]) for k in a)


class _Replay:
    """A stand-in model whose ``generate`` answers every prompt with a fixed worked solution."""

    training = False

    def __init__(self, responses: list[list[int]]):
        self.responses = responses

    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def generate(self, input_ids, attention_mask, **kwargs):
        width = max(len(r) for r in self.responses)
        out = torch.zeros((len(self.responses), width), dtype=torch.long)
        for i, r in enumerate(self.responses):
            out[i, : len(r)] = torch.tensor(r)
        return torch.cat([input_ids, out], dim=1)


@pytest.mark.parametrize("boxed, expected", [(True, 1.0), (False, 0.0)])
def test_the_check_scores_with_the_training_reward(tiny_model_dir, boxed, expected):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    problems = make_problems(3, seed=1)
    responses = [encode_example(tok, p, boxed=boxed)[1] for p in problems for _ in range(2)]
    assert heldout_accuracy(_Replay(responses), tok, problems, samples=2) == expected


def test_held_out_problems_are_distinct_and_depend_on_the_seed():
    a = heldout_problems(64, seed=0)
    assert len(set(a)) == 64 and a == heldout_problems(64, seed=0) and a != heldout_problems(64, seed=1)


def test_the_warm_start_never_trains_on_the_held_out_problems(model_dir, monkeypatch):
    import pmpo_verl.demo.warmstart as ws

    seen = []
    encode = ws.encode_example

    def recording(tok, p, boxed=True):
        seen.append(p)
        return encode(tok, p, boxed)

    monkeypatch.setattr(ws, "encode_example", recording)
    warm_start(str(model_dir), steps=10, target=None, **{**TINY, "heldout": 512})
    assert len(seen) == 40 and not set(seen) & set(heldout_problems(512, seed=0))


def test_the_demo_passes_its_target_and_rebuilds_when_it_changes(tmp_path, monkeypatch):
    """``prepare_model`` hands --warmstart-target to the warm start (0 = fixed steps) and reuses a
    warm-started model only when seed, cap, unboxed share and target are all the same."""
    import pmpo_verl.demo.tiny_model as tiny_model
    import pmpo_verl.demo.warmstart as warmstart
    from pmpo_verl.demo.app import prepare_model
    from pmpo_verl.demo.options import DemoOptions

    calls: list[dict] = []

    def fake_build(model_dir: str, seed: int = 0) -> str:
        os.makedirs(model_dir, exist_ok=True)
        return model_dir

    def fake_warm_start(model_dir: str, **kw) -> dict:
        calls.append(kw)
        return {"warmstart_steps": 7}

    monkeypatch.setattr(tiny_model, "build_tiny_model", fake_build)
    monkeypatch.setattr(warmstart, "warm_start", fake_warm_start)
    opts = DemoOptions(out=str(tmp_path), warmstart_steps=50, warmstart_target=0.3)
    prepare_model(opts, log=lambda _: None)
    prepare_model(opts, log=lambda _: None)  # reused
    assert [c["target"] for c in calls] == [0.3] and calls[0]["steps"] == 50
    prepare_model(DemoOptions(out=str(tmp_path), warmstart_steps=50, warmstart_target=0.0), log=lambda _: None)
    assert [c["target"] for c in calls] == [0.3, None]
