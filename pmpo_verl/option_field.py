"""Options objects declare their command-line flags as dataclass fields with a help text: one helper for
``DemoOptions`` and ``EvalOptions``, whose CLIs read default and help from the field."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def option(default: Any, help_text: str, **kw: Any) -> Any:
    """A dataclass field with ``default`` whose ``metadata["help"]`` is the flag's help text."""
    return field(default=default, metadata={"help": help_text}, **kw)
