"""Math-Verify 0.9.0 as the verifier benchmark calls it, and how its options map onto ours.

Math-Verify's recommended configuration (:func:`mv_default`): the gold wrapped in ``\\boxed{}`` and parsed
LaTeX-only; the prediction parsed with boxed priority 0 plus the plain-expression extractor. Options
correspond one to one (:func:`our_options`, :func:`mv_equivalents`): ``float_rounding`` / a test's
non-default ``precision`` <-> our ``precision``, ``strict=False`` <-> ``rename_variables``,
``allow_set_relation_comp=True`` <-> ``set_accepts_relation``.

Math-Verify is imported only when called (the ``bench`` extra), so importing this module is cheap.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

MV_VERSION = "0.9.0"
MV_DEFAULT_PRECISION = 6


def fetch_sdist(cache: Path) -> Path:
    """Download and unpack math-verify's sdist into ``cache`` (once); returns the unpacked root."""
    root = cache / f"math_verify-{MV_VERSION}"
    if not (root / "tests").is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"math-verify=={MV_VERSION}", "-d", str(cache)], check=True, capture_output=True)
        with tarfile.open(cache / f"math_verify-{MV_VERSION}.tar.gz") as tar:
            tar.extractall(cache, filter="data")
    return root


def our_options(mv_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The eval-mode options of ``reward`` that mirror a Math-Verify test's non-default configuration."""
    options: dict[str, Any] = {}
    if mv_kwargs.get("precision", MV_DEFAULT_PRECISION) != MV_DEFAULT_PRECISION:
        options["precision"] = mv_kwargs["precision"]
    if mv_kwargs.get("strict", True) is False:
        options["rename_variables"] = True
    if mv_kwargs.get("allow_set_relation_comp", False) is True:
        options["set_accepts_relation"] = True
    return options


def mv_equivalents(options: dict[str, Any]) -> dict[str, Any]:
    """Math-Verify ``verify()`` keywords equivalent to our eval-mode options (the inverse of our_options)."""
    kwargs: dict[str, Any] = {}
    if options.get("precision") is not None:
        kwargs["float_rounding"] = options["precision"]
    if options.get("rename_variables"):
        kwargs["strict"] = False
    if options.get("set_accepts_relation"):
        kwargs["allow_set_relation_comp"] = True
    return kwargs


def mv_default(response: str, gold: Any, **verify_kwargs: Any) -> bool:
    """Math-Verify's recommended configuration: gold boxed and LaTeX-only, prediction boxed-first +
    expressions; a list gold is correct when any of its items is."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    golds = gold if isinstance(gold, list) else [gold]
    pred = parse(response, [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()])
    for item in golds:
        gold_text = str(int(item)) if isinstance(item, float) and item.is_integer() else str(item)
        if verify(parse("\\boxed{" + gold_text + "}", [LatexExtractionConfig()]), pred, **verify_kwargs):
            return True
    return False
