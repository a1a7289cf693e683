"""Planning: what the noise of this study allows and what a smaller effect would need."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.formats import duration, seeds_text, trials_count
from analysis.reporting.prose import per_cell, size
from analysis.stats.planning import plan_table


def section(doc: Document, a: Analysis) -> None:
    if a.plan is None:
        return
    p = a.plan
    doc.heading(f"Planning: seeds for an effect of {size(p.min_effect)} pp")
    doc.paragraph(f"The smallest effect of interest is {size(p.min_effect)} pp (`--min-effect`). Power is that of "
                  f"the family-wise rule, planned at α/{p.n_terms} = {p.alpha / p.n_terms:.4f} per term (Holm "
                  "resolves every term Bonferroni resolves, so this is a lower bound), noncentral t, balanced "
                  f"2^k design with seed blocks. The noise is taken at its one-sided {p.confidence:.0%} upper "
                  "confidence bound: the planned count then suffices for the true noise with probability ≥ "
                  f"{p.confidence:.0%}. No power is computed at the observed effect sizes: that is a function of "
                  "the p-value alone and says nothing new.")
    # the table `ablation/run.py --plan` prints (analysis/stats/planning.py), with the cost where the pilot measured it
    t = plan_table(a, p.min_effect, p.power, a.study.timing, confidence=p.confidence)
    frame = pd.DataFrame({
        "Residual sd": t["basis"], "sd (pp)": t["residual_sd"].map(size),
        f"MDE at n = {per_cell(a)} per cell (pp)": [size(p.mde), size(p.mde_sd_upper)],
        f"Seeds per cell for {size(p.min_effect)} pp, {p.power:.0%} power": t["seeds_needed"].map(seeds_text),
        "Trials added": t["trials_added"].map(trials_count)})
    first = t.iloc[0]
    cost = []
    if np.isfinite(first.seconds_per_trial):
        frame["Compute (trial time)"] = t["compute_seconds"].map(duration)
        cost.append(f"compute: trials added × {first.seconds_per_trial:.1f} s, the mean `train_seconds` of the "
                    f"{first.n_timed} completed trials (epochs only)")
        if np.isfinite(first.slots):
            frame[f"Wall time at {first.slots:.0f} slots"] = t["wall_seconds"].map(duration)
            cost.append(f"wall time: compute / {first.slots:.0f} concurrent slots (`results/timing.json`), a lower "
                        "bound")
        if np.isfinite(first.slots) and np.isfinite(first.efficiency):
            frame[f"Wall time at the pilot's efficiency ({first.efficiency:.2f})"] = (
                t["wall_seconds_at_efficiency"].map(duration))
            cost.append("at the pilot's orchestration efficiency (trial seconds / (wall × slots)) it is longer")
    doc.table(frame, f"{p.df:.0f} residual df. Trials added: runs missing to reach that many completed seeds in "
                     "every cell (a failed run is run again)" + "".join(f"; {c}" for c in cost)
              + ". `power.csv` has the MDE of every term.")
