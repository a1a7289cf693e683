"""The run folder's lock: one driver per study at a time.

`RunLock(run_dir).acquire()` creates `<run_dir>/.lock` holding the owner's pid, host name and start time, and
fails when another live driver holds it. Locally the file is created with O_CREAT | O_EXCL, which is atomic. A lock
left by a driver that died (same host, its pid no longer running) is stale: it is replaced, and the caller is told.
A lock from another host cannot be checked from here: it is reported with its owner and how to remove it.
On object stores (s3://, gs://) there is no atomic create: the lock is written, then read back to confirm that
this driver owns it, which catches all but a race within the same fraction of a second.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import time
import uuid
from datetime import datetime, timezone

from runstore.files import exists, is_file, read_text, remove, write_atomic
from runstore.locations import is_local, join, redact

LOCK_FILE = ".lock"


class LockError(RuntimeError):
    """The study is in use by another driver (a user error); the message is one line."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), or None where it cannot be read: with the
    pid it names one process, so a pid reused by another process since the lock was written is told apart."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class RunLock:
    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        self.path = join(run_dir, LOCK_FILE)
        self.token = uuid.uuid4().hex
        self.held = False
        self.replaced: dict | None = None  # the stale lock this one replaced, if any

    def _record(self) -> str:
        return json.dumps({"pid": os.getpid(), "pid_started": _start_time(os.getpid()),
                           "host": socket.gethostname(), "token": self.token,
                           "since": datetime.now(timezone.utc).isoformat(timespec="seconds")})

    def _read(self) -> dict:
        try:
            record = json.loads(read_text(self.path))
            return record if isinstance(record, dict) else {}
        except (OSError, ValueError):
            return {}

    def _create_local(self) -> bool:
        os.makedirs(self.run_dir, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as err:
            if err.errno == errno.EEXIST:
                return False
            raise
        with os.fdopen(fd, "w") as handle:
            handle.write(self._record())
            handle.flush()
            os.fsync(handle.fileno())
        return True

    def _create(self) -> bool:
        if is_local(self.run_dir):
            return self._create_local()
        if is_file(self.path):
            return False
        write_atomic(self.path, self._record())
        time.sleep(0.2)  # a competing writer's lock lands in this window; the read-back sees who won
        return self._read().get("token") == self.token

    def acquire(self) -> "RunLock":
        """Take the lock, replacing a stale one; LockError when a live driver (or another host) holds it."""
        if self._create():
            self.held = True
            return self
        owner = self._read()
        here = socket.gethostname()
        pid, host = owner.get("pid"), owner.get("host")
        where = redact(self.path)
        reused = owner.get("pid_started") is not None and isinstance(pid, int) and (
            _start_time(pid) not in (None, owner["pid_started"]))
        if isinstance(pid, int) and host == here and (not _alive(pid) or reused):
            remove(self.path)
            if self._create():
                self.held, self.replaced = True, owner
                return self
        if not owner:
            raise LockError(f"study folder {redact(self.run_dir)} has an empty or unreadable lock file {where} (a "
                            "driver is taking it right now, or one was killed while taking it); if no driver uses "
                            "this study, delete it")
        if isinstance(pid, int) and host == here:
            raise LockError(f"study folder {redact(self.run_dir)} is in use by another driver (pid {pid} on this "
                            f"host, since {owner.get('since', '?')}); wait for it to finish or stop it. If pid {pid} "
                            f"is not a driver of this study (a stale lock whose pid was reused), delete {where}")
        raise LockError(f"study folder {redact(self.run_dir)} is locked by pid {pid} on host {host!r} since "
                        f"{owner.get('since', '?')}; if no driver uses this study any more, delete {where}")

    def release(self) -> None:
        if self.held and exists(self.path) and self._read().get("token") == self.token:
            remove(self.path)
        self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
