"""Polling for tests that drive a study in another process: wait until a condition holds, or fail saying why."""
from __future__ import annotations

import subprocess
import time
from typing import Callable


def wait_for(condition: Callable, timeout: float, what: str, process: subprocess.Popen | None = None,
             details: Callable[[], str] = lambda: ""):
    """The first truthy value of `condition()`; AssertionError if `process` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}) before {what}{details()}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{details()}")
