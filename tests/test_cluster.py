"""Beyond one machine: the cluster launcher files and a study on a multi-node Ray cluster that loses a node.

The multi-node tests simulate a cluster on this machine with `ray.cluster_utils.Cluster`: a head node with no
CPU (driver only, like cluster.yaml's head) and two worker nodes that declare 1 CPU and a custom resource each.
The cluster lives in a helper subprocess. It cannot share a process with the test session's own Ray
(conftest's `ray_session`), and removing a node needs the `Cluster` object that started it. The study runs as a
second subprocess, `python ablation/run.py --address <cluster>`, as a user would run it on a real cluster.
Isolation: the cluster gets its own temporary folder (RAY_TMPDIR, so Ray's "current cluster" file and sessions
never touch /tmp/ray that other Ray users read) and its own authentication token. Every process it starts
carries a marker in its environment. Teardown shuts the cluster down and then kills, by pid, any process still
carrying that marker: nothing like `ray stop --force`.

Tests on the simulated cluster (one cluster per module, in this order): a study spread over both workers
(storage given as a file:// URI), a study that loses worker b while b runs a trial (storage given as a plain
shared path), and a GPU study that starts before any GPU node exists. For the last one, the test adds a worker
with a fake GPU, as the autoscaler would.
"""
from __future__ import annotations

import copy
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.waiting import wait_for

REPO = Path(__file__).resolve().parent.parent
CLUSTER_FILES = sorted(REPO.glob("cluster*.yaml"))
STUDY = ["--profile", "smoke", "--factors", "shortcut", "se", "--seeds", "1", "--wandb", "disabled", "--no-report"]
STUDY_TIMEOUT = 420  # seconds; a study takes about 30-50 s here, far more only when the machine is overloaded


# --------------------------------------------------------------------------------------------------------------
# The cluster launcher files, checked the way `ray up` checks them before it contacts a cloud
# --------------------------------------------------------------------------------------------------------------

def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _launcher_check(config: dict) -> dict:
    """Ray's own offline checks of `ray up`, in its order. Returns the prepared config.

    `ray up` (ray.autoscaler._private.commands._bootstrap_config) runs prepare_config (merge with the provider's
    defaults.yaml, multi-node-type form, docker check, per-type worker counts), then the provider's
    resource auto-fill, then validate_config (the JSON schema ray-schema.json plus the head/min/max rules), then
    the provider's bootstrap. On AWS the auto-fill and the bootstrap call AWS (instance types, IAM, subnets,
    key pairs), so they are skipped here. The auto-fill only adds CPU/GPU counts that our node types already
    declare. prepare_config and validate_config read local files only (the tests block the network to prove it).
    """
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection (a cloud API call) fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"the launcher check tried to reach the network: {args!r} {kwargs!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_cluster_files_exist():
    assert "cluster.yaml" in [p.name for p in CLUSTER_FILES], CLUSTER_FILES


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda p: p.name)
def test_cluster_file_passes_ray_launcher_validation(path, no_network):
    prepared = _launcher_check(_load(path))
    assert prepared["cluster_name"] == _load(path)["cluster_name"]
    assert prepared["head_node_type"] in prepared["available_node_types"]


@pytest.mark.parametrize("path", CLUSTER_FILES, ids=lambda p: p.name)
def test_cluster_file_matches_the_project(path):
    """The image carries the Ray and Python of requirements.txt; the project is synced and installed; no secrets."""
    config = _load(path)
    ray_version = version("ray")
    assert f"ray[tune]=={ray_version}" in (REPO / "requirements.txt").read_text()
    # the project's Python (README: Python 3.11), not the one running the tests: the driver runs on the cluster
    assert config["docker"]["image"] == f"rayproject/ray:{ray_version}-py311-gpu"
    remote = [remote for remote, local in config["file_mounts"].items() if local == "."]
    assert len(remote) == 1, "the repository root must be synced to every node"
    assert f"cd {remote[0]} && pip install -q -r requirements.txt" in config["setup_commands"]
    assert "-e ." in (REPO / "requirements.txt").read_text()  # ...which installs the project on every node
    assert config["idle_timeout_minutes"] > 0
    text = path.read_text()
    for secret in (r"AKIA[0-9A-Z]{16}", r"(?i)aws_secret_access_key", r"(?i)api_key\s*[:=]\s*\S", r"BEGIN [A-Z ]*KEY"):
        assert not re.search(secret, text), f"{path.name} must not hold secrets ({secret})"


