"""The multi-node launchers of examples/cluster/, run against fake `srun`, `scontrol`, `hostname`, `ray`,
`nvidia-smi` and `python` executables (bash stubs in tmp_path that log their arguments): nothing here starts
Ray or contacts another host.

- slurm_pmpo.sbatch: GPU preflight on every node before Ray, a head address that other nodes can reach,
  `--cpus-per-task` on every `srun`, and a wait for the whole cluster (with a timeout, and a dead `ray start`
  step reported) instead of fixed sleeps: verl 0.9.1 raises at once when the cluster shows fewer GPUs than
  the trainer needs (verl/single_controller/ray/base.py, ResourcePoolManager._check_resource_available).
- submit.sh: no secret on the job's command line (visible in `ray job list` and the dashboard), and every
  environment input of examples/common.sh forwarded to the job (the list is derived from common.sh).
- ray_start.sh: the dashboard (the job-submission API) binds to 127.0.0.1 unless DASHBOARD_HOST says otherwise.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CLUSTER = EXAMPLES / "cluster"
SBATCH = CLUSTER / "slurm_pmpo.sbatch"
RECIPE = "examples/pmpo/run_qwen2.5_math_7b.sh"
MEGATRON_RECIPE = "examples/pmpo/run_qwen2.5_math_7b_megatron.sh"
SECRET = re.compile(r"(_TOKEN|_KEY|SECRET|PASSWORD)", re.IGNORECASE)

# Variables of the caller's environment that would change what the scripts do.
_ENV_PREFIXES = ("PMPO_", "SLURM_", "SRUN_", "RAY_", "FAKE_", "WANDB_", "HF_", "VERL_")


def _common_sh_inputs() -> set[str]:
    """The environment inputs of examples/common.sh: every `${NAME...}` read with a default or a test
    (`:-`, `:=`, `:+`, ...), and every `${NAME}` its header (the leading comment block) documents."""
    text = (EXAMPLES / "common.sh").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    defaulted = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):?[-=+?]", text))
    lines = text.splitlines()
    header = "\n".join(lines[:next(i for i, line in enumerate(lines) if not line.startswith("#"))])
    documented = set(re.findall(r"\b[A-Z][A-Z0-9_]*\b", header)) & used
    return (defaulted | documented) - {"BASH_SOURCE", "HOME"}


COMMON_INPUTS = _common_sh_inputs()
# Inputs of common.sh that submit.sh must not forward, and why.
NOT_FORWARDED = {
    "PMPO_DRY_RUN": "submit.sh's own switch: forwarded, the job would only print the command",
    "PMPO_PRESET": "set by pmpo_preset inside the recipe",
    "PMPO_ENGINE": "set by pmpo_preset inside the recipe",
    # runtime_env.yaml already sets VERL_USE_EXTERNAL_MODULES, and ray.init refuses a job whose runtime env and
    # ray.init's runtime env both set the same variable (ray/_private/worker.py, _merge_runtime_env).
    "PMPO_EXTERNAL_MODULES_FALLBACK": "conflicts with runtime_env.yaml's env_vars",
}


def clean_env(**extra: str) -> dict[str, str]:
    keys = COMMON_INPUTS | {"HEAD_IP", "DASHBOARD_HOST", "NNODES", "GPUS_PER_NODE"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k not in keys}
    env.update(extra)
    return env


def run(script: Path, *args: str, env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *args], env=env, check=False, capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


# ---- fakes ---------------------------------------------------------------------------------------------------

FAKE_SRUN = r"""
# Logs its argv; runs the command once per node of FAKE_NODES (--ntasks-per-node=1 without a node list, output
# prefixed by the task number with --label), else on the node named by -w/--nodelist.
printf '%s\n' "$*" >> "${FAKE_LOG_DIR}/srun.log"
node="" per_node=0 label=0
while [[ $# -gt 0 && "$1" == -* ]]; do
    case "$1" in
        -w | --nodelist) node="$2"; shift 2 ;;
        --nodelist=*) node="${1#*=}"; shift ;;
        -c | -N | -n | --cpus-per-task | --nodes | --ntasks) shift 2 ;;
        --ntasks-per-node=*) per_node=1; shift ;;
        -l | --label) label=1; shift ;;
        *) shift ;;
    esac
