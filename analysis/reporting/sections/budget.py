"""Over the training budget: do the effects at the last epoch hold at earlier ones, and is any configuration still
improving when training stops?"""
from __future__ import annotations

import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting import figures
from analysis.reporting.document import Document
from analysis.reporting.formats import interval, pp


def section(doc: Document, a: Analysis) -> None:
    more = a.more
    if more is None or more.by_epoch is None:
        return
    doc.heading("Over the training budget")
    e, last = more.by_epoch, int(more.by_epoch["epoch"].max())
    final = e[e["epoch"] == last].set_index("term")
    flips = [t for t in final.index if final.loc[t, "resolved"]
             and (e[(e["term"] == t) & e["resolved"]]["estimate"] * final.loc[t, "estimate"] < 0).any()]
    since = {t: int(e[(e["term"] == t)].sort_values("epoch").loc[lambda d: ~d["resolved"], "epoch"].max())
             if (~e[e["term"] == t]["resolved"]).any() else 0 for t in final.index[final["resolved"]]}
    lines = [f"`{t}` resolved at the last epoch ({last}) and at every epoch since epoch {since[t] + 1}"
             for t in since] or ["No term is resolved at the last epoch."]
    if flips:
        lines.append("Resolved with the OPPOSITE sign at an earlier epoch: " + ", ".join(f"`{t}`" for t in flips)
                     + ": the conclusion depends on the budget.")
    s = more.slopes
    if s is not None and len(s):
        climbing = s[s["still_improving"]]
        names = dict(zip(a.configs["config"], a.configs["model"]))
        lines.append(f"{len(climbing)} of {len(s)} configurations are still improving at the last epoch (slope of "
                     "validation accuracy over the last quarter of training, interval above 0 after Holm over the "
                     "configurations)" + (": " + ", ".join(names.get(c, c) for c in climbing["config"])
                                          + ". Effects that involve them are effects at THIS budget, partly how fast "
                                          "each configuration converges." if len(climbing) else "."))
        doc.bullets(lines)
        doc.table(pd.DataFrame({"Configuration": [names.get(c, c) for c in s["config"]],
                                "Slope (pp / epoch)": s["slope"].map(pp),
                                "95% CI": [interval(lo, hi) for lo, hi in zip(s["ci_low"], s["ci_high"])],
                                "n": s["n_seeds"], "Still improving (Holm)": s["still_improving"].map(
                                    {True: "yes", False: "no"})}),
                  "Per seed, the least-squares slope of validation accuracy over the last quarter of the epochs; "
                  "t interval over seeds (each seed's own slope: holds when the per-seed slopes are normal).")
    else:
        doc.bullets(lines)
    doc.figure(figures.effects_over_epochs(e).figure, "effects_over_epochs",
               "Each term's effect on validation accuracy at every epoch, with its unadjusted 95% t interval "
               "(pooled residual, seed blocks); the epochs are not one family: read the curve, not each point.")
