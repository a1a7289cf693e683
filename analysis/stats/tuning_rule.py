"""What the tuning stage tunes and how it picks a configuration's winner: one rule for the study and its report.

The study (ablation/tune_first.py) applies `choose` to a configuration's tuning trials and trains the ablation
with the winner's `TUNED` values; the report (analysis/stats/tuning.py) reads the same trials back and must name
the same winner, so both import the rule from here. It lives in analysis/ because search_spaces/ may import
analysis/ but not the reverse. Plain Python, no pandas: search_spaces/tuning.py stays light.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from analysis.results.schema import COMPLETED, TUNED

__all__ = ["TUNED", "choose"]


def choose(rows: Iterable[Mapping[str, Any]], score: str = "inner_val_acc",
           index: str = "tuning_trial") -> Mapping[str, Any] | None:
    """The winning row itself (not a copy): the highest `score`, ties to the lowest `index`; rows without a score,
    or of a trial that failed (a `status` other than 'completed'), never win."""
    scored = [r for r in rows if r.get(score) is not None and not _is_nan(r[score])
              and str(r.get("status", COMPLETED)).strip().lower() == COMPLETED]
    if not scored:
        return None
    return min(scored, key=lambda r: (-float(r[score]), int(r[index])))


def _is_nan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True