def test_cluster_yaml_has_cpu_head_and_autoscaling_gpu_workers():
    config = _load(REPO / "cluster.yaml")
    assert config["provider"]["type"] == "aws"
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0 and head["resources"].get("CPU") == 0  # driver only
    workers = {name: t for name, t in types.items() if name != config["head_node_type"]}
    assert len(workers) == 1
    (worker,) = workers.values()
    assert worker["resources"]["GPU"] == 1 and worker["resources"]["CPU"] >= 4  # 4 trials at 0.25 GPU, 1 CPU
    assert worker["min_workers"] == 0 < worker["max_workers"] <= config["max_workers"]
    assert re.fullmatch(r"ami-[0-9a-f]{17}", worker["node_config"]["ImageId"])
    assert "Deep Learning AMI" in (REPO / "cluster.yaml").read_text()  # ...with how to pick a current one


def _drop(*keys):
    def mutate(config):
        node = config
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return mutate


def _set(value, *keys):
    def mutate(config):
        node = config
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return mutate


# (mutation, exception, message). `cluster_name`, `max_workers` and the command lists are not in this list:
# prepare_config fills them from the provider's defaults.yaml, so `ray up` accepts a file without them.
BROKEN_AWS = {
    "no provider": (_drop("provider"), KeyError, "provider"),
    "no provider type": (_drop("provider", "type"), KeyError, "type"),
    "unknown provider type": (_set("awz", "provider", "type"), NotImplementedError, "awz"),
    "worker without node_config": (_drop("available_node_types", "gpu_worker", "node_config"),
                                   "ValidationError", "'node_config' is a required property"),
    "worker without resources": (_drop("available_node_types", "gpu_worker", "resources"),
                                 "ValidationError", "'resources' is a required property"),
    "head type not declared": (_drop("head_node_type"), ValueError, "`head_node_type` must be one of"),
    "head type unknown": (_set("gpu_head", "head_node_type"), ValueError, "`head_node_type` must be one of"),
    "negative max_workers": (_set(-1, "max_workers"), "ValidationError", "-1 is less than the minimum of 0"),
    "min_workers above max_workers": (_set(5, "available_node_types", "gpu_worker", "min_workers"), ValueError,
                                      "smaller than the sum of `min_workers`"),
    "fractional GPU on a node": (_set({"CPU": 4, "GPU": 0.5}, "available_node_types", "gpu_worker", "resources"),
                                 "ValidationError", "0.5 is not of type 'integer'"),
    "negative idle timeout": (_set(-5, "idle_timeout_minutes"), "ValidationError", "less than the minimum"),
    "misspelt key": (_set(5, "idle_timeout_minute"), "ValidationError", "Additional properties are not allowed"),
}

BROKEN_ONPREM = {
    "no head_ip": (_drop("provider", "head_ip"), "ClickException", "head_ip"),
    "no worker_ips": (_drop("provider", "worker_ips"), "ClickException", "worker_ips"),
    "node types on premise": (_set({"x": {"resources": {}, "node_config": {}}}, "available_node_types"),
                              "ClickException", "not supported for on-premise"),
    "negative max_workers": (_set(-1, "max_workers"), "ValidationError", "less than the minimum of 0"),
    "misspelt key": (_set(["x"], "setup_command"), "ValidationError", "Additional properties are not allowed"),
}


def _exception(kind):
    if kind == "ValidationError":
        from jsonschema import ValidationError

        return ValidationError
    if kind == "ClickException":
        from click import ClickException

        return ClickException
    return kind


@pytest.mark.parametrize("case", list(BROKEN_AWS))
def test_cluster_yaml_fails_launcher_validation_when_broken(case, no_network):
    mutate, kind, message = BROKEN_AWS[case]
    config = _load(REPO / "cluster.yaml")
    mutate(config)
    with pytest.raises(_exception(kind)) as raised:
        _launcher_check(config)
    assert message in str(raised.value) or message in getattr(raised.value, "message", "")


@pytest.mark.skipif(not (REPO / "cluster-onprem.yaml").exists(), reason="no on-premise cluster file")
@pytest.mark.parametrize("case", list(BROKEN_ONPREM))
def test_onprem_file_fails_launcher_validation_when_broken(case, no_network, capsys):
    mutate, kind, message = BROKEN_ONPREM[case]
    config = _load(REPO / "cluster-onprem.yaml")
    mutate(config)
    with pytest.raises(_exception(kind)) as raised:
        _launcher_check(config)
    # cli_logger.abort prints its message and raises a silent exception
    printed = capsys.readouterr()
    assert message in str(raised.value) + printed.out + printed.err


