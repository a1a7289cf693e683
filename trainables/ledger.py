"""A record of finished trials, written by the trial itself into the study's storage.

Ray Tune's experiment snapshot lags the trials (every >= 10 s), so after the driver dies Tune may believe a
finished trial was still running and run it again. The trial writes its whole history here before it returns;
a restarted trial that finds its record re-reports it instead of training, and the result tables are built
from these records. The location may be a local path or a URI pyarrow understands (file://, s3://, gs://),
so it works for every node of a cluster that shares the storage.
"""
from __future__ import annotations

import json
import os
import uuid

import pyarrow.fs as pafs


def filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of a local path or URI, and the path within it."""
    if "://" in location:
        return pafs.FileSystem.from_uri(location)
    return pafs.LocalFileSystem(), os.path.abspath(location)


def trial_key(config_id: str, seed: int) -> str:
    return f"{config_id}-s{seed}"


def write_atomically(location: str, data: bytes) -> None:
    """Write a whole file at a path or URI: a temporary name in the same folder, then a rename."""
    fs, path = filesystem(location)
    folder = path.rsplit("/", 1)[0]
    fs.create_dir(folder, recursive=True)
    tmp = f"{folder}/.{uuid.uuid4().hex}.tmp"
    with fs.open_output_stream(tmp) as stream:
        stream.write(data)
    fs.move(tmp, path)


def write_record(location: str, key: str, record: dict) -> None:
    """Store `record` (JSON-serialisable) as <location>/<key>.json."""
    write_atomically(f"{location.rstrip('/')}/{key}.json", json.dumps(record).encode())


def read_record(location: str, key: str) -> dict | None:
    fs, root = filesystem(location)
    path = f"{root}/{key}.json"
    if fs.get_file_info(path).type != pafs.FileType.File:
        return None
    with fs.open_input_stream(path) as stream:
        return json.loads(stream.read().decode())


def read_all(location: str) -> dict[str, dict]:
    """Every finished trial's record, by key; an absent ledger is empty."""
    fs, root = filesystem(location)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        return {}
    records = {}
    for info in fs.get_file_info(pafs.FileSelector(root)):
        if info.base_name.endswith(".json") and not info.base_name.startswith("."):
            with fs.open_input_stream(info.path) as stream:
                records[info.base_name[: -len(".json")]] = json.loads(stream.read().decode())
    return records
