"""A study on a real local S3-compatible server (moto's server mode, started here and stopped after), as a MinIO
user writes the storage: credentials (a secret key holding "/") and `?endpoint_override=...&scheme=http` in the URI.

The driver is a real subprocess joining the session's Ray: every trial must write its ledger record to the bucket,
the report must land under the study (the query string kept at the end of every path), and the credentials must
appear in no line printed, no object in the bucket and no file of Ray's session (its logs hold every job's runtime
environment).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.fs as pafs
import pytest

REPO = Path(__file__).resolve().parents[1]
KEY, SECRET = "AKIAMOTOEXAMPLE", "wJalr/XUtnFEMI+K7MDENG/bPxRfiCY"


@pytest.fixture
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    fs = pafs.S3FileSystem(access_key=KEY, secret_key=SECRET, endpoint_override=f"{host}:{port}", scheme="http",
                           region="us-east-1", allow_bucket_creation=True,
                           allow_delayed_open=True)
    fs.create_dir("studies")
    yield fs, f"{host}:{port}"
    server.stop()


def _objects(fs: pafs.S3FileSystem, root: str) -> dict[str, bytes]:
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    return {i.path: fs.open_input_stream(i.path).read() for i in infos if i.type == pafs.FileType.File}


def _session_files() -> list[Path]:
    import ray

    session = Path(ray._private.worker._global_node.get_session_dir_path())
    return [p for p in session.rglob("*") if p.is_file() and not p.is_symlink()]


def test_a_study_on_s3_with_an_endpoint_override_finishes_and_leaks_no_credential(ray_session, s3_server, tmp_path):
    fs, endpoint = s3_server
    # allow_delayed_open: a small object is one PutObject; Arrow 26 rejects moto 5.2's answer to the multipart
    # upload it otherwise uses (MinIO and AWS need no such option).
    storage = (f"s3://{KEY}:{SECRET}@studies/runs?endpoint_override={endpoint}&scheme=http&region=us-east-1"
               "&allow_delayed_open=true")
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled"),
           "ABLATION_CACHE": str(tmp_path / "cache")}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "ablation/run.py", "--profile", "smoke", "--factors", "shortcut",
                           "--epochs", "1", "--name", "s3study", "--storage", storage, "--address", ray_session,
                           "--wandb", "disabled"], cwd=REPO, env=env, capture_output=True, text=True, timeout=500)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed[-3000:]
    objects = _objects(fs, "studies/runs/s3study")
    ledger = sorted(p.rsplit("/", 1)[1] for p in objects if "/ledger/" in p)
    assert ledger == ["shortcut=0-s0.json", "shortcut=0-s1.json", "shortcut=1-s0.json", "shortcut=1-s1.json"]
    assert "studies/runs/s3study/report/report.html" in objects and "studies/runs/s3study/spec.yaml" in objects
    assert "report: s3://studies/runs/s3study/report/report.html?endpoint_override=" in printed
    for secret in (SECRET, SECRET.split("/")[0], KEY):
        assert secret not in printed
        assert not [p for p, body in objects.items() if secret.encode() in body]
        assert not [p for p in _session_files() if secret.encode() in p.read_bytes()]
