"""Types shared by every layer of the verifier: the result (:class:`Verdict`) and the eval-mode options."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

Status = Literal["ok", "no_answer", "parse_error", "timeout", "too_large"]
"""Why a verdict is what it is.

* ``ok``: an answer was extracted, parsed and compared (``correct`` says how it went);
* ``no_answer``: nothing could be extracted (no ``\\boxed{}`` in reward mode, an unfinished ``<think>``);
* ``parse_error``: the extracted answer (or the gold) could not be parsed;
* ``timeout``: the item ran past its deadline and its worker was killed;
* ``too_large``: a safety cap fired (length, digits, exponent, factorial, nesting, worker memory).
"""


@dataclass(frozen=True)
class Verdict:
    """Outcome of verifying one response against its gold answer.

    ``correct`` is only ever True with ``status == "ok"``. ``method`` names the rung of the
    comparison ladder (or the extraction rule) that decided, e.g. ``int``, ``string``, ``rational``,
    ``numeric_tol``, ``identity``, ``simplify``, ``set``, ``relation``, ``hedge``.
    """

    correct: bool
    status: Status
    pred: str | None
    gold: str
    method: str
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class Options:
    """Eval-mode leniencies, all off by default (Math-Verify's options, for tasks that state them).

    * ``precision``: the task accepts answers rounded to ``precision`` decimal places. A decimal
      prediction written with ``k >= precision`` places (and at least 2 significant digits) then
      matches an exact gold whose value rounded half away from zero to ``k`` places is the prediction
      (``0.33`` = ``1/3`` and ``2.6667`` = ``8/3`` with ``precision=2``). Math-Verify's
      ``float_rounding``. Without it, a decimal matches an exact gold only when the gold is not a
      terminating decimal (an irrational or a fraction such as ``1/3``) and the prediction is written
      with 6+ places within one unit of its last place (``reward.numbers.long_decimal_matches``); an
      integer or terminating-decimal gold accepts only its exact value (``0.999999 != 1``).
    * ``rename_variables``: an answer in one variable equals the gold in another one when renaming that
      single variable makes them equal (``f(y)`` = ``f(x)``, ``y^2 + 1`` = ``x^2 + 1``). Math-Verify's
      ``strict=False`` (restricted here to one variable on each side).
    * ``set_accepts_relation``: a set or interval gold also accepts an equivalent relation prediction
      (gold ``x \\in [-2, 7]``, prediction ``-2 \\le x \\le 7``). Math-Verify's
      ``allow_set_relation_comp=True``. Off, restating an inequality to be solved scores nothing.

    Reward mode (training) accepts none of them: :func:`reward.verify_batch` raises ``ValueError``.
    """

    precision: int | None = None
    rename_variables: bool = False
    set_accepts_relation: bool = False

    def __post_init__(self) -> None:
        if self.precision is not None and not (isinstance(self.precision, int) and 0 <= self.precision <= 30):
            raise ValueError(f"precision must be an integer in [0, 30] or None, not {self.precision!r}")

    def rounded_match(self, exact: Fraction, decimal: Fraction, places: int) -> bool:
        """The ``precision`` rule: ``decimal`` (written with ``places`` decimals) is ``exact`` rounded."""
        if self.precision is None or places < self.precision:
            return False
        scaled = decimal * 10**places
        if scaled.denominator != 1 or len(str(abs(scaled.numerator))) < 2:
            return False
        magnitude = abs(exact) * 10**places + Fraction(1, 2)
        rounded = (magnitude.numerator // magnitude.denominator) * (1 if exact >= 0 else -1)
        return rounded == scaled.numerator

    @property
    def lenient(self) -> bool:
        """True when any option is on."""
        return self.precision is not None or self.rename_variables or self.set_accepts_relation


DEFAULT_OPTIONS = Options()
