"""Whole-file reads and writes at a local path or URI. Every write is atomic and, locally, durable.

A writer never leaves half a file under the final name: it writes a temporary file in the same folder, flushes it
to the disk (fsync), renames it over the final name, then syncs the folder so the rename itself survives a power
cut. On object stores (s3://, gs://) an upload only becomes visible when it completes, which gives the same
guarantee.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
import uuid
from pathlib import Path
from typing import BinaryIO, Iterator

import pyarrow.fs as pafs

from runstore.locations import filesystem, is_local, join, redact


class StorageError(ValueError):
    """A storage location that cannot be used (a user error); the message is one line, credentials redacted."""


def _fs(location: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    try:
        return filesystem(location)
    except (OSError, ValueError) as err:  # unknown scheme, malformed URI, no credentials ...
        raise StorageError(f"cannot use storage {redact(str(location))!r}: {_one_line(err)}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems cannot sync a directory; the file itself is synced
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_atomic(location: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary stream whose content replaces `location` as a whole when the block ends without an error."""
    location = str(location)
    if is_local(location):
        path = Path(location)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        except OSError as err:
            raise _write_error(path, err) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the mode an ordinary file gets
            os.replace(tmp, path)
        except OSError as err:
            Path(tmp).unlink(missing_ok=True)
            raise _write_error(path, err) from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _sync_folder(str(path.parent))
        return
    fs, path = _fs(location)
    folder = path.rsplit("/", 1)[0]
    fs.create_dir(folder, recursive=True)
    tmp = f"{folder}/.{uuid.uuid4().hex}.tmp"
    try:
        with fs.open_output_stream(tmp) as stream:
            yield stream
        fs.move(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.delete_file(tmp)
        raise


FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _write_error(path: Path, err: OSError) -> "StorageError":
    """A failed local write as one line; a full disk (or quota) says what to do, the old file is kept whole."""
    if err.errno in FULL:
        return StorageError(f"cannot write {path}: {err.strerror} (the disk or quota is full); the file is "
                            "unchanged: free some space, then run the same command again (with --resume for a study)")
    return StorageError(f"cannot write {path}: {err.strerror or _one_line(err)}")


def write_atomic(location: str | os.PathLike, data: bytes | str) -> None:
    """Write a whole file atomically; str is written as UTF-8."""
    with open_atomic(location) as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def _reporting(location: str | os.PathLike, what: str) -> Iterator[None]:
    """An OSError of the filesystem (no network, no permission) as a one-line StorageError."""
    try:
        yield
    except OSError as err:
        raise StorageError(f"cannot {what} {redact(str(location))!r}: {redact(_one_line(err))}") from None


def read_bytes(location: str | os.PathLike) -> bytes:
    fs, path = _fs(location)
    with _reporting(location, "read"), fs.open_input_stream(path) as stream:
        return stream.read()


def read_text(location: str | os.PathLike) -> str:
    return read_bytes(location).decode("utf-8")


def _kind(location: str | os.PathLike) -> pafs.FileType:
    fs, path = _fs(location)
    with _reporting(location, "reach"):
        return fs.get_file_info(path).type


def exists(location: str | os.PathLike) -> bool:
    return _kind(location) != pafs.FileType.NotFound


def is_file(location: str | os.PathLike) -> bool:
    return _kind(location) == pafs.FileType.File


def list_names(location: str | os.PathLike) -> list[str]:
    """The names directly inside a folder (files and folders), sorted; [] when it does not exist."""
    if _kind(location) != pafs.FileType.Directory:
        return []
    fs, path = _fs(location)
    with _reporting(location, "list"):
        return sorted(info.base_name for info in fs.get_file_info(pafs.FileSelector(path)))


def remove(location: str | os.PathLike) -> None:
    """Delete a file; nothing when it does not exist."""
    fs, path = _fs(location)
    if fs.get_file_info(path).type == pafs.FileType.File:
        fs.delete_file(path)


def remove_tree(location: str | os.PathLike) -> None:
    """Delete a folder and everything in it; nothing when it does not exist."""
    fs, path = _fs(location)
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        fs.delete_dir(path)


def move(source: str | os.PathLike, target: str | os.PathLike) -> None:
    fs, source_path = _fs(source)
    _, target_path = _fs(target)
    fs.create_dir(target_path.rsplit("/", 1)[0], recursive=True)
    fs.move(source_path, target_path)


WRITABLE_TIMEOUT_S = 30.0  # an object store that cannot be reached would otherwise keep pyarrow retrying for minutes


def check_writable(location: str | os.PathLike, timeout: float = WRITABLE_TIMEOUT_S) -> None:
    """Create the folder and write and remove a probe file, or raise StorageError saying why (within `timeout`)."""
    outcome: dict[str, BaseException | None] = {}

    def probe() -> None:
        try:
            fs, path = _fs(location)
            probe_file = f"{path}/.write-probe-{uuid.uuid4().hex}"
            fs.create_dir(path, recursive=True)
            with fs.open_output_stream(probe_file) as stream:
                stream.write(b"ok")
            fs.delete_file(probe_file)
            outcome["error"] = None
        except BaseException as err:  # reported to the caller below
            outcome["error"] = err

    worker = threading.Thread(target=probe, daemon=True)  # a hung connection must not keep the process alive
    worker.start()
    worker.join(timeout)
    shown = redact(str(location))
    if "error" not in outcome:
        raise StorageError(f"storage {shown!r} did not answer within {timeout:g} s (no network, or an endpoint "
                           "that does not respond?); check the URI and the connection, or choose another --storage")
    error = outcome["error"]
    if isinstance(error, StorageError):
        raise error
    if error is not None:
        raise StorageError(f"storage {shown!r} is not writable ({redact(_one_line(error))}); choose another "
                           "--storage") from None


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def upload_folder(local: Path, location: str) -> None:
    """Copy a local folder's files to a location (the report of a study kept on a URI), each atomically."""
    for file in sorted(p for p in Path(local).rglob("*") if p.is_file()):
        write_atomic(join(location, *file.relative_to(local).parts), file.read_bytes())
