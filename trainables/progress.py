"""Progress of a long step: a tqdm bar on a terminal, a few plain lines where the output is a file (a log, CI).

A bar redrawn in place is what a person at a terminal wants and noise in a log file, where carriage returns pile
up on one line; there the step prints PLAIN_LINES lines, at equal fractions of the work, each with its count
and seconds.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

PLAIN_LINES = 4  # at 25, 50, 75 and 100 %


@contextmanager
def progress(total: int, what: str, unit: str = "it", stream: TextIO | None = None) -> Iterator[Callable[..., None]]:
    """Yields `step(n=1)`, to call as items finish (from any thread); nothing is shown for an empty step."""
    stream = stream if stream is not None else sys.stdout
    if total <= 0:
        yield lambda n=1: None
        return
    if stream.isatty():
        with tqdm(total=total, desc=what, unit=unit, file=stream, dynamic_ncols=True) as bar:
            yield bar.update
        return
    lock = threading.Lock()
    began = time.perf_counter()
    state = {"done": 0, "next": 1}

    def step(n: int = 1) -> None:
        with lock:  # decoding threads call this concurrently
            state["done"] += n
            while state["next"] <= PLAIN_LINES and state["done"] * PLAIN_LINES >= state["next"] * total:
                print(f"{what}: {state['done']}/{total} {unit} ({100 * state['done'] // total}%), "
                      f"{time.perf_counter() - began:.1f} s", file=stream, flush=True)
                state["next"] += 1

    yield step
