"""Sentences and phrases the sections share: sizes, verdicts, the ends of the gain, interval methods, seeds."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting.formats import DASH, interval, pct, pp
from analysis.stats.shapley import is_per_seed


BORDERLINE = (0.01, 0.20)  # Holm p in this range: a few more seeds could flip the verdict

def size(x: float) -> str:
    """An unsigned size in pp: 0.0123 -> '1.23'."""
    return pp(x).lstrip("+")

def per_cell(a: Analysis) -> str:
    low, high = a.n_per_cell
    return f"{low}" if low == high else f"{low}-{high}"

def verdict(flag: bool, p_holm: float) -> str:
    return DASH if not np.isfinite(p_holm) else ("yes" if flag else "no")

def end_names(a: Analysis) -> tuple[str, str]:
    """The baseline's and the full configuration's model names; in words where a fraction did not run them."""
    cells, last = a.cells, 2 ** len(a.study.factors) - 1
    named = dict(zip(cells["cell"], cells["model"].astype(str)))
    return (named.get(0, "the all-first-levels baseline"), named.get(last, "the all-second-levels configuration"))

def end_text(value: float, n: int, a: Analysis) -> str:
    if a.fractional is not None:  # the fraction's model predicts every cell, run or not
        return f"{pct(value)}% fitted, n = {n}" if n else f"{pct(value)}% predicted, not run"
    # with a run missing, the fit's cell means keep the pairing; per seed, they are plain means of the seeds used
    adjusted = " seed-adjusted" if a.missing and not is_per_seed(a.gain["method"]) else ""
    return f"{pct(value)}%{adjusted}, n = {n}"

def interval_words(method: str, df: float) -> str:
    """How an interval of the gain or a Shapley value was made, for a parenthesis."""
    if is_per_seed(method):
        return f"per-seed t, {df + 1:.0f} seeds, {df:.0f} df"
    return f"t, pooled residual sd, {df:.0f} df" if df >= 1 else "no interval, 0 residual df"

def seeds_left_out(a: Analysis, used) -> list:
    """The seeds of the fit that a per-seed interval does not use (a run it needs is missing)."""
    used = set(used)
    return [s for s in a.design.seeds.tolist() if s not in used]

def seed_list(seeds) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(s) for s in seeds)

def gain_text(a: Analysis) -> str:
    g = a.gain
    base, full = end_names(a)
    assumed = f"; under the assumption that {a.fractional.assumption}" if a.fractional is not None else ""
    gone = seeds_left_out(a, g["interval_seeds"]) if is_per_seed(g["method"]) else []
    left = f"; {seed_list(gone)} left out, without a run in every cell" if gone else ""
    return (f"{base} ({end_text(g['baseline'], g['n_baseline'], a)}) → {full} "
            f"({end_text(g['full'], g['n_full'], a)}): {pp(g['gain'])} pp, "
            + (f"95% CI {interval(g['ci_low'], g['ci_high'])} ({interval_words(g['method'], g['df'])}{left}{assumed})"
               if np.isfinite(g["ci_low"]) else f"no interval (0 residual df{assumed})"))

def cells_run(a: Analysis) -> str:
    """'' for the full grid; ' in 16 of the 128 cells' for a fraction."""
    if a.fractional is None:
        return ""
    return f" in {a.fractional.fraction.runs} of the {2 ** a.fractional.fraction.k} cells"

def attribution_n(a: Analysis) -> str:
    """What the gain and the Shapley values rest on: '9 seeds' (per seed) or '9-10 runs per cell' (the fit)."""
    return f"{a.gain['df'] + 1:.0f} seeds" if is_per_seed(a.gain["method"]) else f"{per_cell(a)} runs per cell"

def shapley_intervals_text(a: Analysis) -> str:
    """The Shapley table's caption on its intervals (every row has the same method)."""
    g = a.gain
    if is_per_seed(g["method"]):
        return ("95% CIs, per-seed t: mean ± t(0.975, m − 1) · sd / √m of each seed's own value (the seed block "
                f"cancels within a seed), m = {g['df'] + 1:.0f}; they hold whatever the noise of each cell.")
    if g["df"] < 1:
        return "No intervals: one seed gives no estimate of the noise."
    fewer = ("" if a.fractional is not None else
             " (fewer than 2 seeds have a run in every cell, so no per-seed interval)")
    return (f"95% CIs: t intervals of these linear contrasts with the pooled residual sd of the effects' fit, "
            f"{g['df']:.0f} df (the seed block cancels), which assume one noise level in every cell{fewer}.")

def seed_counts(counts) -> str:
    counts = sorted(set(int(c) for c in counts))
    return DASH if not counts else str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"

def plain(value) -> str:
    """A table cell as written: no '5.0' for a whole number, a dash for a missing one."""
    if isinstance(value, (float, np.floating)):
        return DASH if not np.isfinite(value) else f"{value:g}"
    return DASH if value is None or value is pd.NA else str(value)

METRIC_TEXT = {
    "final_val_acc": "final validation accuracy (after the last epoch)",
    "best_val_acc": "best validation accuracy over the epochs (optimistic: the epoch is chosen on the "
                    "validation set itself)",
    "final_train_acc": "final training accuracy (after the last epoch): how well each network fits its own "
                       "training set",
    "final_gap": "generalisation gap, final training minus final validation accuracy",
}
