"""Ctrl-C and SIGTERM of a real driver (a subprocess running ablation/run.py with its own Ray): one line saying
how to resume, no traceback, no Ray process left behind, and every trial that finished before the signal kept."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _descendants(pid: int) -> dict[int, str]:
    """pid -> command line of every live descendant of `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = {}, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found[child] = _command(child)
        todo += children.get(child, [])
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _running(pid: int, command: str) -> bool:
    """Alive, not a zombie, and still the same program (a pid may be reused)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and _command(pid) == command


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_study_with_one_line_and_leaves_no_ray_process(signum, tmp_path):
    storage = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(REPO), "ABLATION_CACHE": str(tmp_path / "cache")}
    driver = subprocess.Popen([sys.executable, "ablation/run.py", "--profile", "smoke", "--factors", "shortcut",
                               "--epochs", "4", "--cpus-per-trial", "1", "--name", "cut", "--storage",
                               str(storage), "--wandb", "disabled"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    ledger = storage / "cut" / "ledger"
    try:
        _wait_for(lambda: ledger.is_dir() and any(ledger.glob("*.json")) or driver.poll() is not None, 500,
                  "the first finished trial")
        assert driver.poll() is None, driver.communicate()
        finished = {p.name: json.loads(p.read_text()) for p in ledger.glob("*.json")}
        ray_processes = _descendants(driver.pid)
        assert any("raylet" in command for command in ray_processes.values())  # its own Ray, started by it
        driver.send_signal(signum)
        out, err = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
    lines = err.strip().splitlines()
    assert driver.returncode == 128 + signum, err[-3000:]
    assert lines[-1] == (f"interrupted ({signal.Signals(signum).name}): finished trials are kept; continue with: "
                         f"python ablation/run.py --name cut --resume --storage {storage}"), err[-3000:]
    assert "Traceback" not in err
    _wait_for(lambda: not any(_running(pid, command) for pid, command in ray_processes.items()), 30,
              "the driver's Ray processes to end")
    kept = {p.name: json.loads(p.read_text()) for p in ledger.glob("*.json")}
    assert finished and all(kept[name] == record for name, record in finished.items())
    assert not (storage / "cut" / ".lock").exists()
    assert len(kept) < 4  # stopped before the end: the study is interrupted, not finished
