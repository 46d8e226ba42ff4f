"""Worker process entry point: ``python -m reward.worker MEMORY_MB`` (started by :mod:`reward.pool`).

Protocol over two pipes (``multiprocessing.connection`` framing): the worker sends ``"ready"`` once
sympy and the parsers are imported, then for each ``((candidates, golds, mode[, options]), budget)``
it receives it sends back a :class:`reward.grader.Grade`; ``None`` asks it to exit.

Rules: single-threaded (``OMP/MKL/OPENBLAS_NUM_THREADS=1``), address space capped with
``RLIMIT_AS``, stdout redirected to ``/dev/null`` (the protocol uses its own descriptor), and a soft
``setitimer`` alarm at ``SOFT_FRACTION`` of the item's budget (safe here: this is the main thread of
its own process) so sympy usually stops cleanly before the parent's hard kill.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

SOFT_FRACTION = 0.8


class _SoftTimeout(BaseException):
    """Raised by the alarm; a BaseException so that ``except Exception`` inside sympy cannot eat it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _SoftTimeout()


def main(memory_mb: int, read_fd: int, write_fd: int) -> None:
    """Serve grading requests until told to stop or the parent goes away."""
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_alarm)
    from reward import symbolic  # noqa: F401  (import the heavy modules before reporting ready)
    from reward.grader import Grade, grade

    reader, writer = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    writer.send("ready")
    while True:
        try:
            message = reader.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        (candidates, golds, mode, *options), budget = message
        first = candidates[0] if candidates else None
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, max(0.01, budget * SOFT_FRACTION))
                result = grade(candidates, golds, mode=mode, options=options[0] if options else None)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _SoftTimeout:
            result = Grade(False, "timeout", "deadline", first)
        except (MemoryError, RecursionError, OverflowError):
            result = Grade(False, "too_large", "resources", first)
        except Exception:  # any sympy failure on hostile input is a parse error, never a crash
            result = Grade(False, "parse_error", "exception", first)
        writer.send(result)


if __name__ == "__main__":
    _read, _write = os.dup(0), os.dup(1)
    _null = os.open(os.devnull, os.O_RDWR)
    os.dup2(_null, 0)
    os.dup2(_null, 1)
    main(int(sys.argv[1]), _read, _write)
