"""Benchmark metrics from scored samples: pass@1, mean@n, unbiased pass@k, maj@n, truncated and
no-answer/parse-error shares. Pure Python, no dependencies."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``c`` correct of ``n`` samples: ``1 - C(n-c,k)/C(n,k)``,
    computed as the stable product ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` (Chen et al., 2021)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def answer_key(pred: str | None) -> str | None:
    """Voting key of an extracted answer: whitespace removed; None when nothing was extracted."""
    if pred is None:
        return None
    key = re.sub(r"\s+", "", str(pred))
    return key or None


def majority(preds: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """maj@n for one problem: the most frequent extracted answer wins; ties go to the answer that appeared
    first (lowest sample index); samples without an answer do not vote; no answer at all is wrong."""
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, p in enumerate(preds):
        key = answer_key(p)
        if key is None:
            continue
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, i)
    if not counts:
        return False
    best = min(counts, key=lambda k: (-counts[k], first[k]))
    return bool(correct[first[best]])


def default_ks(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if n not in ks:
        ks.append(n)
    return ks


def benchmark_metrics(rows: Iterable[dict], n: int, ks: Sequence[int] | None = None) -> dict:
    """Metrics of one benchmark from sample rows (keys ``id``, ``sample``, ``correct``, ``extracted``,
    ``status``, ``finish_reason``, ``n_tokens``); every problem must have ``n`` samples."""
    by_id: dict[str, list[dict]] = defaultdict(list)
    rows = list(rows)
    for r in rows:
        by_id[r["id"]].append(r)
    if not rows:
        raise ValueError("no samples")
    for pid, rs in by_id.items():
        if len(rs) != n:
            raise ValueError(f"problem {pid} has {len(rs)} samples, expected {n}")
        rs.sort(key=lambda r: r["sample"])
    ks = [k for k in (ks or default_ks(n)) if 1 <= k <= n]
    problems = len(by_id)
    total = len(rows)
    out: dict = {"problems": problems, "samples": total}
    out["pass@1"] = sum(pass_at_k(n, sum(bool(r["correct"]) for r in rs), 1) for rs in by_id.values()) / problems
    out[f"mean@{n}"] = sum(bool(r["correct"]) for r in rows) / total
    for k in ks:
        if k > 1:
            hits = (pass_at_k(n, sum(bool(r["correct"]) for r in rs), k) for rs in by_id.values())
            out[f"pass@{k}"] = sum(hits) / problems
    out[f"maj@{n}"] = sum(majority([r.get("extracted") for r in rs], [bool(r["correct"]) for r in rs])
                          for rs in by_id.values()) / problems
    out["truncated"] = sum(r.get("finish_reason") == "length" for r in rows) / total
    out["no_answer"] = sum(r.get("status") == "no_answer" for r in rows) / total
    out["parse_error"] = sum(r.get("status") == "parse_error" for r in rows) / total
    out["timeout"] = sum(r.get("status") in ("timeout", "too_large") for r in rows) / total
    out["mean_tokens"] = sum(int(r.get("n_tokens") or 0) for r in rows) / total
    return out


def average(per_benchmark: dict[str, dict]) -> dict:
    """Plain average over benchmarks of every metric they all report (the paper's Avg. column)."""
    if not per_benchmark:
        return {}
    keys = set.intersection(*(set(m) for m in per_benchmark.values()))
    first = next(iter(per_benchmark.values()))
    return {k: sum(m[k] for m in per_benchmark.values()) / len(per_benchmark)
            for k in first if k in keys and k not in ("problems", "samples")}
