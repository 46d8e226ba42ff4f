"""Benchmark library: the reusable parts of ``scripts/bench_*.py`` and ``scripts/profile_loss_parts.py``.

The scripts are thin command lines over these modules, and the tests import the same modules, so a
benchmark and a test never carry two copies of one idea. One idea per module:

Loss benchmark (``scripts/bench_loss.py``, ``scripts/profile_loss_parts.py``)

- :mod:`.inputs`: the synthetic micro-batches (benchmark, tests, profile).
- :mod:`.baselines`: verl 0.9.1's ``vanilla`` / ``geo_mean`` / ``agg_loss`` re-implemented, for machines
  without verl.
- :mod:`.backends`: the compared methods and the two ways to call them (verl's registry, inline).
- :mod:`.memory`: peak memory of one call (exact storage tracker, CUDA allocator, CPU profiler).
- :mod:`.timing`: wall and kernel time of one call.
- :mod:`.loss_runner`: one size measured side by side (values, timings, peaks).
- :mod:`.self_check`: the checks of the tracker and of the inline path run before measuring.
- :mod:`.loss_report`: the header, table and per-size lines, and the report files.

Verifier benchmark (``scripts/bench_verifier.py``, ``scripts/bench_eval.py``)

- :mod:`.labelled_cases`: the labelled corpus ``tests/reward/cases/*.jsonl`` (also read by its tests).
- :mod:`.verifier_sets`: the labelled (response, gold) pairs of sets (b), (c), (d).
- :mod:`.math_verify_adapter`: Math-Verify 0.9.0: its own test cases (set (a)) and how it is called.
- :mod:`.verifier_score`: confusion counts, latencies and the table row of one verifier on one set.
- :mod:`.verifier_compare`: both verifiers over the sets, side by side.
- :mod:`.verifier_throughput`: responses/s of both verifiers on warm pools.

Dependencies point one way: this package imports ``pmpo_verl`` and ``reward``; neither imports it.
Importing it is cheap (no module here imports verl or Math-Verify at import time).
"""
