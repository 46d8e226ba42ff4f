"""Fixtures of the eval tests: a tiny random Qwen2-style model with a byte-level BPE tokenizer (ChatML chat
template, eos <|im_end|>), built locally once per session, and a --data-dir with a few benchmark rows."""

import json
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks"  # beside the checkout
FALLBACK_ROWS = {  # the first rows of the shared files, for checkouts without ../shared
    "aime24": [{"problem": "Find $xy$ if $x=5$ and $y=5$.", "answer": "025"},
               {"problem": "Compute $2^3$.", "answer": "8"}],
    "minerva": [{"problem": "Give the wavelength in Angstroms.", "answer": ["9.6\n"]},
                {"problem": "Give the mass.", "answer": ["1.5e30\n"]}],
}
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CORPUS = [
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "The answer is \\boxed{42}. So the final answer is 7.",
    "Find the number of minutes the walk takes her. Let x + y = 12 and x - y = 4.",
    "system user assistant Question Answer 0 1 2 3 4 5 6 7 8 9 \\frac{1}{2} $x^2$",
] * 4


def build_tiny(out_dir: str, seed: int = 0) -> str:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                     chat_template=CHAT_TEMPLATE, clean_up_tokenization_spaces=False)
    cfg = Qwen2Config(vocab_size=len(hf_tok), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      tie_word_embeddings=True, eos_token_id=hf_tok.eos_token_id, pad_token_id=hf_tok.pad_token_id,
                      bos_token_id=hf_tok.pad_token_id)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    model.save_pretrained(out_dir)
    hf_tok.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return build_tiny(str(tmp_path_factory.mktemp("tiny_eval_model")))


def copy_rows(data_dir, name: str, k: int) -> None:
    if (BENCH_DIR / f"{name}.jsonl").is_file():
        with open(BENCH_DIR / f"{name}.jsonl", encoding="utf-8") as src:
            lines = [line for line in src if line.strip()][:k]
    else:
        lines = [json.dumps(r) + "\n" for r in FALLBACK_ROWS[name][:k]]
    (data_dir / f"{name}.jsonl").write_text("".join(lines), encoding="utf-8")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """Read-only for the tests: two rows each of aime24 and minerva, and a hand-written amc.jsonl."""
    d = tmp_path_factory.mktemp("data")
    copy_rows(d, "aime24", 2)
    copy_rows(d, "minerva", 2)
    # a benchmark written by the test: the answer is in the question, so a lucky model could echo it
    rows = [{"problem": "What is 1+1?", "answer": 2.0}, {"problem": "What is 2+2?", "answer": "4"}]
    (d / "amc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return d
