"""vLLM data parallelism that cannot hang: the worker processes are fakes (vllm_dp_fakes.py) started exactly
as the real engines are (spawn, one process group each), so CPU-only tests cover dying, raising and hanging
workers, close() and the runner's resume after a failed chunk."""

import json
import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from pmpo_verl.cli import main
from pmpo_verl.evaluation import EvalError, runner
from pmpo_verl.evaluation.backends import Generation, Request, SamplingSettings, vllm_backend
from pmpo_verl.evaluation.backends.vllm_backend import VLLMBackend

LIMIT_S = 40  # per test; a hang fails the test instead of CI
SETTINGS = SamplingSettings(max_tokens=8)


@pytest.fixture(autouse=True)
def bounded(monkeypatch):
    """Fails a hanging test after LIMIT_S and kills what it started; puts the fakes on the children's path."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent))  # spawned children inherit sys.path
    for env in (vllm_backend.START_TIMEOUT_ENV, vllm_backend.CHUNK_TIMEOUT_ENV):
        monkeypatch.delenv(env, raising=False)
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}

    def expired(signum, frame):
        raise TimeoutError(f"test still running after {LIMIT_S} s: a hang")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(LIMIT_S)
    try:
        yield before
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        for p in new_children(before):  # the old code left hung workers behind
            try:
                p.kill()
            except psutil.Error:
                pass


def _is_worker(p) -> bool:
    try:
        return "spawn_main" in " ".join(p.cmdline())  # not the resource tracker or the verifier's pool
    except psutil.ZombieProcess:
        return True
    except psutil.Error:
        return False


def new_children(before):
    """Data-parallel worker processes (zombies included) below this one that the test started."""
    return [p for p in psutil.Process().children(recursive=True) if p.pid not in before and _is_worker(p)]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # reparented, awaiting its new parent
    except psutil.NoSuchProcess:
        return True


def make(worker, dp=2, tp=1, model="unused", **kw):
    """A backend of ``dp`` fake engines on GPU ids 0 .. dp*tp-1."""
    kw.setdefault("stop_timeout", 5.0)
    kw.setdefault("kill_timeout", 2.0)
    return VLLMBackend(model, None, tensor_parallel_size=tp, data_parallel_size=dp, worker=f"vllm_dp_fakes:{worker}",
                       gpu_ids=[str(i) for i in range(dp * tp)], **kw)


def reqs(n):
    return [Request((str(i), 0), tuple(range(i + 1)), seed=i) for i in range(n)]


def one_line(exc) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


@pytest.mark.parametrize("worker, why", [("sigkill_at_start", "died with SIGKILL (out of host memory?"),
                                         ("exit_at_start", "exited with code 3")])
def test_worker_dying_at_start_is_reported_at_once(worker, why, bounded):
    t0 = time.monotonic()
    with pytest.raises(EvalError) as err:
        make(worker, start_timeout=120)  # found by the liveness check, not by the start-up timeout
    assert time.monotonic() - t0 < 15
    msg = one_line(err)
    assert msg.startswith(f"vLLM data-parallel worker 1 (GPUs 1) {why}") and msg.endswith("while starting")
    assert new_children(bounded) == []  # the healthy worker 0 was stopped and reaped as well


def test_start_timeout_from_the_environment(bounded, monkeypatch):
    monkeypatch.setenv(vllm_backend.START_TIMEOUT_ENV, "1.5")
    t0 = time.monotonic()
    with pytest.raises(EvalError) as err:
        make("hangs_at_start")
    assert 1.5 <= time.monotonic() - t0 < 15
    msg = one_line(err)
    assert msg.startswith("vLLM data-parallel workers 0, 1 did not start within 1.5 s")
    assert f"set {vllm_backend.START_TIMEOUT_ENV}=SECONDS" in msg
    assert new_children(bounded) == []
    monkeypatch.setenv(vllm_backend.START_TIMEOUT_ENV, "ten minutes")
    with pytest.raises(EvalError, match="is not a number of seconds"):
        make("healthy")


def test_worker_killed_mid_generate_is_reported_within_seconds(bounded):
    b = make("sigkill_in_second_chunk")
    assert [g.text for g in b.generate(reqs(4), SETTINGS)][:2] == ["0/0 on 0: \\boxed{0}", "1/0 on 1: \\boxed{1}"]
    t0 = time.monotonic()
    with pytest.raises(EvalError) as err:
        b.generate(reqs(4), SETTINGS)
    assert time.monotonic() - t0 < 10
    msg = one_line(err)
    assert msg.startswith("vLLM data-parallel worker 1 (GPUs 1) died with SIGKILL (out of host memory?")
    assert "while generating" in msg and msg.endswith("rerun the same command to resume")
    assert new_children(bounded) == []  # the pool shut itself down: worker 0 stopped too
    b.close()  # again: a no-op
    with pytest.raises(EvalError, match="shut down"):
        b.generate(reqs(2), SETTINGS)


@pytest.mark.parametrize("worker, where, what", [
    ("raises_at_start", "starting", "RuntimeError: CUDA out of memory. Tried to allocate 20.00 GiB (GPU 1; 79.1 GiB"),
    ("raises_in_generate", "generating", "ValueError: prompt of 5000 tokens is longer than max_model_len 4096")])
def test_worker_exception_message_reaches_the_error(worker, where, what, bounded):
    with pytest.raises(EvalError) as err:
        make(worker).generate(reqs(3), SETTINGS)
    msg = one_line(err)
    assert msg.startswith(f"vLLM data-parallel worker 1 (GPUs 1) failed while {where}: {what}")
    assert new_children(bounded) == []


def test_a_short_answer_is_an_error(bounded):
    with pytest.raises(EvalError, match=r"^vLLM data-parallel worker 0 returned 1 generations for 2 requests$"):
        make("drops_one").generate(reqs(3), SETTINGS)
    assert new_children(bounded) == []


def _pids(pid_dir, ranks=(0, 1)):
    deadline = time.monotonic() + 20
    while not all((pid_dir / f"pids-{r}").is_file() for r in ranks):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return [int(x) for r in ranks for x in (pid_dir / f"pids-{r}").read_text().split()]


def test_close_kills_hanging_workers_and_their_process_trees(bounded, tmp_path):
    """Ctrl-C while the workers hang in generate (ignoring SIGTERM, with grandchildren in the worker's group and
    in a session of their own): the pool terminates, then kills, all of them in bounded time. The Ctrl-C is a
    real SIGINT to this process with Python's own handler installed, so no earlier test's signal state and no
    simulated interrupt (``_thread.interrupt_main`` does nothing under a non-Python handler) decides it."""
    b = make("hangs_in_generate", model=str(tmp_path), kill_timeout=1.0)
    pids = _pids(tmp_path)
    assert all(not gone(p) for p in pids)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            b.generate(reqs(4), SETTINGS)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old)
    assert time.monotonic() - t0 < 15  # 1 s until Ctrl-C, 1 s of SIGTERM grace, then SIGKILL
    assert new_children(bounded) == []  # workers reaped: no zombies
    assert all(gone(p) for p in pids)
    b.close()


def test_chunk_timeout_then_close(bounded, tmp_path):
    b = make("hangs_in_generate", model=str(tmp_path), chunk_timeout=1.0, kill_timeout=1.0)
    pids = _pids(tmp_path)
    t0 = time.monotonic()
    with pytest.raises(EvalError) as err:
        b.generate(reqs(2), SETTINGS)
    assert time.monotonic() - t0 < 15
    msg = one_line(err)
    assert msg.startswith("vLLM data-parallel workers 0, 1 did not answer within 1 s")
    assert f"set {vllm_backend.CHUNK_TIMEOUT_ENV}=SECONDS (0: no limit)" in msg
    assert new_children(bounded) == [] and all(gone(p) for p in pids)


@pytest.mark.parametrize("dp, tp", [(2, 1), (3, 2)])
def test_healthy_workers_keep_request_order(dp, tp, bounded):
    b = make("healthy", dp=dp, tp=tp)
    assert b.chunk_size == 1024 * dp
    gpus = [",".join(str(g) for g in range(r * tp, (r + 1) * tp)) for r in range(dp)]
    for n in (7, 1, 0):  # uneven shards, a shard left empty, nothing at all
        got = b.generate(reqs(n), SETTINGS)
        assert got == [Generation(f"{i}/0 on {gpus[i % dp]}: \\boxed{{{i}}}", "stop", i + 1) for i in range(n)]
    workers = list(b.pool.procs)
    t0 = time.monotonic()
    b.close()
    assert time.monotonic() - t0 < 5  # they stop when asked: no terminate/kill grace
    assert [p.exitcode for p in workers] == [0] * dp and new_children(bounded) == []


EXITING = """
import os, sys, threading, time
import psutil
from pmpo_verl.evaluation.backends.vllm_backend import VLLMBackend

