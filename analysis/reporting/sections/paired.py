"""The named models compared seed by seed."""
from __future__ import annotations

import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.formats import interval, pp, pvalue, seeds_text
from analysis.reporting.prose import size, verdict


def section(doc: Document, a: Analysis) -> None:
    doc.heading("Named models, paired by seed")
    p = a.paired
    if p.empty:
        doc.paragraph("No pair of the original study's named models is present in these tables.", note=True)
        return
    frame = pd.DataFrame({
        "Comparison": [f"{r.model} − {r.baseline}" + (f" [{r.group}]" if r.group else "") for r in p.itertuples()],
        "n": p["n"], "Mean diff (pp)": p["mean_diff"].map(pp),
        "Unadjusted 95% CI (t)": [interval(lo, hi) for lo, hi in zip(p["ci_low"], p["ci_high"])],
        "p (paired t)": p["p_t"].map(pvalue), "p (Holm)": p["p_holm"].map(pvalue),
        "Resolved (Holm p < 0.05)": [verdict(r, x) for r, x in zip(p["resolved"], p["p_holm"])]})
    if p["p_wilcoxon"].notna().any():
        frame["p (Wilcoxon)"] = p["p_wilcoxon"].map(pvalue)
    frame["P(improvement), 95% CI"] = [f"{k}/{n} {interval(lo, hi, 2, 1.0)}" for k, n, lo, hi
                                       in zip(p["n_improved"], p["n"], p["pi_ci_low"], p["pi_ci_high"])]
    frame["MDE (pp)"] = p["mde"].map(size)
    frame[f"Seeds for {size(a.min_effect)} pp"] = p["seeds_needed"].map(seeds_text)
    wilcoxon = ("Wilcoxon signed-rank: shown where ≥ 6 nonzero differences let it reach p < 0.05"
                if "p (Wilcoxon)" in frame
                else "No Wilcoxon test: under 6 nonzero differences it cannot reach p < 0.05")
    doc.table(frame, f"`{a.metric}`, paired by seed (seeds completed in both). Holm over the {len(p)} comparisons. "
                     "P(improvement): seeds on which the model beats the baseline, out of n, with its exact "
                     f"(Clopper-Pearson) 95% CI. MDE: at this n and the observed sd, tested at α/{len(p)}; seeds: for "
                     f"{size(a.min_effect)} pp with 80% power, sd at its 80% upper bound. {wilcoxon}.")
