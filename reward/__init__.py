"""Safe, fast, sympy-based math answer verifier (training reward and benchmark judge).

Public API: :func:`verify`, :func:`verify_batch`, :func:`compute_score` (verl's reward function) and
:class:`Verdict`. Importing this package loads neither sympy nor torch; sympy and the LaTeX parser
are loaded by the worker processes, on first use of an item that needs them.
"""

from reward.api import compute_score, verify, verify_batch
from reward.verdict import Verdict

__all__ = ["Verdict", "compute_score", "verify", "verify_batch"]