done
if [[ -z "${node}" && "${per_node}" == 1 ]]; then
    rc=0 i=0
    for n in ${FAKE_NODES}; do
        if [[ "${label}" == 1 ]]; then
            SLURMD_NODENAME="${n}" "$@" 2>&1 | sed "s/^/${i}: /"
            s="${PIPESTATUS[0]}"
        else
            s=0
            SLURMD_NODENAME="${n}" "$@" || s=$?
        fi
        [[ "${s}" == 0 ]] || rc="${s}"
        i=$((i + 1))
    done
    exit "${rc}"
fi
SLURMD_NODENAME="${node:-${FAKE_NODES%% *}}" exec "$@"
"""

FAKE_SCONTROL = r"""
[[ "$1 $2" == "show hostnames" ]] || exit 2
printf '%s\n' ${FAKE_NODES}
"""

FAKE_HOSTNAME = r"""
case "${1:-}" in
    -I | --all-ip-addresses) echo "${FAKE_HOSTNAME_I-10.0.0.1 172.17.0.1}" ;;
    -i | --ip-address) echo "${FAKE_HOSTNAME_IP-127.0.1.1}" ;;
    *) echo "${SLURMD_NODENAME:-node0}" ;;
esac
"""

FAKE_RAY = r"""
# Logs "NODE ARGV"; `ray start --block` stays up (exec sleep) unless its node is in FAKE_RAY_DEAD_NODES.
printf '%s %s\n' "${SLURMD_NODENAME:-local}" "$*" >> "${FAKE_LOG_DIR}/ray.log"
echo "${RAY_AUTH_MODE:-unset}" >> "${FAKE_LOG_DIR}/ray_auth.log"
if [[ "$1" == start && " $* " == *" --block "* ]]; then
    if [[ -n "${SLURMD_NODENAME:-}" && " ${FAKE_RAY_DEAD_NODES:-} " == *" ${SLURMD_NODENAME} "* ]]; then
        echo "fake ray: could not start on ${SLURMD_NODENAME}" >&2
        exit 3
    fi
    exec sleep 30
