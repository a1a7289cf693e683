"""How much a study's console shows: by default what will run, one line per trial and the summary; with
--verbose also Ray Tune's status table and Ray's own INFO lines (otherwise they stay in Ray's log files,
/tmp/ray/session_latest/logs on the head node)."""
from __future__ import annotations

import logging

VERBOSE = False  # set once by the command line (ablation/run.py --verbose)


def set_verbose(verbose: bool) -> None:
    global VERBOSE
    VERBOSE = bool(verbose)


def ray_logging_level() -> int:
    """ray.init's level for the driver's console: Ray's INFO lines (a local instance started, a job's id) only
    with --verbose; warnings always."""
    return logging.INFO if VERBOSE else logging.WARNING


def tune_verbosity() -> int:
    """Ray Tune's verbose: 1 prints the status table every max_report_frequency seconds; 0 prints nothing of
    Tune's own (the callbacks' lines still come)."""
    return 1 if VERBOSE else 0