def pids():
    return " ".join(str(c.pid) for c in psutil.Process().children() if "spawn_main" in " ".join(c.cmdline()))

def killed_while_starting():
    time.sleep(2.0)
    print(pids(), flush=True)
    os.kill(os.getpid(), 9)

how = sys.argv[1]
if how == "sigkill-starting":
    threading.Thread(target=killed_while_starting, daemon=True).start()
b = VLLMBackend("m", None, data_parallel_size=2, gpu_ids=["0", "1"],
                worker="vllm_dp_fakes:" + ("hangs_at_start" if how == "sigkill-starting" else "healthy"))
print(pids(), flush=True)
if how == "sigkill":
    os.kill(os.getpid(), 9)
"""


@pytest.mark.parametrize("how", ["exit", "sigkill", "sigkill-starting"])
def test_parent_exit_without_close_leaves_no_workers(how, bounded):
    """A program that never calls close() still exits (multiprocessing would join the workers forever);
    workers whose parent was killed (idle, or still starting their engine) notice it and exit."""
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent), *sys.path]))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", EXITING, how], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == (0 if how == "exit" else -9), proc.stderr
    assert time.monotonic() - t0 < 20
    pids = [int(x) for x in proc.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while not all(gone(p) for p in pids):
        assert time.monotonic() < deadline, "orphaned workers still running"
        time.sleep(0.1)


def test_too_few_gpus():
    with pytest.raises(EvalError, match="needs 4 GPUs, 3 visible"):
        VLLMBackend("m", None, tensor_parallel_size=2, data_parallel_size=2, gpu_ids=["0", "1", "2"])


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_runner_keeps_finished_chunks_and_resumes(tiny_model, data_dir, tmp_path, monkeypatch, capsys, bounded):
    """A worker dies in the second chunk of aime24: the first chunk's samples stay on disk, the backend is
    closed, the error is one line; a rerun generates only the missing samples."""
    worker, made, calls = ["sigkill_in_second_chunk"], [], []

    def create(name, model_path, tokenizer, opts):
        assert name == "vllm"
        b = make(worker[0], dp=opts.data_parallel_size, model=model_path)
        b.chunk_size = 2  # one request per engine and chunk
        real_generate, real_close = b.generate, b.close
        b.generate = lambda rs, s: calls.append(len(rs)) or real_generate(rs, s)
        b.close = lambda: calls.append("close") or real_close()
        made.append(b)
        return b

    monkeypatch.setattr(runner.backends, "choose", lambda name: name)
    monkeypatch.setattr(runner.backends, "create", create)
    out = tmp_path / "out"
    args = ["eval", "--model", tiny_model, "--benchmarks", "aime24,minerva", "--data-dir", str(data_dir),
            "--backend", "vllm", "--dp", "2", "--n", "2", "--temperature", "1", "--max-tokens", "8",
            "--out", str(out), "--no-progress", "--workers", "1"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: vLLM data-parallel worker 1 (GPUs 1) died with SIGKILL") and "\n" not in err
    assert calls == [2, 2, "close"]
    first = read_jsonl(out / "samples" / "aime24.jsonl")
    assert [(r["id"], r["sample"]) for r in first] == [("0", 0), ("0", 1)]
    assert first[1]["response"] == "0/1 on 1: \\boxed{0}"
    assert not (out / "samples" / "minerva.jsonl").exists() and not (out / "results.json").exists()
    assert new_children(bounded) == []

    worker[0], calls[:] = "healthy", []
    assert main(args) == 0
    assert calls == [2, 2, 2, "close"]  # aime24's second chunk and minerva's two, nothing again
    rows = read_jsonl(out / "samples" / "aime24.jsonl")
    assert [(r["id"], r["sample"]) for r in rows] == [("0", 0), ("0", 1), ("1", 0), ("1", 1)]
    assert rows[:2] == first
    assert len(read_jsonl(out / "samples" / "minerva.jsonl")) == 4
    assert json.loads((out / "results.json").read_text())["benchmarks"]["aime24"]["problems"] == 2
    assert new_children(bounded) == []
