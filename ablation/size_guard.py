"""A guard against studies far larger than the machine can run (a typo such as --seeds 100000).

A trial's time grows with its epochs, so the size of a study is measured in trial-epochs per concurrent slot:
trials x epochs / slots. Above MAX_EPOCHS_PER_SLOT the study needs --large-study: at even one second per epoch
(the smoke profile's tiny nets on the digits) that is more than five hours of training per slot.
"""
from __future__ import annotations

import math
import os

MAX_EPOCHS_PER_SLOT = 20_000


def local_slots(cpus_per_trial: float, gpus_per_trial: float) -> int:
    """The trials this machine runs at once (the cluster is not known before Ray starts): its CPUs over a
    trial's, at least 1. GPUs are not counted, so a GPU study is never judged smaller than it is."""
    return max(1, math.floor((os.cpu_count() or 1) / cpus_per_trial)) if cpus_per_trial > 0 else 1


def check_study_size(trials: int, epochs: int, slots: int, allowed: bool) -> None:
    """ValueError (one line) for a study above the limit, unless the user allowed it with --large-study."""
    per_slot = trials * epochs / max(1, slots)
    if per_slot <= MAX_EPOCHS_PER_SLOT or allowed:
        return
    raise ValueError(f"this study would train {trials:,} trials x {epochs} epochs over {slots} concurrent slot(s) "
                     f"= {per_slot:,.0f} trial-epochs per slot, above the limit of {MAX_EPOCHS_PER_SLOT:,}; check "
                     "--seeds, --factors and --max-seeds, or give --large-study to run it anyway")
