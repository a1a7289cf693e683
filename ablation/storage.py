"""Where a study lives: a local folder or a URI every node of a cluster can reach (s3://, gs://, file://).

Ray Tune writes its experiment state there; we write spec.yaml, the result tables and the report next to it,
always atomically (a temporary name, then a rename), so a reader never sees half a file.
"""
from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pyarrow.fs as pafs

from trainables.ledger import filesystem, write_atomically


class StorageError(ValueError):
    """The storage location cannot be used (a user error)."""


def normalise(location: str) -> str:
    """An absolute local path for local storage (file:// included), else the URI unchanged."""
    if "://" not in location:
        return str(Path(location).expanduser().resolve())
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return str(Path(parsed.path).resolve())
    return location


def is_local(location: str) -> bool:
    return "://" not in location


def join(location: str, *parts: str) -> str:
    return "/".join([location.rstrip("/"), *parts])


def _fs(location: str) -> tuple[pafs.FileSystem, str]:
    try:
        return filesystem(location)
    except (OSError, ValueError) as err:  # unknown scheme, no credentials, ...
        raise StorageError(f"cannot use storage {location!r}: {err}") from None


def check_writable(location: str) -> None:
    """Create the folder and write/remove a probe file, or raise StorageError saying why."""
    fs, path = _fs(location)
    probe = f"{path}/.write-probe-{uuid.uuid4().hex}"
    try:
        fs.create_dir(path, recursive=True)
        with fs.open_output_stream(probe) as stream:
            stream.write(b"ok")
        fs.delete_file(probe)
    except (OSError, ValueError) as err:
        raise StorageError(f"storage {location!r} is not writable ({err}); choose another --storage") from None


def exists(location: str) -> bool:
    fs, path = _fs(location)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def write_text(location: str, text: str) -> None:
    """Write a whole file atomically (temporary name in the same folder, then rename)."""
    _fs(location)  # a clear StorageError for an unusable location
    write_atomically(location, text.encode())


def read_text(location: str) -> str:
    fs, path = _fs(location)
    with fs.open_input_stream(path) as stream:
        return stream.read().decode()


def local_mirror(location: str) -> tuple[Path, bool]:
    """A local folder for `location`: itself when local, else a fresh temporary folder (to upload later)."""
    if is_local(location):
        return Path(location), False
    return Path(tempfile.mkdtemp(prefix="ablation-")), True


def upload_folder(local: Path, location: str) -> None:
    """Copy a local folder's files to a remote location (used for the report of a study on a URI)."""
    fs, path = _fs(location)
    for file in sorted(p for p in local.rglob("*") if p.is_file()):
        relative = file.relative_to(local).as_posix()
        fs.create_dir(f"{path}/{relative}".rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(f"{path}/{relative}") as stream:
            stream.write(file.read_bytes())
    shutil.rmtree(local, ignore_errors=True)
