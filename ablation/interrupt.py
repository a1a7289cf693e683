"""Ctrl-C (SIGINT) and SIGTERM stop a study cleanly: one line saying how to resume, Ray shut down, nothing lost.

Each signal raises StudyInterrupted in the driver's main thread, wherever it is (decoding data, inside Tune's
fit): the `finally` blocks on the way out shut down the Ray instance the driver started and release the lock,
and main prints one line. Finished trials lose nothing: each wrote its ledger record when it ended, and a trial
cut short continues from its last checkpoint on --resume. Ray Tune's own SIGINT handler (which stops the
experiment and prints a Tuner.restore hint this project never uses) is turned off; `ray.init` installs its own
SIGTERM handler (sys.exit), so `install` is called again once Ray has started.
"""
from __future__ import annotations

import os
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StudyInterrupted(KeyboardInterrupt):
    """Raised by the signal handler. A KeyboardInterrupt: no `except Exception` on the way out swallows it, and
    Ray's C++ core, inside which the signal often lands (ray.wait), turns only a KeyboardInterrupt back into an
    exception (any other becomes a SystemError); it then raises a plain KeyboardInterrupt, so the signal received
    is kept here."""


_received: list[int] = []


def _raise(signum, frame) -> None:
    for each in SIGNALS:  # a second Ctrl-C must not break the shutdown in progress
        signal.signal(each, signal.SIG_IGN)
    _received.append(signum)
    raise StudyInterrupted(signal.Signals(signum).name)


def received() -> int:
    """The signal that interrupted the study (SIGINT for a KeyboardInterrupt raised by Python itself)."""
    return _received[0] if _received else signal.SIGINT


def describe() -> str:
    return signal.Signals(received()).name


def install() -> None:
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    for each in SIGNALS:
        signal.signal(each, _raise)


def exit_code() -> int:
    return 128 + received()  # what a shell reports for a process ended by that signal
