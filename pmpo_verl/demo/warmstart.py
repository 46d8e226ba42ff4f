"""Short supervised warm start on the synthetic task, so that the policy's first rewards are not all
zero (RL from a random tiny model would see no signal for a long time).

With ``unboxed_frac > 0`` that share of the solutions ends in ``**answer**`` instead of ``\\boxed{answer}``:
the model learns the arithmetic from all of them but boxes its answer only part of the time, and the
training reward (final ``\\boxed{}`` only) gives RL a format to learn within a few CPU minutes."""

from __future__ import annotations

import random
import time

from .task import SYSTEM_PROMPT, Problem, make_problems


def encode_example(tokenizer, p: Problem, boxed: bool = True) -> tuple[list[int], list[int]]:
    prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": p.question}],
        add_generation_prompt=True,
        tokenize=False,
    )
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    text = p.solution if boxed else p.unboxed_solution
    response_ids = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return prompt_ids, response_ids


def warm_start(model_dir: str, steps: int = 150, batch_size: int = 32, lr: float = 1e-2, seed: int = 0, unboxed_frac: float = 0.0, log=print) -> dict:
    """Train ``model_dir`` in place with teacher forcing on the worked solutions (a share ``unboxed_frac``
    of them without ``\\boxed{}``); returns stats."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is faster than two contended ones
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    model.train()
    problems = make_problems(batch_size * steps, seed=seed + 777)
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10) * max(0.05, 1 - s / steps))
    t0 = time.time()
    loss_val = float("nan")
    for step in range(steps):
        batch = []
        for _ in range(batch_size):
            problem = problems[rng.randrange(len(problems))]
            # no extra draw when nothing is unboxed: the same examples as without the option
            boxed = unboxed_frac <= 0 or rng.random() >= unboxed_frac
            batch.append(encode_example(tokenizer, problem, boxed=boxed))
        width = max(len(a) + len(b) for a, b in batch)
        ids = torch.full((batch_size, width), tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full((batch_size, width), -100, dtype=torch.long)
        mask = torch.zeros((batch_size, width), dtype=torch.long)
        for i, (a, b) in enumerate(batch):
            seq = a + b
            ids[i, : len(seq)] = torch.tensor(seq)
            labels[i, len(a) : len(seq)] = torch.tensor(b)
            mask[i, : len(seq)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        loss_val = float(loss.detach())
        if log and (step % 50 == 0 or step == steps - 1):
            log(f"warm start step {step + 1}/{steps}: loss {loss_val:.3f}")
    model.eval()
    model.save_pretrained(model_dir)
    torch.set_num_threads(threads)
    return {"warmstart_steps": steps, "warmstart_loss": loss_val, "warmstart_s": time.time() - t0}
