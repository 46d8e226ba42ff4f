"""Data-parallel worker processes that can die without hanging the run.

One spawned process per rank, each in its own session (process group), so the whole tree it starts (vLLM's
engine-core and tensor-parallel processes) can be killed together. The worker is a ``"module:function"``
path resolved in the child: ``function(*worker_args)`` builds the engine and returns ``run(*job)``; tests pass
fakes instead of vLLM. Every wait in the parent is bounded: results are read by one thread per rank, while the
parent polls every ``poll_s`` whether a rank it waits for has exited, so a worker killed by the OOM killer is
reported within about a second, with its exit code or signal, instead of hanging the run. A worker whose
parent dies kills its own process group."""

from __future__ import annotations

import atexit
import importlib
import os
import queue
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

from ..errors import EvalError

_POLL_S = 0.2


def _resolve(ref: str):
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _orphan_watch(parent) -> None:
    """A thread of the child: when the parent dies (even by SIGKILL), end this worker and its process group
    at once, whatever it is doing, instead of holding GPUs for nobody."""
    parent.join()  # waits on the parent's sentinel
    if os.getpgrp() == os.getpid():  # our own group (setsid worked): the engine's processes go too
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(1)  # pragma: no cover - killed above


def _child_main(rank: int, gpus: str | None, worker: str, worker_args: tuple, inbox, conn) -> None:
    """The child process: own session, build the engine, answer jobs until told to stop or the parent is gone."""
    import multiprocessing as mp
    import sys

    try:
        os.setsid()  # own process group: close() kills everything this worker starts
    except OSError:  # pragma: no cover - already a group leader
        pass
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus
    parent = mp.parent_process()
    if parent is not None:
        threading.Thread(target=_orphan_watch, args=(parent,), daemon=True, name="dp-orphan-watch").start()
    seq = 0
    try:
        run = _resolve(worker)(*worker_args)
        conn.send((0, "ready", None))
        while True:
            job = inbox.get()
            if job is None:
                return
            seq, args = job
            conn.send((seq, "ok", run(*args)))
    except BaseException as exc:  # reported to the parent, which raises it as an EvalError
        msg = " ".join(str(exc).split()) or "(no message)"
        try:
            conn.send((seq, "error", f"{type(exc).__name__}: {msg}"))
        except Exception:
            pass
        sys.exit(1)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        oom = -code == signal.SIGKILL
        hint = " (out of host memory? the kernel's OOM killer sends SIGKILL: see `dmesg`)" if oom else ""
        return f"died with {name}{hint}"
    return f"exited with code {code}"


