"""Read W&B offline run files (`run-<id>.wandb`) back: the run's identity, history, summary, tables and
artifact manifests.

The file is W&B's record log: a 7-byte header, then 32 KiB blocks of records, each a 7-byte header (crc32,
length, type: 1 full, 2 first, 3 middle, 4 last) and a protobuf `Record`; the reader is test-only.
"""
from __future__ import annotations

import json
import struct
import time
from pathlib import Path

from google.protobuf.message import DecodeError
from wandb.proto import wandb_internal_pb2

BLOCK = 32 * 1024
HEADER = 7


def _records(path: Path):
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B record log"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < HEADER:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        pos += HEADER
        if kind == 0 and length == 0:  # zero padding to the end of the block
            pos += left - HEADER
            continue
        pending += data[pos : pos + length]
        pos += length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def _finished_log(folder: Path, timeout: float) -> list:
    """The run's records once they end with its exit record: `run.finish()` returns before W&B's service has
    written everything of an offline run."""
    deadline = time.monotonic() + timeout
    while True:
        (log,) = folder.glob("*.wandb")
        try:
            records = list(_records(log))
        except (AssertionError, DecodeError):  # not even the header yet, or a record still being written
            records = []
        if (records and records[-1].WhichOneof("record_type") == "exit") or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def read_run(folder: Path, timeout: float = 30.0) -> dict:
    """{'id', 'name', 'group', 'job_type', 'tags', 'config', 'history': [ {metric: value} per logged step ],
    'summary': {key: value} (a nested key such as a table's reference as a nested dict), 'artifacts': [ {'type',
    'name', 'files': [path in the artifact]} ], 'folder'}."""
    run, history, summary, artifacts = {}, [], {}, []
    for record in _finished_log(folder, timeout):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = {"id": record.run.run_id, "name": record.run.display_name, "group": record.run.run_group,
                   "job_type": record.run.job_type, "tags": list(record.run.tags),
                   "config": {item.key: json.loads(item.value_json) for item in record.run.config.update}}
        elif kind == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in record.history.item})
        elif kind == "summary":
            for item in record.summary.update:
                *parents, leaf = list(item.nested_key) or [item.key]
                target = summary
                for parent in parents:
                    target = target.setdefault(parent, {})
                target[leaf] = json.loads(item.value_json)
        elif kind == "artifact":
            artifacts.append({"type": record.artifact.type, "name": record.artifact.name,
                              "files": [entry.path for entry in record.artifact.manifest.contents]})
    return {**run, "history": history, "summary": summary, "artifacts": artifacts, "folder": folder}


def read_result_table(run: dict, key: str) -> dict:
    """A wandb.Table the run logged under `key`: {'columns': [...], 'data': [[...] per row]}."""
    return json.loads((run["folder"] / "files" / run["summary"][key]["path"]).read_text())
