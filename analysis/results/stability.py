"""Within-run stability: how jumpy a trial's validation curve is late in training.

val_jumpiness of a trial = the mean of |val_acc(e) - val_acc(e - 1)| over the epochs e of the second half of
its training: with E the last epoch reported, the changes into epochs e = floor(E / 2) + 1 ... E (each change
needs the epoch before it, which may lie in the first half). E = 8 averages the changes into epochs 5-8 (4
changes); E = 3 the changes into 2 and 3. Units: the accuracy's (fractions; 0.01 is 1 pp per epoch). A trial
with fewer than 2 epochs, or with a gap in its epochs, has NaN: a change across a missing epoch is not an
epoch-to-epoch change.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MIN_EPOCHS = 2


def _jumpiness(curve: pd.DataFrame, column: str) -> float:
    curve = curve.sort_values("epoch")
    epochs = curve["epoch"].to_numpy(dtype=float)
    values = curve[column].to_numpy(dtype=float)
    last = len(epochs)
    if last < MIN_EPOCHS or not np.array_equal(epochs, np.arange(1, last + 1)) or np.isnan(values).any():
        return np.nan
    changes = np.abs(np.diff(values))  # changes[i]: into epoch i + 2
    return float(changes[last // 2 - 1:].mean())


def val_jumpiness(epochs: pd.DataFrame, column: str = "val_acc") -> pd.Series:
    """Per trial_id (the index, sorted), the mean absolute epoch-to-epoch change of `column` over the second
    half of training (module docstring); NaN where it is not defined."""
    return pd.Series({trial: _jumpiness(curve, column) for trial, curve in epochs.groupby("trial_id", sort=True)},
                     name="val_jumpiness", dtype=float)
