"""Every response at once (one row per term, one column per response), and degradation as the original study
defined it: a training-set deficit of the plain network (optimisation), not only a validation one."""
from __future__ import annotations

import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.formats import DASH, interval, pp
from analysis.results.schema import RESPONSES

SHORTCUT = "shortcut"


def cell(row) -> str:
    mark = " ✔" if bool(row.resolved) else ""
    return f"{pp(row.estimate)} {interval(row.ci_low, row.ci_high)}{mark}"


def section(doc: Document, a: Analysis) -> None:
    r = a.more.responses if a.more is not None else None
    if r is None or r.empty:
        return
    doc.heading("Every response")
    shown = r[r["response"] != "final_val_loss"]
    wide = shown.assign(text=[cell(x) for x in shown.itertuples()]).pivot(index="term", columns="response",
                                                                          values="text")
    wide = wide.reindex(index=list(dict.fromkeys(shown["term"])), columns=list(dict.fromkeys(shown["response"])))
    wide.columns = [RESPONSES[c].label for c in wide.columns]
    doc.table(wide.reset_index().rename(columns={"term": "Term"}).fillna(DASH),
              f"Effect (pp) and unadjusted 95% t interval of each term on each response ({r['method'].iloc[0]}, the "
              "method of the effects table); ✔: resolved, Holm p < 0.05 within that response's family of terms. Each column is its own "
              "family: a reader asking one question of one response uses that column; asking of several columns "
              "at once, multiply the family (a Bonferroni over the columns). The gap is train − validation.")
    degradation(doc, r, a)


def degradation(doc: Document, r: pd.DataFrame, a: Analysis) -> None:
    rows = r[r["term"] == SHORTCUT].set_index("response")
    if SHORTCUT not in a.study.factors or "final_train_acc" not in rows.index:
        return
    doc.heading("Degradation: a training-set deficit?", level=3)
    train, val = rows.loc["final_train_acc"], rows.loc["final_val_acc"] if "final_val_acc" in rows.index else None
    gap = rows.loc["final_gap"] if "final_gap" in rows.index else None
    lines = [f"The shortcut's effect on the final TRAINING accuracy: {pp(train.estimate)} pp "
             f"{interval(train.ci_low, train.ci_high)} (n = {int(train.n_seeds)} seeds per cell), "
             + ("resolved: the plain networks fit their own training set worse, the deficit the original study "
                "called degradation (an optimisation problem)." if train.resolved and train.estimate > 0 else
                "not resolved: at this n a training-set deficit of the plain networks is not shown.")]
    if val is not None and gap is not None:
        lines.append(f"On validation {pp(val.estimate)} pp {interval(val.ci_low, val.ci_high)}; on the "
                     f"generalisation gap (train − val) {pp(gap.estimate)} pp {interval(gap.ci_low, gap.ci_high)}"
                     + (" (resolved): part of the deficit is generalisation, not only optimisation." if gap.resolved
                        else " (not resolved): no evidence that the deficit is more than the training-set one."))
    depth = [t for t in r["term"].unique() if set(t.split(":")) == {SHORTCUT, "depth"}]
    for term in depth:
        x = r[(r["term"] == term) & (r["response"] == "final_train_acc")].iloc[0]
        lines.append(f"`{term}` on training accuracy (does the deficit grow with depth?): {pp(x.estimate)} pp "
                     f"{interval(x.ci_low, x.ci_high)}, {'resolved' if x.resolved else 'not resolved'}.")
    doc.bullets(lines)
