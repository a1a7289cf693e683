"""What identifies a study's W&B runs: their ids, their tags, and the settings that keep secrets out of them.

A study is one or more `Tuner.fit()` calls (a resumed or grown study runs its unfinished trials in a new fit,
with new Tune trial ids), and its report may be rebuilt any number of times. So a W&B run id is derived from what
stays the same: the study's name and, for a trial, its key `<config_id>-s<seed>`. With `resume="allow"` a trial
restarted in a later fit continues its run and a rebuilt report updates the same summary run. The study's name is
therefore its identity in the W&B project: reuse a name only to continue the same study.

Imports nothing heavy (no wandb, torch or ray): the driver's callbacks and the analysis both use it.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any

SUMMARY_KEY = "summary"  # the summary run's part of its id; never a trial key, which ends in -s<seed>
MAX_TAG = 64  # W&B refuses longer tags


def run_id(study: str, part: str) -> str:
    """A valid W&B run id (16 hex digits) for one run of a study: `part` is a trial key or SUMMARY_KEY."""
    return hashlib.sha256(f"{study}\0{part}".encode()).hexdigest()[:16]


def trial_run_id(study: str, config_id: str, seed: int) -> str:
    return run_id(study, f"{config_id}-s{seed}")


def summary_run_id(study: str) -> str:
    return run_id(study, SUMMARY_KEY)


def study_tags(study: str, profile: str | None) -> list[str]:
    """`study:<name>` and `profile:<profile>`, so W&B's run filter selects one study out of a shared project."""
    tags = [f"study:{study}"] + ([f"profile:{profile}"] if profile else [])
    return [tag[:MAX_TAG] for tag in tags]


def artifact_name(study: str, kind: str) -> str:
    """`<study>-<kind>` in the characters W&B allows in an artifact name (a study name may hold = and +)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{study}-{kind}")


def private_settings() -> Any:
    """wandb.Settings that record no command line, environment or git remote: W&B copies sys.argv into every
    run's metadata, and a study's --storage URI may carry credentials (runstore moves them into the environment,
    but the command line still holds them); a git remote URL may hold a token."""
    import wandb

    return wandb.Settings(x_disable_meta=True, disable_git=True, disable_code=True, save_code=False)
