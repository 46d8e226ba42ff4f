"""The Hugging Face hub: is it usable (offline flags, and a DNS probe so that a machine without network
fails in milliseconds instead of minutes of retries), and the one loader of hub dataset splits, for the
evaluator and ``examples/data_preprocess``."""

from __future__ import annotations

import os
from typing import Any

from .errors import EvalError


def offline() -> bool:
    return any(os.environ.get(v, "").upper() in ("1", "ON", "YES", "TRUE")
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def resolves() -> bool:
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False


def load_split(dataset: str, config: str | None, split: str, what: str, hint: str) -> list[dict[str, Any]]:
    """The rows of one split of a hub dataset (``datasets`` is imported only here). Any failure (``datasets``
    missing, no network, unknown dataset or split) raises one :class:`EvalError` line: ``cannot load <what>
    from the Hugging Face hub (<dataset>[:config], split <split>): <why>. <hint>``; ``hint`` says what to do
    without the hub."""
    source = f"{dataset}{':' + config if config else ''}, split {split}"
    where = f"cannot load {what} from the Hugging Face hub ({source})"
    try:
        import datasets
    except ImportError:
        raise EvalError(f"{where}: the `datasets` package is not installed. {hint}") from None
    if not offline() and not resolves():  # fail fast instead of minutes of retries
        raise EvalError(f"{where}: the hub host does not resolve (no network?). {hint}; hub copies already "
                        "cached load with HF_HUB_OFFLINE=1")
    try:
        return [dict(row) for row in datasets.load_dataset(dataset, config, split=split)]
    except Exception as exc:  # offline, unknown id, ...: one line for the user
        why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise EvalError(f"{where}: {why}. {hint}") from None
