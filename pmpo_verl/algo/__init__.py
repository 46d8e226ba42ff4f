"""Pure PMPO math: no verl import, usable and testable on its own.

Modules, one idea each:

- :mod:`.clip`        sign-aware log-space token clip and per-trajectory clip fractions
- :mod:`.power_mean`  numerically stable log-space power mean ``log M_p``
- :mod:`.ess`         token weights ``softmax(p x)`` and the Kish effective sample size curve
- :mod:`.target`      the clip-aware target-ESS rule (project reconstruction, see README)
- :mod:`.solver`      vectorised solvers for ``ESS(p) = ESS*`` (safeguarded Newton with a k-section fallback, bisection)
- :mod:`.objective`   the per-trajectory PMPO objective that combines them
"""

from .clip import clip_fraction, sign_aware_clip
from .ess import EssCurve, token_weights
from .objective import PMPOOutput, PMPOSettings, pmpo_objective, sequence_advantage
from .power_mean import log_power_mean
from .solver import solve_p
from .target import target_ess, target_fraction

__all__ = [
    "EssCurve",
    "PMPOOutput",
    "PMPOSettings",
    "clip_fraction",
    "log_power_mean",
    "pmpo_objective",
    "sequence_advantage",
    "sign_aware_clip",
    "solve_p",
    "target_ess",
    "target_fraction",
    "token_weights",
]
