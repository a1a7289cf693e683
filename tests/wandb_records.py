"""Read W&B offline run files (`run-<id>.wandb`) back: the run's identity and its logged history.

The file is W&B's record log: a 7-byte header, then 32 KiB blocks of records, each a 7-byte header (crc32,
length, type: 1 full, 2 first, 3 middle, 4 last) and a protobuf `Record`; the reader is test-only.
"""
from __future__ import annotations

import json
import struct
from pathlib import Path

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


def read_run(folder: Path) -> dict:
    """{'id', 'name', 'group', 'job_type', 'config', 'history': [ {metric: value} per logged step ]}."""
    (log,) = folder.glob("*.wandb")
    run, history = {}, []
    for record in _records(log):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = {"id": record.run.run_id, "name": record.run.display_name, "group": record.run.run_group,
                   "job_type": record.run.job_type,
                   "config": {item.key: json.loads(item.value_json) for item in record.run.config.update}}
        elif kind == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in record.history.item})
    return {**run, "history": history}
