"""The report's section for a study run until settled: each term's path over the waves, the rule, why it stopped.

Drawn only where the run directory has results/waves.csv (written after every look by the driver; columns:
analysis/results/schema.py's WAVES_COLUMNS, the rule: analysis/stats/sequential.py). The report states the rule from the file
itself (its looks, per-look level and min_effect), so it says what the driver did, whatever the report's own
--min-effect.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.study_analysis import Analysis
from analysis.reporting.formats import DASH, interval, pp, pvalue
from analysis.reporting.document import Document
from analysis.stats.sequential import CONTINUE, NEGLIGIBLE, RESOLVED, UNSETTLED, describe_rule

SCALE = 100.0  # fractions -> percentage points
STYLE = {RESOLVED: ("C0", "C0"), NEGLIGIBLE: ("C2", "C2"), UNSETTLED: ("0.5", "white")}  # status: (edge, face)


def path_figure(waves: pd.DataFrame) -> Figure:
    """One panel per term: estimate and interval after each look against seeds per cell, the ±min_effect band."""
    names = list(dict.fromkeys(waves["term"]))
    cols = min(4, len(names))
    rows = (len(names) + cols - 1) // cols
    fig = Figure(figsize=(3.4 * cols + 0.6, 2.7 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    delta = SCALE * float(waves["min_effect"].iloc[0])
    ticks = sorted(set(waves["n_seeds"]))
    for ax, term in zip(axes, names):
        w = waves[waves["term"] == term].sort_values("look")
        ax.axhspan(-delta, delta, color="C2", alpha=0.12, lw=0)
        ax.axhline(0, color="k", lw=0.7)
        for r in w.itertuples():
            edge, face = STYLE.get(r.status, STYLE[UNSETTLED])
            est, low, high = SCALE * r.estimate, SCALE * r.ci_low, SCALE * r.ci_high
            if np.isfinite(low) and np.isfinite(high):
                ax.plot([r.n_seeds, r.n_seeds], [low, high], color=edge, lw=1.6)
            if np.isfinite(est):
                ax.plot(r.n_seeds, est, "o", mec=edge, mfc=face, ms=6)
        last = w.iloc[-1]
        settled = f" at {int(w.loc[w['look'] == last.settled_at_look, 'n_seeds'].iloc[0])} seeds" \
            if last.status != UNSETTLED and (w["look"] == last.settled_at_look).any() else ""
        ax.set_title(f"{term}: {last.status}{settled}", fontsize="medium")
        ax.set_xticks(ticks)
        ax.grid(alpha=0.3)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for ax in axes[::cols]:
        ax.set_ylabel("effect (pp)")
    for ax in axes[max(len(names) - cols, 0):len(names)]:  # the lowest panel of each column
        ax.set_xlabel("seeds per cell")
    handles = [axes[0].plot([], [], "o", mec=STYLE[s][0], mfc=STYLE[s][1], ls="")[0] for s in STYLE]
    fig.legend(handles, list(STYLE), loc="outside lower center", ncols=len(STYLE), fontsize="small")
    return fig


def section(doc: Document, a: Analysis) -> None:
    """The path over the waves, the rule and why it stopped; nothing where the study was not run until settled."""
    waves, problem = a.study.waves, a.study.waves_problem
    if waves is None and not problem:
        return
    doc.heading("Run until settled: the effects after each wave")
    if waves is None:
        doc.paragraph(f"Not shown: {problem}.", note=True)
        return
    first = waves.iloc[0]
    last_look = waves[waves["look"] == waves["look"].max()]
    end = last_look.iloc[0]
    level = 100 * (1 - float(first.alpha_look))
    doc.paragraph(describe_rule(int(first.n_looks), int(first.max_seeds), float(first.min_effect),
                                int(last_look["term"].nunique()), float(first.alpha_look) * int(first.n_looks)))
    if end.decision == CONTINUE:
        doc.paragraph(f"Not stopped yet: the last recorded look ({int(end.look)} of {int(end.n_looks)}) decided to "
                      f"go on. {end.reason}", note=True)
    else:
        doc.paragraph(f"Why it stopped: {end.reason}")
    doc.figure(path_figure(waves), "sequential",
               f"Each term's estimate with its {level:.1f}% t interval (the rule's per-look level) after every look, "
               f"against the seeds per cell; shaded: ±{SCALE * float(first.min_effect):.2f} pp. Filled blue: "
               "resolved, filled green: negligible, hollow grey: unsettled, as of that look (a settled term stays "
               "settled).")
    looked = dict(zip(waves["look"], waves["n_seeds"]))
    frame = pd.DataFrame({
        "Term": last_look["term"], "Effect (pp)": last_look["estimate"].map(pp),
        f"{level:.1f}% CI (t)": [interval(lo, hi) for lo, hi in zip(last_look["ci_low"], last_look["ci_high"])],
        "p (Holm)": last_look["p_holm"].map(pvalue), "Status": last_look["status"],
        "Settled at (seeds per cell)": [str(looked[k]) if k in looked else DASH
                                        for k in last_look["settled_at_look"]]})
    doc.table(frame, f"The last look ({int(end.n_seeds)} seeds per cell, {int(end.n_runs)} runs): estimates and "
                     f"{level:.1f}% intervals of that look; status as settled by the rule (resolved: Holm p < "
                     f"{float(end.alpha_look):.4f} at the look that settled it). `results/waves.csv` has every look.")
