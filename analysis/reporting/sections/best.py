"""Which configurations may be the best: Hsu's multiple comparisons with the best, paired by seed."""
from __future__ import annotations

import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.formats import interval, pct


def section(doc: Document, a: Analysis) -> None:
    best = a.more.best if a.more is not None else None
    if best is None:
        return
    t = best.table
    names = dict(zip(a.configs["config"], a.configs["model"])) if "model" in a.configs else {}
    doc.heading("Which configuration is best?")
    members = [names.get(c, c) for c in t.loc[t["in_set"], "config"]]
    doc.paragraph(f"{len(members)} of {len(t)} configurations may be the best of `{a.metric}` at n = {best.n_seeds} "
                  f"seeds (a {1 - best.alpha:.0%} confidence set: it holds the true best in at least "
                  f"{1 - best.alpha:.0%} of studies, measured by simulation at 3, 5 and 10 seeds): "
                  + ", ".join(members) + "."
                  + (" The data name one best configuration." if len(members) == 1 else
                     " No configuration is shown to be the best; the ranking below is not resolved."))
    doc.table(pd.DataFrame({
        "Configuration": [names.get(c, c) for c in t["config"]], "Mean (%)": t["mean"].map(pct),
        "Mean − best of the others (pp), MCB interval": [interval(lo, hi) for lo, hi in zip(t["mcb_low"], t["mcb_high"])],
        "May be best": t["in_set"].map({True: "yes", False: "no"}),
        "Rank (range)": [f"{r} ({lo}–{hi})" for r, lo, hi in zip(t["rank"], t["rank_low"], t["rank_high"])]}),
        f"{best.method}. A configuration leaves the set only when another beats it by a resolved margin. Rank "
        "ranges: the ranks consistent with simultaneous paired intervals (Bonferroni over all pairs).")