fi
"""

FAKE_PYTHON = r"""
# `-c CODE ARGS`: the cluster probe, answering the next entry of FAKE_PROBE ("GPUS NODES;...;GPUS NODES", the
# last one repeats; "fail" exits 1). `-m pmpo_verl.cli check --gpu` fails on the nodes in FAKE_BAD_NODES.
# Everything else (the recipe's plugin check, the trainer) succeeds. Logs "NODE ARGV" (the probe's code elided),
# and RAY_AUTH_MODE to python_auth.log.
echo "${RAY_AUTH_MODE:-unset}" >> "${FAKE_LOG_DIR}/python_auth.log"
if [[ "${1:-}" == -c ]]; then
    printf '%s -c PROBE %s\n' "${SLURMD_NODENAME:-local}" "${*:3}" >> "${FAKE_LOG_DIR}/python.log"
    n="$(cat "${FAKE_LOG_DIR}/probes" 2>/dev/null || echo 0)"
    echo $((n + 1)) > "${FAKE_LOG_DIR}/probes"
    IFS=';' read -r -a answers <<< "${FAKE_PROBE:-0 0}"
    (( n < ${#answers[@]} )) || n=$(( ${#answers[@]} - 1 ))
    if [[ "${answers[n]}" == fail ]]; then
        echo "ConnectionError: could not reach the GCS" >&2
        exit 1
    fi
    echo "${answers[n]}"
    exit 0
fi
printf '%s %s\n' "${SLURMD_NODENAME:-local}" "$*" >> "${FAKE_LOG_DIR}/python.log"
if [[ "$*" == "-m pmpo_verl.cli check --gpu"* && -n "${SLURMD_NODENAME:-}" \
    && " ${FAKE_BAD_NODES:-} " == *" ${SLURMD_NODENAME} "* ]]; then
    echo "gpu: torch.cuda.is_available() is False on ${SLURMD_NODENAME}"
    exit 1
fi
exit 0
"""


def _fakes(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for name, body in (("srun", FAKE_SRUN), ("scontrol", FAKE_SCONTROL), ("hostname", FAKE_HOSTNAME),
                       ("ray", FAKE_RAY), ("python", FAKE_PYTHON)):
        _stub(bin_dir / name, body)
    _stub(bin_dir / "nvidia-smi", "".join(f"echo 'GPU {i}: NVIDIA H100 (UUID: GPU-{i})'\n" for i in range(8)))
    return bin_dir


def fake_env(recipe_inputs, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A two-node allocation (node0, node1) x 8 GPUs x 64 CPUs whose Ray cluster shows the head, then both."""
    bin_dir = _fakes(tmp_path)
    env = clean_env(
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", HOME=str(tmp_path / "home"), FAKE_LOG_DIR=str(tmp_path),
        FAKE_NODES="node0 node1", SLURM_JOB_NODELIST="node[0-1]", SLURM_GPUS_PER_NODE="h100:8",
        SLURM_CPUS_PER_TASK="64", PYTHON=str(bin_dir / "python"), FAKE_PROBE="0 0;8 1;8 1;16 2",
        RAY_WAIT_TIMEOUT="20", RAY_POLL_INTERVAL="0.1", **recipe_inputs(tmp_path))
    env.update(extra)
    return env


def log(tmp_path: Path, name: str) -> list[str]:
    path = tmp_path / f"{name}.log"
    return path.read_text().splitlines() if path.exists() else []


def ray_starts(tmp_path: Path) -> list[str]:
    return [line for line in log(tmp_path, "ray") if " start " in f" {line} "]


def trainer_ran(tmp_path: Path) -> bool:
    return any("-m verl.trainer.main_ppo" in line for line in log(tmp_path, "python"))


# ---- slurm_pmpo.sbatch ---------------------------------------------------------------------------------------

def test_slurm_waits_until_the_cluster_shows_every_gpu(tmp_path, recipe_inputs):
    env = fake_env(recipe_inputs, tmp_path)
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode == 0, proc.stderr
    assert int((tmp_path / "probes").read_text()) >= 4, "the launcher polls the cluster until it is complete"
    starts = ray_starts(tmp_path)
    assert [s.split()[0] for s in starts] == ["node0", "node1"] and "--head" in starts[0]
    assert "Ray cluster ready: 16 GPU(s) on 2 node(s)" in proc.stderr
    # the trainer starts after the last query, the one that saw the whole cluster
    calls = log(tmp_path, "python")
    last_probe = max(i for i, call in enumerate(calls) if " -c PROBE " in call)
    assert [call for call in calls[last_probe:] if "-m verl.trainer.main_ppo" in call]


def test_slurm_times_out_with_what_the_cluster_shows(tmp_path, recipe_inputs):
    # the head at once, never the other node
    env = fake_env(recipe_inputs, tmp_path, FAKE_PROBE="8 1", RAY_WAIT_TIMEOUT="1")
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode != 0
    assert "8 GPU(s) on 1 node(s)" in proc.stderr and "expected 16 GPU(s) on 2 node(s)" in proc.stderr, proc.stderr
    assert "RAY_WAIT_TIMEOUT" in proc.stderr
    assert not trainer_ran(tmp_path)


def test_slurm_timeout_reports_the_probe_error(tmp_path, recipe_inputs):
    env = fake_env(recipe_inputs, tmp_path, FAKE_PROBE="fail", RAY_WAIT_TIMEOUT="1")
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode != 0
    assert "0 GPU(s) on 0 node(s)" in proc.stderr and "could not reach the GCS" in proc.stderr, proc.stderr
    assert not trainer_ran(tmp_path)


def test_slurm_reports_a_dead_ray_start_step(tmp_path, recipe_inputs):
    env = fake_env(recipe_inputs, tmp_path, FAKE_PROBE="0 0;8 1", FAKE_RAY_DEAD_NODES="node1")
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode != 0
    assert "`ray start` on node1 exited (status 3)" in proc.stderr, proc.stderr
    assert not trainer_ran(tmp_path)


def test_slurm_passes_cpus_per_task_to_every_srun(tmp_path, recipe_inputs):
    proc = run(SBATCH, RECIPE, env=fake_env(recipe_inputs, tmp_path))
    assert proc.returncode == 0, proc.stderr
    calls = log(tmp_path, "srun")
    assert calls
    for call in calls:
        argv = shlex.split(call)
        assert "--cpus-per-task=64" in argv or ("-c" in argv and argv[argv.index("-c") + 1] == "64"), call


def test_slurm_picks_a_non_loopback_head_address(tmp_path, recipe_inputs):
    # /etc/hosts maps the host name to 127.0.1.1 on many distributions (`hostname --ip-address`)
    env = fake_env(recipe_inputs, tmp_path, FAKE_HOSTNAME_I="10.1.2.3 172.17.0.1", FAKE_HOSTNAME_IP="127.0.1.1")
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode == 0, proc.stderr
    head, worker = ray_starts(tmp_path)
    assert "--node-ip-address=10.1.2.3" in head.split()
    assert "--address=10.1.2.3:6379" in worker.split()


def test_slurm_refuses_a_loopback_head_address(tmp_path, recipe_inputs):
    env = fake_env(recipe_inputs, tmp_path, FAKE_HOSTNAME_I="", FAKE_HOSTNAME_IP="127.0.1.1")
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode != 0
    assert "loopback" in proc.stderr and "127.0.1.1" in proc.stderr and "HEAD_IP" in proc.stderr, proc.stderr
    assert not ray_starts(tmp_path)


def test_slurm_head_ip_override(tmp_path, recipe_inputs):
    env = fake_env(recipe_inputs, tmp_path, HEAD_IP="192.168.7.7")
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode == 0, proc.stderr
    head, worker = ray_starts(tmp_path)
    assert "--node-ip-address=192.168.7.7" in head.split() and "--address=192.168.7.7:6379" in worker.split()
    assert [c for c in log(tmp_path, "python") if "-c PROBE 192.168.7.7:6379" in c]

    proc = run(SBATCH, RECIPE, env=fake_env(recipe_inputs, tmp_path / "lo", HEAD_IP="127.0.0.1"))
    assert proc.returncode != 0 and "loopback" in proc.stderr


def test_slurm_preflight_failure_on_one_node_stops_before_ray(tmp_path, recipe_inputs):
    env = fake_env(recipe_inputs, tmp_path, FAKE_BAD_NODES="node1")
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode != 0
    assert "torch.cuda.is_available() is False on node1" in proc.stderr, proc.stderr
    assert "GPU preflight failed" in proc.stderr and "PMPO_SKIP_CHECKS" in proc.stderr
    assert not ray_starts(tmp_path) and not trainer_ran(tmp_path)
    assert sorted(line.split()[0] for line in _preflight_calls(tmp_path)) == ["node0", "node1"]


def _preflight_calls(tmp_path: Path) -> list[str]:
    """`check --gpu` calls inside srun steps (the recipe's own check runs outside, on the batch host)."""
    return [line for line in log(tmp_path, "python")
            if "pmpo_verl.cli check --gpu" in line and not line.startswith("local ")]


def test_slurm_preflight_names_the_engine(tmp_path, recipe_inputs):
    proc = run(SBATCH, MEGATRON_RECIPE, env=fake_env(recipe_inputs, tmp_path))
    assert proc.returncode == 0, proc.stderr
    checks = _preflight_calls(tmp_path)
    assert len(checks) == 2 and all(line.endswith("--engine megatron") for line in checks), checks

    proc = run(SBATCH, RECIPE, env=fake_env(recipe_inputs, tmp_path / "fsdp"))
    assert proc.returncode == 0, proc.stderr
    checks = _preflight_calls(tmp_path / "fsdp")
    assert len(checks) == 2 and all(line.endswith("--engine fsdp") for line in checks), checks


def test_slurm_skip_checks_skips_the_preflight_not_the_wait(tmp_path, recipe_inputs):
    env = fake_env(recipe_inputs, tmp_path, PMPO_SKIP_CHECKS="1", FAKE_BAD_NODES="node0 node1")
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode == 0, proc.stderr
    assert not _preflight_calls(tmp_path)
    assert int((tmp_path / "probes").read_text()) >= 4 and trainer_ran(tmp_path)


def _auth_token(home: Path) -> None:
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text("0123456789abcdef")


def test_slurm_uses_the_token_everywhere_when_one_exists(tmp_path, recipe_inputs):
    # `ray start --head` turns token authentication on when ~/.ray/auth_token exists; nodes, the cluster query and
    # the trainer given an address only send the token with RAY_AUTH_MODE=token.
    env = fake_env(recipe_inputs, tmp_path)
    _auth_token(Path(env["HOME"]))
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode == 0, proc.stderr
    assert set(log(tmp_path, "ray_auth")) == {"token"} and set(log(tmp_path, "python_auth")) == {"token"}

    # no token: Ray's default (off) everywhere
    proc = run(SBATCH, RECIPE, env=fake_env(recipe_inputs, tmp_path / "none"))
    assert proc.returncode == 0, proc.stderr
    assert set(log(tmp_path / "none", "ray_auth")) == {"unset"}

    env = fake_env(recipe_inputs, tmp_path / "explicit", RAY_AUTH_MODE="disabled")
    _auth_token(Path(env["HOME"]))
    proc = run(SBATCH, RECIPE, env=env)
    assert proc.returncode == 0, proc.stderr
    assert set(log(tmp_path / "explicit", "ray_auth")) == {"disabled"}


def test_slurm_dashboard_stays_on_localhost(tmp_path, recipe_inputs):
    proc = run(SBATCH, RECIPE, env=fake_env(recipe_inputs, tmp_path))
    assert proc.returncode == 0, proc.stderr
    head = ray_starts(tmp_path)[0].split()
    assert "--dashboard-host=127.0.0.1" in head


# ---- submit.sh -----------------------------------------------------------------------------------------------

def _submit(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run(CLUSTER / "submit.sh", RECIPE, *args, env=clean_env(PMPO_DRY_RUN="1", **env), timeout=60)


def _entrypoint(proc: subprocess.CompletedProcess) -> list[str]:
    assert proc.returncode == 0, proc.stderr
    argv = shlex.split(proc.stdout.strip())
    return argv[argv.index("--") + 1:]


def test_common_sh_inputs_are_found():
    assert {"MODEL_PATH", "DATA_DIR", "TEMPLATE", "NNODES", "PMPO_SKIP_CHECKS", "PMPO_ALLOW_DOWNLOAD"} <= COMMON_INPUTS
    assert not {"PMPO_CMD", "PMPO_TRAIN_LIST", "PMPO_TRAIN_BASENAME", "HOME"} & COMMON_INPUTS


def test_submit_forwards_every_input_of_common_sh():
    # "1" passes the recipes' own validation of every setting (0/1 switches, counts, paths in a dry run)
    expected = {name: "1" for name in COMMON_INPUTS - set(NOT_FORWARDED) if not SECRET.search(name)}
    entry = _entrypoint(_submit(**expected))
    missing = [name for name, value in expected.items() if f"{name}={value}" not in entry]
    assert not missing, f"submit.sh does not forward {missing} (read by examples/common.sh)"


def test_submit_does_not_forward_what_breaks_the_job():
    entry = _entrypoint(_submit(PMPO_EXTERNAL_MODULES_FALLBACK="1"))
    assert not [arg for arg in entry if arg.startswith(tuple(NOT_FORWARDED))], entry


def test_submit_never_puts_a_secret_on_the_command_line():
    proc = _submit(WANDB_API_KEY="wandb-s3cret", HF_TOKEN="hf-s3cret", HUGGING_FACE_HUB_TOKEN="hub-s3cret")
    _entrypoint(proc)
    assert "s3cret" not in proc.stdout and "s3cret" not in proc.stderr
    # ... and says how to provide them instead
    assert "WANDB_API_KEY" in proc.stderr and "HF_TOKEN" in proc.stderr
    assert "ray start" in proc.stderr and "wandb login" in proc.stderr


def test_submit_sends_the_token_and_no_secret_to_ray(tmp_path):
    bin_dir = _fakes(tmp_path)
    home = tmp_path / "home"
    _auth_token(home)
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_LOG_DIR=str(tmp_path), HOME=str(home),
                    WANDB_API_KEY="wandb-s3cret", NNODES="2")
    proc = run(CLUSTER / "submit.sh", RECIPE, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (call,) = log(tmp_path, "ray")
    assert call.split()[1:4] == ["job", "submit", "--address"] and "NNODES=2" in call.split()
    assert "s3cret" not in call
    assert log(tmp_path, "ray_auth") == ["token"]


# ---- runtime_env.yaml ----------------------------------------------------------------------------------------

def test_job_working_dir_comes_first_on_the_workers_path():
    # Ray puts the job's working dir first on every worker's PYTHONPATH: the snapshot's pmpo_verl and reward
    # shadow the installed ones. The runtime env's comment must say so.
    from ray._private.runtime_env.context import RuntimeEnvContext
    from ray._private.runtime_env.working_dir import set_pythonpath_in_context

    ctx = RuntimeEnvContext(env_vars={"PYTHONPATH": "/from/env_vars"})
    set_pythonpath_in_context("/snapshot", ctx)
    assert ctx.env_vars["PYTHONPATH"].split(os.pathsep)[0] == "/snapshot"

    text = (CLUSTER / "runtime_env.yaml").read_text()
    comment = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
    assert "PYTHONPATH" in comment and "driver only" not in comment
    assert yaml.safe_load(text)["working_dir"] == "./"


# ---- ray_start.sh --------------------------------------------------------------------------------------------

def _ray_start(tmp_path: Path, *args: str, **extra: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = _fakes(tmp_path)
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_LOG_DIR=str(tmp_path),
                    PYTHON=str(bin_dir / "python"), HOME=str(tmp_path / "home"))
    env.update(extra)
    proc = run(CLUSTER / "ray_start.sh", *args, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (call,) = log(tmp_path, "ray")
    return proc, call.split()[1:]


def _dashboard_host(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--dashboard-host":
            return argv[i + 1]
        if arg.startswith("--dashboard-host="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"no --dashboard-host in {argv}")


def test_ray_start_binds_the_dashboard_to_localhost(tmp_path):
    proc, argv = _ray_start(tmp_path, "head")
    assert argv[:2] == ["start", "--head"]
    assert _dashboard_host(argv) == "127.0.0.1"
    assert "ssh -L 8265:127.0.0.1:8265" in proc.stderr


def test_ray_start_worker_uses_the_token_when_one_exists(tmp_path):
    _auth_token(tmp_path / "home")
    _ray_start(tmp_path, "worker", "10.0.0.1", HOME=str(tmp_path / "home"))
    assert log(tmp_path, "ray_auth") == ["token"]
    _ray_start(tmp_path / "none", "worker", "10.0.0.1")
    assert log(tmp_path / "none", "ray_auth") == ["unset"]


def test_ray_start_dashboard_host_is_an_opt_in(tmp_path):
    proc, argv = _ray_start(tmp_path, "head", DASHBOARD_HOST="10.0.0.5")
    assert _dashboard_host(argv) == "10.0.0.5"
    assert "warning" in proc.stderr and "10.0.0.5" in proc.stderr


def test_ray_start_runs_the_gpu_preflight_first(tmp_path):
    _ray_start(tmp_path, "head", ENGINE="megatron")
    checks = [line for line in log(tmp_path, "python") if "pmpo_verl.cli check" in line]
    assert checks == ["local -m pmpo_verl.cli check --gpu --engine megatron"]

    bin_dir = _fakes(tmp_path / "bad")
    env = clean_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_LOG_DIR=str(tmp_path / "bad"),
                    PYTHON=str(bin_dir / "python"), HOME=str(tmp_path / "home"),
                    SLURMD_NODENAME="gpu7", FAKE_BAD_NODES="gpu7")
    proc = run(CLUSTER / "ray_start.sh", "head", env=env, timeout=60)
    assert proc.returncode != 0 and "GPU preflight failed" in proc.stderr
    assert not log(tmp_path / "bad", "ray")  # Ray never started
