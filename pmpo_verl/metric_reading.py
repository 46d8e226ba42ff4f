"""Reading PMPO's logged metrics (torch-free, so reports and the CLI import it cheaply).

:mod:`pmpo_verl.metrics` logs exact shares and "sum over a subset / rows" numerators (one value per row,
reduced by verl); the conditional means (``p_mean`` over solved rows, ...) are ratios of two logged keys,
which verl's reduction cannot form, so they are derived here from a logged record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

METRIC_PREFIX = "actor/pmpo/"
P = METRIC_PREFIX

DERIVED: dict[str, tuple[str, str]] = {
    # name: (numerator key, denominator key); the value is numerator / denominator
    "p_mean": (P + "solved_p_per_row", P + "solved_frac"),
    "ess_norm_mean": (P + "solved_ess_norm_per_row", P + "solved_frac"),
    "target_ess_norm_mean": (P + "solved_target_ess_norm_per_row", P + "solved_frac"),
    "e1_norm_mean": (P + "solved_e1_norm_per_row", P + "solved_frac"),
    "p_below1_share": (P + "p_below1_frac", P + "solved_frac"),
    "p0_share": (P + "p0_frac", P + "solved_frac"),
    "clip_frac_mean": (P + "active_clip_frac_per_row", P + "active_frac"),
    "ratio_mean": (P + "active_ratio_per_row", P + "active_frac"),
    "solved_share": (P + "solved_frac", P + "active_frac"),
    "clip_saturated_share": (P + "clip_saturated_frac", P + "active_frac"),
}
"""Conditional means derived from a logged record (:func:`derived`): ``p_mean`` etc. over solved rows,
``clip_frac_mean`` / ``ratio_mean`` over active rows, and shares within those subsets."""


def reduce_rows(rows: Mapping[str, Any]) -> dict[str, float]:
    """The mean of each key's per-row values (a list, or a verl ``Metric`` with ``.values``): what verl
    logs for a mini-batch made of these rows only, e.g. one direct call; NaN for a key without values.
    Plain numbers (other losses' metrics) pass through."""
    result = {}
    for key, value in rows.items():
        values = getattr(value, "values", value)
        if isinstance(values, (list, tuple)):
            result[key] = math.fsum(values) / len(values) if values else math.nan
        else:
            result[key] = float(values)
    return result


def call_summary(rows: Mapping[str, Any]) -> dict[str, float]:
    """:func:`reduce_rows` plus :func:`derived`: one call's metrics as numbers (benchmarks, examples)."""
    values = reduce_rows(rows)
    return {**values, **derived(values)}


def derived(record: Mapping[str, float]) -> dict[str, float]:
    """The conditional means of :data:`DERIVED` from a logged record (one step of verl's metrics, or
    :func:`reduce_rows` of one call). A value whose denominator is 0 (no solved / active rows) or whose
    inputs are missing is left out: it is undefined, not 0."""
    result = {}
    for name, (num, den) in DERIVED.items():
        n, d = record.get(num), record.get(den)
        if (
            isinstance(n, (int, float))
            and isinstance(d, (int, float))
            and d > 0
            and math.isfinite(n)
            and math.isfinite(d)
        ):
            result[name] = float(n) / float(d)
    return result
