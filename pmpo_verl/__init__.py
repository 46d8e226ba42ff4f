"""pmpo-verl: Power-Mean Policy Optimization (arXiv 2601.22521) as a verl 0.9.1 plugin.

Importing this package is cheap and registers nothing. Registration happens in
:mod:`pmpo_verl.register`, which verl imports through the ``verl.plugins`` entry point.
"""

__version__ = "0.1.0"
VERL_VERSION = "0.9.1"
