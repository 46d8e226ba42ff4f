"""The ``hf`` rollout: batched generation, exact log-probs, weight updates, request batching."""

import asyncio

import pytest
import torch

from pmpo_verl.cpu_backend.hf_rollout import HFGenerator, HFRolloutServer, sampling_key


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    return HFGenerator.from_pretrained(tiny_model_dir)


def _direct_logprobs(model, prompt, response):
    ids = torch.tensor([prompt + response])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits[len(prompt) - 1 : -1], dim=-1)
    return logp.gather(-1, torch.tensor(response).unsqueeze(-1)).squeeze(-1)


@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_logprobs_match_a_direct_forward_pass(generator, temperature):
    torch.manual_seed(0)
    prompts = [
        [1, 85, 91, 201],
        [5, 6, 7, 8, 9, 10, 11, 12, 13],
        [40, 41],
        [3, 200, 100, 50, 60, 7],
    ]  # ragged: left padding
    results = generator.generate(prompts, sampling_key({"temperature": temperature, "top_p": 1.0, "top_k": -1}, 12))
    assert len(results) == len(prompts)
    for prompt, res in zip(prompts, results):
        assert 1 <= len(res.token_ids) == len(res.log_probs) <= 12
        if res.stop_reason == "completed":
            assert res.token_ids[-1] in generator.eos_token_ids
        else:
            assert len(res.token_ids) == 12 and not set(res.token_ids) & set(generator.eos_token_ids)
        direct = _direct_logprobs(generator.model, prompt, res.token_ids)
        # temperature-free: the log-softmax of the raw logits, whatever the sampling temperature
        torch.testing.assert_close(torch.tensor(res.log_probs), direct, atol=2e-5, rtol=1e-5)


def test_greedy_is_argmax(generator):
    prompt = [5, 6, 7, 8]
    res = generator.generate([prompt], sampling_key({"temperature": 0}, 6))[0]
    ids = list(prompt)
    for tok in res.token_ids:
        with torch.no_grad():
            nxt = int(generator.model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
        assert tok == nxt
        ids.append(tok)


def test_weight_update_changes_the_policy(tiny_model_dir):
    gen = HFGenerator.from_pretrained(tiny_model_dir)
    # named_parameters: tied embeddings appear once
    other = {k: v.detach() + 0.01 * torch.randn_like(v) for k, v in gen.model.named_parameters()}
    n = gen.load_weights(other)
    assert n == len(other)
    for k, v in gen.model.state_dict().items():
        if k in other:
            torch.testing.assert_close(v, other[k])
    with pytest.raises(KeyError):
        gen.load_weights({"not.a.weight": torch.zeros(1)})


def test_server_batches_concurrent_requests(tiny_model_dir):
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"prompt_length": 16, "response_length": 8, "max_num_seqs": 64, "seed": 0})
    server = HFRolloutServer(cfg, OmegaConf.create({"path": tiny_model_dir}))

    async def main():
        reqs = [
            server.generate(
                request_id=str(i), prompt_ids=[5 + i, 6, 7], sampling_params={"temperature": 1.0, "logprobs": True}
            )
            for i in range(6)
        ] + [server.generate(request_id="v", prompt_ids=[9, 9], sampling_params={"temperature": 0, "logprobs": False})]
        return await asyncio.gather(*reqs), await server.get_stats()

    outs, stats = asyncio.run(main())
    assert stats["num_requests"] == 7
    assert stats["num_batches"] == 2  # one batch per sampling setting, not one generate per request
    for out in outs[:6]:
        assert 1 <= len(out.token_ids) <= 8 and len(out.log_probs) == len(out.token_ids)
        assert out.stop_reason in ("completed", "length")
    assert outs[6].log_probs is None
