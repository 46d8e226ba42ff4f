"""Fixtures of the recipe and cluster-launcher tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

DATA_FILES = ("math_lvl3to5_train", "aime24", "amc", "math500", "minerva", "olympiadbench")


def _recipe_inputs(tmp_path: Path) -> dict[str, str]:
    """Empty stand-ins for the inputs every recipe checks first: DATA_DIR with each parquet file,
    MODEL_PATH with a config.json, and OUTPUT_DIR."""
    data = tmp_path / "data"
    data.mkdir(parents=True)
    for name in DATA_FILES:
        (data / f"{name}.parquet").write_bytes(b"")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    return {"DATA_DIR": str(data), "MODEL_PATH": str(model), "OUTPUT_DIR": str(tmp_path / "out")}


@pytest.fixture
def recipe_inputs() -> Callable[[Path], dict[str, str]]:
    """``recipe_inputs(folder)``: create the inputs under ``folder`` and return them as environment variables."""
    return _recipe_inputs
