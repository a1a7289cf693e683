"""The factorial effects table and its forest plot."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.study_analysis import Analysis
from analysis.reporting import figures as plots
from analysis.reporting.document import Document
from analysis.reporting.formats import DASH, interval, pp, pvalue
from analysis.reporting.prose import cells_run, per_cell, verdict
from analysis.stats.fraction_fit import ALIAS_ORDER, ALIASES


def section(doc: Document, a: Analysis) -> None:
    doc.heading(f"Factorial effects on `{a.metric}`")
    if a.effects is None:
        doc.paragraph("Not computed: see Gaps.", note=True)
        return
    e = a.effects
    df = e["df"].iloc[0]
    if a.fractional is not None:
        doc.paragraph(f"{a.fractional.description} {a.fractional.model} Terms aliased with each other are one row, "
                      "named by the chain's first term; its estimate is the signed sum of the chain, never a finding "
                      "about one member.")
    method = str(e["method"].iloc[0]) if "method" in e else ""
    if method.startswith("per-seed"):
        n = int(e["n_seeds"].iloc[0])
        doc.paragraph(f"Each term from each seed's own Yates contrast over the {n} seeds with a run in every cell: "
                      f"the estimate is their mean and the 95% t interval has {n - 1} df ({method}); the seed "
                      "cancels within a seed, and no noise level is shared between terms or cells"
                      + (f"; {len(a.missing)} cell-seed run(s) absent, so their seeds are left out here (the "
                         "Every response table still fits all completed runs)" if a.missing else "")
                      + ". Effect = mean at the second level − mean at the first (Yates), averaged over the other "
                        "factors; an interaction is half the difference of one factor's effect across the other's "
                        "levels.")
    else:
        doc.paragraph(f"OLS on all {a.design.n_runs} completed runs ({len(a.design.seeds)} seeds, {per_cell(a)} per "
                      f"cell{cells_run(a)}), ±1 coding, seed as a block, {df:.0f} residual df"
                      + (f"; {len(a.missing)} cell-seed run(s) absent (see Gaps), the others kept" if a.missing else "")
                      + ". Effect = mean at the second level − mean at the first (Yates), averaged over the other "
                      "factors; an interaction is half the difference of one factor's effect across the other's levels.")
    frame = pd.DataFrame({
        "Term": e["term"], "Effect (pp)": e["estimate"].map(pp),
        "Unadjusted 95% CI (t)": [interval(lo, hi) for lo, hi in zip(e["ci_low"], e["ci_high"])],
        "p": e["p_value"].map(pvalue), "p (Holm)": e["p_holm"].map(pvalue),
        "Resolved (Holm p < 0.05)": [verdict(r, p) for r, p in zip(e["resolved"], e["p_holm"])],
        "Partial η²": e["partial_eta_sq"].map(lambda x: DASH if not np.isfinite(x) else f"{x:.3f}")})
    chains = ""
    if a.fractional is not None:
        frame.insert(1, f"Alias chain (to order {ALIAS_ORDER})", e[ALIASES])
        chains = (f" In this fraction each row estimates its alias chain (listed to order {ALIAS_ORDER}), under the "
                  f"assumption that {a.fractional.assumption}.")
    doc.table(frame, f"Effects in pp, n = {per_cell(a)} runs per cell, {df:.0f} df ({method or 'pooled t'}). Resolved: Holm-adjusted p < 0.05 "
                     f"over all {len(e)} terms (family-wise error ≤ 5%); the unadjusted CI gives the size only."
                     + chains)
    doc.figure(plots.effects_forest(e).figure, "effects",
               f"Effects with unadjusted 95% t CIs (n = {per_cell(a)} runs per cell); hollow: not resolved by Holm.")
    names = list(a.study.factors)
    pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
    cols = max(1, min(3, len(pairs)))
    rows_n = 1 + (len(pairs) + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols + 1, 3.6 * rows_n), layout="constrained")
    grid = fig.add_gridspec(rows_n, cols)
    plots.main_effects(a.marginal, ax=fig.add_subplot(grid[0, :]),
                       title="Main effects: raw mean of the completed runs at each level (n runs per level below)")
    for i, (x, y) in enumerate(pairs):
        plots.interaction(a.interactions, x, y, ax=fig.add_subplot(grid[1 + i // cols, i % cols]))
    mixed = (" In a fraction these raw means mix each effect with its aliases." if a.fractional is not None
             else "")
    doc.figure(fig, "main_effects", "Main-effect plot (top) and two-way interaction plots (parallel lines: no "
                                    "interaction): raw means of the completed runs, no intervals; the table above "
                                    "has the tests." + mixed)
