"""runstore: atomic durable writes, credentials kept out of what is written, the run-folder lock, time limits."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

import runstore
from runstore.lock import LOCK_FILE


def test_write_atomic_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "deep" / "table.csv"
    runstore.write_atomic(target, "a,b\n1,2\n")
    runstore.write_atomic(target, b"a,b\n3,4\n")
    assert target.read_text() == "a,b\n3,4\n" and [p.name for p in target.parent.iterdir()] == ["table.csv"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # an ordinary file's mode


def test_a_failed_write_keeps_the_old_content(tmp_path):
    target = tmp_path / "spec.yaml"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with runstore.open_atomic(target) as stream:
            stream.write(b"half of the new")
            raise RuntimeError("power cut")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]


def test_a_killed_writer_never_leaves_half_a_file(tmp_path):
    """A writer SIGKILLed in the middle leaves the previous file whole (the new bytes only ever sat in a
    temporary)."""
    target = tmp_path / "record.json"
    runstore.write_atomic(target, json.dumps({"v": 1}))
    code = ("import runstore, time\n"
            f"with runstore.open_atomic({str(target)!r}) as s:\n"
            "    s.write(b'{\"v\": 2, \"truncat'); s.flush(); print('writing', flush=True); time.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.kill()
    writer.wait()
    assert json.loads(target.read_text()) == {"v": 1}


@pytest.mark.parametrize("text, shown", [
    ("s3://AKIAEXAMPLE:s3cr3t@bucket/runs", "s3://***@bucket/runs"),
    ("error at gs://bucket/x?access_token=tok123&region=eu", "error at gs://bucket/x?access_token=***&region=eu"),
    ("s3://b/p?secret_key=abc&access_key=def", "s3://b/p?secret_key=***&access_key=***"),
    ("/plain/local/path", "/plain/local/path"),
])
def test_redact_hides_user_info_and_secret_parameters(text, shown):
    assert runstore.redact(text) == shown


def test_split_credentials_moves_s3_secrets_to_the_environment():
    clean, env = runstore.split_credentials("s3://AKIAEXAMPLE:s3cr3t@bucket/runs?region=eu-west-1&session_token=t0k")
    assert clean == "s3://bucket/runs?region=eu-west-1"
    assert env == {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t", "AWS_SESSION_TOKEN": "t0k"}
    assert runstore.split_credentials("/local/runs") == ("/local/runs", {})
    with pytest.raises(ValueError, match=r"give them through the environment") as err:
        runstore.split_credentials("gs://bucket/runs?access_token=tok123")
    assert "tok123" not in str(err.value)


def test_the_lock_admits_one_driver_and_replaces_a_stale_one(tmp_path):
    run_dir = str(tmp_path / "study")
    first = runstore.RunLock(run_dir).acquire()
    record = json.loads((tmp_path / "study" / LOCK_FILE).read_text())
    assert record["pid"] == os.getpid() and record["host"] == socket.gethostname()
    with pytest.raises(runstore.LockError, match=rf"in use by another driver \(pid {os.getpid()} on this host"):
        runstore.RunLock(run_dir).acquire()
    first.release()
    assert not (tmp_path / "study" / LOCK_FILE).exists()

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "study" / LOCK_FILE).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(),
                                                            "since": "earlier", "token": "x"}))
    again = runstore.RunLock(run_dir).acquire()
    assert again.held and again.replaced["pid"] == int(dead.stdout)
    again.release()

    (tmp_path / "study" / LOCK_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": "noon"}))
    with pytest.raises(runstore.LockError, match=r"locked by pid 1 on host 'elsewhere' since noon; if no driver "
                                                 r"uses this study any more, delete .*\.lock"):
        runstore.RunLock(run_dir).acquire()


def test_a_storage_endpoint_that_never_answers_is_refused_within_the_time_limit():
    """An S3 endpoint that accepts connections and never replies (as a dead network path does) would keep
    pyarrow retrying for minutes; the probe gives up after its time limit, with the credentials redacted."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # connections complete in the backlog; nothing is ever read or answered
    port = server.getsockname()[1]
    began = time.monotonic()
    try:
        with pytest.raises(runstore.StorageError) as err:
            runstore.check_writable(f"s3://KEYID:SECRETVALUE@bucket/runs?endpoint_override=127.0.0.1:{port}"
                                    "&scheme=http", timeout=2)
    finally:
        server.close()
    assert time.monotonic() - began < 10
    message = str(err.value)
    assert "did not answer within 2 s" in message
    assert "SECRETVALUE" not in message and "KEYID" not in message and "\n" not in message


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_lock_whose_pid_was_reused_is_stale_and_an_empty_one_is_explained(tmp_path):
    """A lock names its driver by pid AND the pid's start time: a live process of that pid started later (the pid
    was reused) does not hold the study. An empty lock file says what it is, not 'pid None on host None'."""
    run_dir = tmp_path / "study"
    run_dir.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run_dir / LOCK_FILE).write_text(json.dumps({"pid": other.pid, "pid_started": "1", "host": socket.gethostname(),
                                                     "since": "earlier", "token": "x"}))
        lock = runstore.RunLock(str(run_dir)).acquire()
        assert lock.held and lock.replaced["pid"] == other.pid
        assert json.loads((run_dir / LOCK_FILE).read_text())["pid"] == os.getpid()
        lock.release()
    finally:
        other.kill()
        other.wait()
    (run_dir / LOCK_FILE).write_text("")
    with pytest.raises(runstore.LockError) as err:
        runstore.RunLock(str(run_dir)).acquire()
    assert "empty or unreadable lock file" in str(err.value) and "None" not in str(err.value)
    assert (run_dir / LOCK_FILE).read_text() == ""  # never removed on a guess