class DPPool:
    """``dp`` worker processes; ``start()`` waits until every engine is built, ``map(jobs)`` runs one job per
    rank and returns the results in rank order, ``close()`` stops them (terminating and then killing the
    process groups of workers that do not exit). Any failure raises a one-line :class:`EvalError` and closes
    the pool at once (a half-broken pool is of no use and holds GPUs)."""

    def __init__(self, worker: str, worker_args: tuple, gpu_groups: Sequence[str | None], *,
                 start_timeout: float | None = None, job_timeout: float | None = None,
                 stop_timeout: float = 30.0, kill_timeout: float = 5.0, poll_s: float = _POLL_S,
                 name: str = "vLLM data-parallel worker", start_hint: str = "", job_hint: str = ""):
        self.worker, self.worker_args, self.gpu_groups = worker, worker_args, list(gpu_groups)
        self.start_timeout, self.job_timeout = start_timeout or None, job_timeout or None
        self.stop_timeout, self.kill_timeout, self.poll_s = stop_timeout, kill_timeout, poll_s
        self.name, self.start_hint, self.job_hint = name, start_hint, job_hint
        self.procs: list = []
        self.inboxes: list = []
        self._conns: list = []
        self._msgs: queue.Queue = queue.Queue()
        self._seq = 0
        self._broken = False
        self._closing = self._closed = False

    # ------------------------------------------------------------------ life cycle
    def start(self) -> DPPool:
        import multiprocessing as mp
        import multiprocessing.util  # noqa: F401  (registers its exit handler, which joins the workers, first)

        ctx = mp.get_context("spawn")
        atexit.register(self.close)  # runs before that handler: an unclosed pool does not block the exit
        try:
            for rank, gpus in enumerate(self.gpu_groups):
                inbox = ctx.Queue()
                recv_end, send_end = ctx.Pipe(duplex=False)
                p = ctx.Process(target=_child_main, args=(rank, gpus, self.worker, self.worker_args, inbox, send_end),
                                name=f"dp-worker-{rank}")  # not daemonic: vLLM starts its own processes
                p.start()
                send_end.close()  # the child holds the write end: its death closes the pipe
                self.procs.append(p)
                self.inboxes.append(inbox)
                self._conns.append(recv_end)
                threading.Thread(target=self._reader, args=(rank, recv_end), daemon=True,
                                 name=f"dp-reader-{rank}").start()
            self._wait(0, self.start_timeout, "starting")
        except BaseException:
            self._broken = True
            self.close()
            raise
        return self

    def _reader(self, rank: int, conn) -> None:
        """Moves one rank's messages into ``_msgs``; never blocks the parent, even on a half-written message."""
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                self._msgs.put((rank, (None, "eof", None)))
                return
            except Exception as exc:  # an unpicklable result
                msg = (None, "error", f"unreadable message: {type(exc).__name__}: {exc}")
            self._msgs.put((rank, msg))

    # ------------------------------------------------------------------ jobs
    def map(self, jobs: Sequence[tuple]) -> list[Any]:
        """Runs ``jobs[r]`` (the arguments of ``run``) on rank ``r``; returns the results in rank order."""
        if self._closing:
            raise EvalError(f"{self.name}s were shut down (after an error or by close())")
        if len(jobs) != len(self.procs):
            raise ValueError(f"{len(jobs)} jobs for {len(self.procs)} workers")
        self._seq += 1
        for inbox, job in zip(self.inboxes, jobs):
            inbox.put((self._seq, tuple(job)))
        try:
            got = self._wait(self._seq, self.job_timeout, "generating")
        except BaseException:
            self._broken = True
            self.close()
            raise
        return [got[r] for r in range(len(self.procs))]

    def _label(self, rank: int) -> str:
        gpus = self.gpu_groups[rank]
        return f"{self.name} {rank}" + (f" (GPUs {gpus})" if gpus else "")

    def _wait(self, seq: int, timeout: float | None, phase: str) -> dict[int, Any]:
        pending = set(range(len(self.procs)))
        got: dict[int, Any] = {}
        deadline = None if timeout is None else time.monotonic() + timeout
        while pending:
            try:
                rank, (mseq, status, payload) = self._msgs.get(timeout=self.poll_s)
            except queue.Empty:
                dead = [r for r in sorted(pending) if not self.procs[r].is_alive()]
                if dead:
                    raise EvalError(self._death(dead[0], phase)) from None
                if deadline is not None and time.monotonic() > deadline:
                    late = sorted(pending)
                    who = self._label(late[0]) if len(late) == 1 else f"{self.name}s {', '.join(map(str, late))}"
                    what, hint = ("start", self.start_hint) if phase == "starting" else ("answer", self.job_hint)
                    raise EvalError(f"{who} did not {what} within {timeout:g} s{hint}") from None
                continue
            if status == "error":
                raise EvalError(f"{self._label(rank)} failed while {phase}: {payload[:300]}")
            if status == "eof":  # its pipe closed: it exited, after any message it sent
                if rank in pending:
                    raise EvalError(self._death(rank, phase, drained=True))
                continue
            if mseq == seq and rank in pending:  # ignore stale answers of an interrupted call
                got[rank] = payload
                pending.discard(rank)
        return got

    def _death(self, rank: int, phase: str, drained: bool = False) -> str:
        """The message for a rank that exited: its last error if it sent one, else its exit code or signal."""
        proc = self.procs[rank]
        proc.join(timeout=2.0)
        deadline = time.monotonic() + (0.0 if drained else 1.0)
        while time.monotonic() < deadline:  # a last error message may still be on its way
            try:
                r, (_, status, payload) = self._msgs.get(timeout=0.1)
            except queue.Empty:
                continue
            if r == rank and status == "error":
                return f"{self._label(rank)} failed while {phase}: {payload[:300]}"
            if r == rank and status == "eof":
                break
        return f"{self._label(rank)} {describe_exit(proc.exitcode)} while {phase}"

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        """Asks the workers to stop, waits ``stop_timeout`` (not when broken), then SIGTERMs and after
        ``kill_timeout`` SIGKILLs every worker's process group and descendants. Bounded; safe to repeat."""
        if self._closed:
            return
        if self._closing:  # an earlier close() was interrupted (a second Ctrl-C): no more waiting
            self._broken = True
        self._closing = True
        for inbox in self.inboxes:
            try:
                inbox.put(None)
            except Exception:
                pass
        if not self._broken:
            deadline = time.monotonic() + self.stop_timeout
            for p in self.procs:
                p.join(timeout=max(0.0, deadline - time.monotonic()))
        _kill_trees(self.procs, self.kill_timeout)
        for inbox in self.inboxes:
            inbox.cancel_join_thread()  # never block exit on a feeder thread writing to a dead worker
            inbox.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass
        self._closed = True
        atexit.unregister(self.close)


def _alive(p) -> bool:
    import psutil

    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _group_members(pgids: set[int]) -> list:
    import psutil

    found = []
    for p in psutil.process_iter():
        try:
            if p.pid != os.getpid() and os.getpgid(p.pid) in pgids:
                found.append(p)
        except (OSError, psutil.Error):
            continue
    return found


def _kill_trees(procs: list, kill_timeout: float) -> None:
    """SIGTERM, then SIGKILL, each worker, everything in its process group (the group it leads after
    ``setsid``) and its descendants (found while it lives, for those that made their own group)."""
    import psutil

    # A worker's pid stays ours until we reap it, and a group's number is not reused while the group has members.
    pgids = {p.pid for p in procs if p.pid is not None}
    others: dict[int, Any] = {}
    for p in procs:
        if not p.is_alive():  # reaped: its pid may belong to another process by now
            continue
        try:
            for c in psutil.Process(p.pid).children(recursive=True):
                others[c.pid] = c
        except (psutil.Error, TypeError, ValueError):
            pass
    for c in _group_members(pgids):
        others.setdefault(c.pid, c)
    for pid in pgids:
        others.pop(pid, None)  # our own children are handled (and reaped) through multiprocessing
    rest = [c for c in others.values() if _alive(c)]
    live = [p for p in procs if p.is_alive()]
    if not live and not rest:
        return
    for sig, wait in ((signal.SIGTERM, kill_timeout), (signal.SIGKILL, 5.0)):
        for pgid in pgids:
            try:
                os.killpg(pgid, sig)
            except OSError:  # no such group (left already, or not yet led by the worker)
                pass
        for p in live:
            try:
                os.kill(p.pid, sig)
            except OSError:
                pass
        for c in rest:
            try:
                c.send_signal(sig)
            except psutil.Error:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            live = [p for p in live if p.is_alive()]  # is_alive() reaps our children
            rest = [c for c in rest if _alive(c)]
            if not live and not rest:
                break
            time.sleep(0.05)
        if not live and not rest:
            break
    for p in procs:
        p.join(timeout=1.0)
