"""Shared test settings. tests/ has no __init__.py: verl's wheel installs a top-level ``tests`` package,
and pytest runs with ``--import-mode=importlib`` (pyproject.toml)."""

import os

os.environ.setdefault("RAY_DEDUP_LOGS", "0")
