"""The command line where the machine, not the flags, goes wrong: a full disk, a reader that went away (`| head`),
W&B online without a key; and storage URIs a user writes: a relative file:// URI, a secret key holding "/"."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runstore
from ablation.run import main

REPO = Path(__file__).resolve().parents[1]


def _cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err.splitlines()


@pytest.fixture
def small_disk(tmp_path):
    """A real 64 KiB tmpfs (needs root to mount; skipped where it cannot be mounted), unmounted after."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def _fill(disk: Path, leave: int) -> None:
    """Fill the disk until at most `leave` bytes are free (tmpfs counts whole 4 KiB pages)."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "filler").write_bytes(b"x" * max(0, free - leave))


def test_a_write_to_a_full_disk_is_one_line_and_keeps_the_old_file(small_disk):
    target = small_disk / "results" / "trials.csv"
    runstore.write_atomic(target, "a,b\n1,2\n")
    _fill(small_disk, 0)
    with pytest.raises(runstore.StorageError) as err:
        runstore.write_atomic(target, "a,b\n" + "3,4\n" * 5000)
    assert str(err.value) == (f"cannot write {target}: No space left on device (the disk or quota is full); the file "
                              "is unchanged: free some space, then run the same command again (with --resume for a "
                              "study)")
    assert target.read_text() == "a,b\n1,2\n" and [p.name for p in target.parent.iterdir()] == ["trials.csv"]


def test_a_study_whose_disk_fills_before_its_spec_is_written_ends_in_one_line(small_disk, ray_session, capsys,
                                                                               tmp_path, monkeypatch):
    """Room for the storage probe and the lock, none for spec.yaml: exit 2, one line, and nothing left."""
    monkeypatch.setenv("ABLATION_CACHE", str(tmp_path / "cache"))  # the decoded data goes elsewhere
    _fill(small_disk, 4096)
    code, lines = _cli(["--profile", "smoke", "--wandb", "disabled", "--storage", str(small_disk), "--name", "full"],
                       capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: cannot write {small_disk / 'full' / 'spec.yaml'}: No space left on device")
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """`python ablation/run.py ... | head -0`: the reader is gone when the study prints its first line (flushed,
    before Ray starts): no traceback, the exit status of a writer whose reader left, and no study folder left."""
    reader, writer = os.pipe()
    os.close(reader)
    done = subprocess.run([sys.executable, "ablation/run.py", "--profile", "smoke", "--wandb", "disabled",
                           "--storage", str(tmp_path / "runs"), "--name", "piped"], cwd=REPO, stdout=writer,
                          stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), "ABLATION_CACHE": str(tmp_path / "cache")})
    os.close(writer)
    assert done.returncode == 141 and done.stderr == "", done.stderr
    assert not (tmp_path / "runs" / "piped").exists()


def test_wandb_online_without_an_api_key_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    code, lines = _cli(["--profile", "smoke", "--wandb", "online", "--storage", str(tmp_path / "runs"), "--name",
                        "w"], capsys)
    assert code == 2 and lines == ["error: --wandb online needs a W&B API key (WANDB_API_KEY, or `wandb login`); or "
                                   "use --wandb offline and `wandb sync` the run folder later"]
    assert not (tmp_path / "runs" / "w").exists()


def test_a_relative_file_uri_is_a_folder_under_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runstore.normalise("file://myruns") == str(tmp_path / "myruns")
    assert runstore.normalise("file://myruns/deeper") == str(tmp_path / "myruns" / "deeper")
    assert runstore.normalise(f"file://{tmp_path}/abs") == str(tmp_path / "abs")
    assert runstore.normalise("file://localhost/tmp/x") == "/tmp/x"


def test_a_secret_key_holding_a_slash_is_taken_out_whole_and_never_shown():
    uri = "s3://AKIAEXAMPLE:wJalr/XUtn+FEMI/K7MD@bucket/runs?endpoint_override=127.0.0.1:9000&scheme=http"
    clean, env = runstore.split_credentials(uri)
    assert clean == "s3://bucket/runs?endpoint_override=127.0.0.1%3A9000&scheme=http"
    assert env == {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalr/XUtn+FEMI/K7MD"}
    shown = runstore.redact(f"cannot reach {uri}")
    assert shown == "cannot reach s3://***@bucket/runs?endpoint_override=127.0.0.1:9000&scheme=http"
    assert runstore.redact("s3://bucket/a@b/c") == "s3://bucket/a@b/c"  # an "@" in a path is not a secret