def _documented_study_commands() -> list[list[str]]:
    """The arguments of every `python ablation/run.py` that the docs start through a `ray` command (ray job submit,
    or the quoted command of ray exec), with continuation lines joined."""
    commands = []
    for doc in (REPO / "README.md", REPO / "docs" / "cluster.md"):
        if not doc.exists():
            continue
        for line in doc.read_text().replace("\\\n", " ").splitlines():
            if "ablation/run.py" not in line or not line.lstrip().startswith("ray "):
                continue
            tokens = shlex.split(line, comments=True)
            inner = [shlex.split(t) for t in tokens if "ablation/run.py" in t and " " in t]
            tokens = inner[0] if inner else tokens
            argv = tokens[tokens.index("ablation/run.py") + 1:]
            commands.append(argv[: argv.index("&&")] if "&&" in argv else argv)
    return commands


def test_documented_cluster_commands_parse():
    from ablation.run import parse_args

    commands = _documented_study_commands()
    if not commands:
        pytest.fail("docs/cluster.md has no study commands")
    for argv in commands:
        args = parse_args(argv)  # an unknown or malformed option exits here
        assert args.address == "auto", argv  # on the cluster the driver joins it


# --------------------------------------------------------------------------------------------------------------
# A simulated multi-node cluster (helper subprocess) and studies run against it
# --------------------------------------------------------------------------------------------------------------

# Runs in its own process: head (0 CPU: driver only) + workers "a" and "b". It writes ready.json with the
# address and node ids. It removes worker NAME when the file remove-NAME appears, adds a worker with a (fake)
# GPU when add-gpu appears, and shuts down on stop or when the test process is gone.
HELPER = r"""
import json, os, sys, time
from pathlib import Path
from ray.cluster_utils import Cluster

control = Path(sys.argv[1])
parent = os.getppid()
began = time.time()
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
workers = {name: cluster.add_node(num_cpus=1, num_gpus=0, resources={f"worker_{name}": 1})
           for name in ("a", "b")}
cluster.wait_for_nodes()
ready = {"address": cluster.address, "head": cluster.head_node.node_id, "pid": os.getpid(),
         "workers": {name: node.node_id for name, node in workers.items()}, "startup_seconds": time.time() - began}


def publish(name, data):  # atomically: the test reads the file as soon as it exists
    (control / f".{name}.tmp").write_text(json.dumps(data))
    os.replace(control / f".{name}.tmp", control / name)


publish("ready.json", ready)
try:
    while not (control / "stop").exists() and os.getppid() == parent:
        for name in list(workers):
            if (control / f"remove-{name}").exists():
                began = time.time()
                cluster.remove_node(workers.pop(name), allow_graceful=False)  # a machine lost: SIGKILL
                publish(f"removed-{name}", {"at": time.time(), "seconds": time.time() - began})
        if (control / "add-gpu").exists() and "gpu" not in workers:  # what an autoscaler does on GPU demand
            workers["gpu"] = cluster.add_node(num_cpus=2, num_gpus=1, resources={"worker_gpu": 1})
            publish("added-gpu", {"node": workers["gpu"].node_id})
        time.sleep(0.05)
finally:
    cluster.shutdown()
"""


