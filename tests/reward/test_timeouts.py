"""Process pool deadlines: stuck workers are killed and replaced, limits are applied, import is light."""

import os
import signal
import subprocess
import sys
import time

import pytest

from reward.grader import Grade
from reward.pool import WorkerPool
from reward.verdict import Options

TASK = (("\\sqrt{8}",), ("2\\sqrt{2}",), "eval")


@pytest.fixture
def make_pool():
    """Factory for warm worker pools (the first TASK has been served), all closed after the test."""
    pools = []

    def make(size: int = 1, **kwargs) -> WorkerPool:
        pool = WorkerPool(size, **kwargs)
        pools.append(pool)
        assert pool.run([TASK], [5.0])[0][0].correct  # warm: the worker is ready
        return pool

    yield make
    for pool in pools:
        pool.close()


def test_stuck_worker_is_killed_and_replaced(make_pool):
    pool = make_pool()
    worker = next(iter(pool._all))
    os.kill(worker.process.pid, signal.SIGSTOP)  # simulate a worker stuck in C code
    start = time.monotonic()
    (grade, elapsed), = pool.run([TASK], [0.5])
    assert grade == Grade(False, "timeout", "deadline", "\\sqrt{8}")
    assert 0.5 <= elapsed < 1.0 and time.monotonic() - start < 1.5
    assert worker.process.poll() is not None  # killed
    assert pool.run([TASK], [5.0])[0][0].correct  # the replacement serves


def test_soft_deadline_inside_worker_stops_long_sympy_work(make_pool):
    pool = make_pool()
    hard = (("\\sin^{7}(x)\\cos^{5}(x)+\\tan^{3}(x)",), ("\\cos^{3}(x)+x^{9}\\sin(x^{2})",), "eval")
    (grade, elapsed), = pool.run([hard], [0.05])
    assert not grade.correct and grade.status in ("timeout", "ok")
    assert elapsed < 0.3
    assert pool.run([TASK], [5.0])[0][0].correct


def test_dead_worker_is_replaced(make_pool):
    pool = make_pool()
    worker = next(iter(pool._all))
    worker.process.kill()
    worker.process.wait()
    results = pool.run([TASK, TASK], [5.0, 5.0])
    assert results[0][0].status in ("too_large", "ok")
    assert results[1][0].correct


def test_worker_limits(make_pool):
    pool = make_pool(memory_mb=1536)
    pid = next(iter(pool._all)).process.pid
    limits = open(f"/proc/{pid}/limits").read()
    line = next(row for row in limits.splitlines() if row.startswith("Max address space"))
    assert str(1536 * 1024 * 1024) in line
    env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    assert b"OMP_NUM_THREADS=1" in env
    status = open(f"/proc/{pid}/status").read()
    assert "Threads:\t1" in status


def test_many_items_fan_out_in_order(make_pool):
    pool = make_pool(2)
    tasks = [((f"\\sqrt{{{k * k}}}",), (str(k),), "eval") for k in range(2, 30)]
    results = pool.run(tasks, [5.0] * len(tasks))
    assert all(g.correct for g, _ in results)


def test_options_travel_to_the_worker(make_pool):
    pool = make_pool()
    decimal = (("0.33",), ("\\frac{1}{3}",), "eval")
    (strict, _), (rounded, _) = pool.run([decimal, decimal + (Options(precision=2),)], [5.0, 5.0])
    assert not strict.correct and rounded.correct and rounded.method == "rounded"


def test_import_is_light_and_fast():
    code = ("import time, sys; t = time.perf_counter(); import reward; dt = time.perf_counter() - t; "
            "print(dt, 'sympy' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) < 0.5
    assert out[1:] == ["False", "False"]


def test_broken_worker_installation_raises_instead_of_respawning(monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")
    pool = WorkerPool(1)
    try:
        with pytest.raises(RuntimeError, match="fail to start"):
            pool.run([TASK], [5.0])
    finally:
        pool.close()
