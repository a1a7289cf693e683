"""The Shapley attribution of the gain from the baseline to the full configuration."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting import figures as plots
from analysis.reporting.document import Document
from analysis.reporting.formats import DASH, interval, pp
from analysis.reporting.prose import attribution_n, end_names, per_cell, seed_list, seeds_left_out, shapley_intervals_text
from analysis.stats.fraction_fit import ALIASES, shapley_label
from analysis.stats.shapley import TOTAL, is_per_seed


def section(doc: Document, a: Analysis) -> None:
    doc.heading("Shapley attribution of the gain")
    if a.shapley is None:
        doc.paragraph("Not computed: see Gaps.", note=True)
        return
    g, s = a.gain, a.shapley
    base, full = end_names(a)
    label = {TOTAL: f"total: {full} − {base}"}
    frame = pd.DataFrame({"Component": s["component"].map(lambda c: label.get(c, c)),
                          "Shapley value (pp)": s["value"].map(pp),
                          "95% CI": [interval(lo, hi) for lo, hi in zip(s["ci_low"], s["ci_high"])],
                          "CI method": s["method"],
                          "Share of gain": [DASH if not np.isfinite(x) else f"{100 * x:.0f}%" for x in s["share"]]})
    source = f"the seed-adjusted cell means of all {g['n_runs']} completed runs (n = {per_cell(a)} per cell)"
    if is_per_seed(g["method"]):
        gone = seeds_left_out(a, g["interval_seeds"])
        left = (f"; {seed_list(gone)}, without a run in every cell, left out here but not in the effects"
                if gone else "")
        source = (f"each seed's own cells, averaged over the {g['df'] + 1:.0f} seeds with a run in every cell "
                  f"({g['n_runs']} runs{left})")
    if a.fractional is not None:
        e = a.effects
        chained = any(" = " in c for c in e.loc[e["order"] == 2, ALIASES])
        split = ("; how an alias chain of two-factor interactions is split among its members changes none of them"
                 if chained else "")
        doc.paragraph(f"{shapley_label(a.fractional)}. Under it a two-factor interaction takes the same value at "
                      "the baseline and the full configuration and its Shapley shares cancel, so each factor's value "
                      f"is its main-effect estimate and the gain is their sum{split}. If the assumption fails, each "
                      "value is off by the interactions it sets to zero.", note=True)
        source = (f"the fitted model's predicted means of all {2 ** a.fractional.fraction.k} cells, fitted on all "
                  f"{g['n_runs']} completed runs (n = {per_cell(a)} per cell)")
    doc.table(frame, f"Exact Shapley values over all orders, from {source}; they sum to the total. "
                     f"{shapley_intervals_text(a)} Shares only where the gain's CI excludes 0.")
    parts = s[s["component"] != TOTAL]
    ax = plots.shapley_waterfall(parts, g["baseline"], g["full"], baseline_label=base, full_label=full,
                                 title=f"From {base} to {full}:\nShapley steps (pp), n = {attribution_n(a)}")
    doc.figure(ax.figure, "shapley", "Shapley waterfall from the baseline to the full configuration, with the 95% "
                                     "CIs of the table above.")
