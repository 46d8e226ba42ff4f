"""Process pool with hard per-item deadlines (pebble-style, standard library only).

Rules.

* Each worker is a fresh ``python -m reward.worker`` subprocess (no fork of the parent, so it is safe
  from a threaded parent such as verl's reward worker and never re-imports the caller's ``__main__``).
  It reports ready after importing sympy; a deadline starts only when an item is sent to a ready worker.
* Workers are single-threaded and cap their address space (``memory_mb``, ``RLIMIT_AS``), so a memory
  blow-up becomes a ``MemoryError`` (``too_large``) instead of an OOM of the host.
* Each item has a hard wall deadline counted from its dispatch. A worker still busy at the deadline is
  killed (SIGKILL) and replaced; the item gets ``status="timeout"``. ``future.result(timeout)`` is never
  relied on. A worker that dies is replaced and its item gets ``too_large``. Workers are recycled after
  ``max_tasks`` items. More than ``MAX_START_FAILURES`` workers in a row dying before they are ready
  (a broken installation) raises ``RuntimeError`` with the import error instead of respawning forever.
* The pool is thread-safe: concurrent callers (verl calls ``compute_score`` from a thread executor)
  share the workers through an idle queue; a batch from one caller fans out over the idle workers and
  gives each back as soon as it has nothing left to send.
"""

from __future__ import annotations

import atexit
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from reward.grader import Grade

Task = tuple[Any, ...]
"""``(candidates, golds, mode)`` or ``(candidates, golds, mode, options)`` (a
:class:`reward.verdict.Options`), as sent to a worker."""

MAX_START_FAILURES = 3
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class _Worker:
    """One worker subprocess and the parent's ends of its pipes."""

    def __init__(self, memory_mb: int) -> None:
        env = dict(os.environ, **{var: "1" for var in _THREAD_VARS})
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "reward.worker", str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.writer = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.reader = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        self.ready = False
        self.tasks = 0

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self.reader.close()
        self.writer.close()

    def stop(self) -> None:
        try:
            self.writer.send(None)
            self.process.wait(timeout=1.0)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.reader.close()
        self.writer.close()


def _start_error() -> str:
    """The error a worker hits while starting (its stderr is discarded in normal operation)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    check = subprocess.run([sys.executable, "-c", "import reward.worker, reward.symbolic"], capture_output=True,
                           text=True, timeout=60, env=env)
    return (check.stderr.strip().splitlines() or ["unknown error (the imports succeed here)"])[-1]


class WorkerPool:
    """A fixed number of killable worker processes (rules in the module docstring)."""

    def __init__(self, size: int, memory_mb: int = 2048, max_tasks: int = 1000) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one worker")
        self.size = size
        self.memory_mb = memory_mb
        self.max_tasks = max_tasks
        self.pid = os.getpid()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._start_failures = 0
        for _ in range(size):
            self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        worker = _Worker(self.memory_mb)
        with self._lock:
            self._all.add(worker)
        return worker

    def _replace(self, worker: _Worker, kill: bool) -> _Worker:
        with self._lock:
            self._all.discard(worker)
        worker.kill() if kill else worker.stop()
        return self._spawn()

    def run(self, tasks: Sequence[Task], timeouts: Sequence[float]) -> list[tuple[Grade, float]]:
        """Grade ``tasks`` in the workers; returns (grade, elapsed seconds) per task, in order."""
        results: list[tuple[Grade, float] | None] = [None] * len(tasks)
        pending = deque(range(len(tasks)))
        free: list[_Worker] = []
        warming: dict[Connection, _Worker] = {}
        inflight: dict[Connection, tuple[int, _Worker, float, float]] = {}
        while pending or inflight:
            while pending and len(free) + len(warming) < len(pending):
                busy = bool(inflight or warming or free)
                try:
                    worker = self._idle.get(block=not busy)
                except queue.Empty:
                    break
                if worker.ready:
                    free.append(worker)
                else:
                    warming[worker.reader] = worker
            while pending and free:
                worker = free.pop()
                index = pending.popleft()
                try:
                    worker.writer.send((tasks[index], timeouts[index]))
                except OSError:  # the worker died while idle: replace it and retry the item
                    worker = self._replace(worker, kill=True)
                    warming[worker.reader] = worker
                    pending.appendleft(index)
                    continue
                start = time.monotonic()
                inflight[worker.reader] = (index, worker, start + timeouts[index], start)
            if not pending:
                for worker in free:
                    self._idle.put(worker)
                free.clear()
                for worker in warming.values():
                    self._idle.put(worker)
                warming.clear()
            deadlines = [deadline for _, _, deadline, _ in inflight.values()]
            timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            for conn in wait(list(inflight) + list(warming), timeout=timeout):
                if conn in warming:
                    worker = warming.pop(conn)  # type: ignore[call-overload]
                    try:
                        worker.reader.recv()
                        worker.ready = True
                    except (EOFError, OSError):
                        self._start_failures += 1
                        if self._start_failures > MAX_START_FAILURES:
                            raise RuntimeError(f"reward workers fail to start: {_start_error()}") from None
                        worker = self._replace(worker, kill=True)
                        warming[worker.reader] = worker
                        continue
                    self._start_failures = 0
                    free.append(worker)
                    continue
                index, worker, _, start = inflight.pop(conn)  # type: ignore[call-overload]
                try:
                    grade: Grade = worker.reader.recv()
                except (EOFError, OSError):
                    first = tasks[index][0][0] if tasks[index][0] else None
                    grade = Grade(False, "too_large", "worker_died", first)
                    worker = self._replace(worker, kill=True)
                else:
                    worker.tasks += 1
                    if worker.tasks >= self.max_tasks:
                        worker = self._replace(worker, kill=False)
                results[index] = (grade, time.monotonic() - start)
                (free if pending else []).append(worker) if worker.ready and pending else self._idle.put(worker)
            now = time.monotonic()
            for conn, (index, worker, deadline, start) in list(inflight.items()):
                if now >= deadline:
                    del inflight[conn]
                    first = tasks[index][0][0] if tasks[index][0] else None
                    results[index] = (Grade(False, "timeout", "deadline", first), now - start)
                    self._idle.put(self._replace(worker, kill=True))
        return [r for r in results if r is not None]

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool(workers: int | None = None) -> WorkerPool:
    """The process-wide pool, created on first use and again after a fork.

    ``workers`` (default ``min(4, cpu_count)``) sizes the pool when it is created; a later call with a
    different size replaces it only when it was created by another process (after a fork).
    """
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None and _POOL.pid != os.getpid():
            _POOL = None
        if _POOL is None:
            size = workers if workers is not None else min(4, os.cpu_count() or 1)
            _POOL = WorkerPool(size)
        return _POOL


def shutdown() -> None:
    """Stop the process-wide pool (registered with ``atexit``)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None and _POOL.pid == os.getpid():
            _POOL.close()
        _POOL = None


atexit.register(shutdown)