class LocalCluster:
    def __init__(self, root: Path, env: dict, info: dict, marker: str):
        self.root, self.env, self.info, self.marker = root, env, info, marker
        self.control = root / "control"

    @property
    def address(self) -> str:
        return self.info["address"]

    def node(self, name: str) -> str:
        return self.info["workers"][name]

    def remove(self, name: str, timeout: float = 60) -> float:
        (self.control / f"remove-{name}").touch()
        done = self.control / f"removed-{name}"
        _wait_for(done.exists, timeout, f"worker {name} removed")
        return json.loads(done.read_text())["at"]

    def add_gpu_worker(self, timeout: float = 60) -> str:
        (self.control / "add-gpu").touch()
        done = self.control / "added-gpu"
        _wait_for(done.exists, timeout, "a GPU worker added")
        return json.loads(done.read_text())["node"]

    def start_study(self, args: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(REPO / "ablation" / "run.py"), "--address", self.address, *args],
                                cwd=REPO, env={**self.env, **(env or {})}, stdout=log.open("w"),
                                stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(condition, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    return wait_for(condition, timeout, what, process, lambda: _tail(log))


def _tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return ""
    return "\n--- " + str(log) + " ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _finish(process: subprocess.Popen, log: Path, timeout: float = STUDY_TIMEOUT) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise AssertionError(f"study did not finish in {timeout} s{_tail(log)}") from None


def _kill_group(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


def _kill_marked(marker: str) -> list[int]:
    """SIGKILL every process (by pid) whose environment carries this test cluster's marker (Linux /proc)."""
    needle = f"ABLATION_TEST_CLUSTER={marker}".encode()
    killed = []
    for entry in Path("/proc").glob("[0-9]*"):
        pid = int(entry.name)
        if pid == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        except (OSError, ProcessLookupError):
            continue
    return killed


@pytest.fixture(scope="module")
def local_cluster():
    # A short root: Ray's unix socket paths under it must stay below 108 characters.
    root = Path(tempfile.mkdtemp(prefix="rc-", dir="/tmp" if os.path.isdir("/tmp") else None))
    control = root / "control"
    control.mkdir()
    marker = secrets.token_hex(8)
    env = {key: value for key, value in os.environ.items() if key not in ("RAY_ADDRESS", "RAY_AUTH_TOKEN_PATH")}
    env.update({"RAY_TMPDIR": str(root), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                "ABLATION_TEST_CLUSTER": marker, "WANDB_MODE": "disabled", "RAY_DEDUP_LOGS": "0"})
    log = root / "cluster.log"
    helper = subprocess.Popen([sys.executable, "-c", HELPER, str(control)], cwd=REPO, env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        info = _wait_for(lambda: (control / "ready.json").exists() and json.loads((control / "ready.json").read_text()),
                         180, "the local Ray cluster", helper, log)
        yield LocalCluster(root, env, info, marker)
    finally:
        (control / "stop").touch()
        try:
            helper.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(helper)
        _kill_marked(marker)
        shutil.rmtree(root, ignore_errors=True)


def _checkpoint_history(run_dir: Path, key: str) -> list[dict]:
    """The epochs recorded in a trial's own checkpoint (each with its node, pid and end time); [] before one."""
    import torch

    try:
        return torch.load(run_dir / "checkpoints" / key / "state.pt", weights_only=True)["history"]
    except (OSError, RuntimeError, EOFError, KeyError):  # not written yet, or replaced while being read
        return []


@pytest.mark.slow
def test_study_spreads_over_worker_nodes_with_file_uri_storage(local_cluster, tmp_path):
    """A smoke study joined with --address runs its trials on both worker nodes; --storage is a file:// URI."""
    log = tmp_path / "driver.log"
    driver = local_cluster.start_study([*STUDY, "--storage", f"file://{tmp_path}/shared", "--name", "multi"], log)
    assert _finish(driver, log) == 0, _tail(log)
    run_dir = tmp_path / "shared" / "multi"  # the URI resolved to this local folder
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    epochs = pd.read_csv(run_dir / "results" / "epochs.csv")
    assert len(trials) == 4 and (trials.status == "completed").all() and (trials.epochs_done == 2).all()
    workers = {local_cluster.node("a"), local_cluster.node("b")}
    assert set(trials.node_id) == workers  # both workers ran trials, the CPU-less head none
    assert set(epochs.node_id) == workers
    assert trials.hostname.notna().all() and (trials.hostname == socket.gethostname()).all()
    # a trial's epochs ran on one node (nothing failed), and the trial's node is the one of its last epoch
    per_trial = epochs.groupby("trial_id").node_id.agg(lambda nodes: set(nodes))
    assert per_trial.map(len).eq(1).all()
    assert (trials.set_index("trial_id").node_id == per_trial.map(lambda nodes: next(iter(nodes)))).all()
    assert len(list((run_dir / "ledger").glob("*.json"))) == 4
    print(f"trials per node: {trials.node_id.str[:8].value_counts().to_dict()}")


@pytest.mark.slow
def test_lost_worker_node_trials_restart_from_checkpoint_on_survivor(local_cluster, tmp_path):
    """Remove worker b while its trial runs. The study completes, the lost trial resumes on a from its checkpoint,
    and nothing that had finished (ledger records, including one that finished on b) is lost or re-run."""
    epochs_per_trial = 4
    storage = tmp_path / "shared"  # a plain shared path
    run_dir = storage / "lost"
    log = tmp_path / "driver.log"
    driver = local_cluster.start_study([*STUDY, "--epochs", str(epochs_per_trial), "--storage", str(storage),
                                        "--name", "lost"], log)
    lost, survivor = local_cluster.node("b"), local_cluster.node("a")
    ledger = run_dir / "ledger"

    def trial_running_on_lost_node():
        """A trial on b with a checkpoint (epoch >= 1) and epochs to go, once some trial has finished."""
        if not list(ledger.glob("*.json")):
            return None
        for folder in (run_dir / "checkpoints").glob("*-s0"):
            rows = _checkpoint_history(run_dir, folder.name)
            if rows and rows[-1]["node_id"] == lost and 1 <= rows[-1]["epoch"] <= epochs_per_trial - 2:
                return folder.name, rows[-1]["epoch"]
        return None

    try:
        key, epoch_seen = _wait_for(trial_running_on_lost_node, STUDY_TIMEOUT,
                                    "a trial in progress on worker b", driver, log)
        removed_at = local_cluster.remove("b")
        finished = {p.name: (p.stat().st_mtime_ns, p.read_text()) for p in ledger.glob("*.json")}
        assert _finish(driver, log) == 0, _tail(log)
    finally:
        _kill_group(driver)

    assert f"{key}.json" not in finished, "the trial finished before its node was removed: no recovery tested"
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    epochs = pd.read_csv(run_dir / "results" / "epochs.csv")
    assert len(trials) == 4 and (trials.status == "completed").all()
    assert (trials.epochs_done == epochs_per_trial).all()

    # The lost trial: epochs 1..k ran on b, then it restarted on a from its epoch-k checkpoint (not from
    # scratch), in a second worker process. Its history keeps each epoch's node and process.
    rows = epochs[(epochs.config + "-s" + epochs.seed.astype(str)) == key].sort_values("epoch").to_dict("records")
    on_lost = [r["epoch"] for r in rows if r["node_id"] == lost]
    on_survivor = [r["epoch"] for r in rows if r["node_id"] == survivor]
    assert on_lost and on_lost == list(range(1, len(on_lost) + 1)) and max(on_lost) >= epoch_seen
    assert on_survivor == list(range(max(on_lost) + 1, epochs_per_trial + 1)), (on_lost, on_survivor)
    assert len({r["pid"] for r in rows}) == 2
    assert trials.set_index("config").loc[key.rsplit("-s", 1)[0], "node_id"] == survivor

    # Nothing finished was lost or re-run: the records are untouched, and the tables report them as recorded
    # (a trial that finished on b before b was lost still says b).
    assert finished
    for name, (mtime, text) in finished.items():
        path = ledger / name
        assert (path.stat().st_mtime_ns, path.read_text()) == (mtime, text), f"{name} was re-run"
        record = json.loads(text)["history"]
        row = trials[(trials.config + "-s" + trials.seed.astype(str)) == name[: -len(".json")]].iloc[0]
        assert row.final_val_acc == record[-1]["val_acc"] and row.node_id == record[-1]["node_id"]
    # After the removal, only the survivor ran epochs.
    assert set(epochs[epochs.ended_at > removed_at + 1].node_id) <= {survivor}
    placement = {name: trials[trials.node_id == node].config.tolist() for name, node in (("a", survivor), ("b", lost))}
    print(f"lost trial {key}: epochs {on_lost} on b, {on_survivor} on a; trials finished per node: {placement}")


@pytest.mark.slow
def test_gpu_study_waits_for_gpu_workers_the_autoscaler_starts(local_cluster, tmp_path):
    """On a `ray up` cluster (cluster.yaml: CPU-less head, GPU workers min 0), no GPU exists when the study starts:
    it must wait for the autoscaler, not refuse. The autoscaler is emulated. The launcher config that `ray up`
    leaves on the head (~/ray_bootstrap_config.yaml, here in a temporary HOME) lists the GPU worker type, and
    the test adds a node with a (fake) GPU once the study's trials are waiting."""
    from ray.autoscaler._private.util import prepare_config

    home = tmp_path / "home"
    home.mkdir()
    (home / "ray_bootstrap_config.yaml").write_text(yaml.safe_dump(prepare_config(_load(REPO / "cluster.yaml"))))
    run_dir = tmp_path / "shared" / "gpu"
    log = tmp_path / "driver.log"
    driver = local_cluster.start_study(["--profile", "smoke", "--factors", "shortcut", "--seeds", "1", "--epochs", "1",
                                        "--gpus-per-trial", "0.5", "--wandb", "disabled", "--no-report",
                                        "--storage", str(tmp_path / "shared"), "--name", "gpu"], log,
                                       env={"HOME": str(home)})
    try:
        _wait_for(lambda: (run_dir / "tuner.pkl").exists(), STUDY_TIMEOUT, "the study's Tuner", driver, log)
        time.sleep(2)
        assert not list(run_dir.glob("checkpoints/*")), "a GPU trial ran without a GPU node"
        gpu_node = local_cluster.add_gpu_worker()
        assert _finish(driver, log) == 0, _tail(log)
    finally:
        _kill_group(driver)
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    assert len(trials) == 2 and (trials.status == "completed").all() and (trials.node_id == gpu_node).all()
