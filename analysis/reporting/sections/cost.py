"""What each component costs: parameters, training FLOPs per image, seconds per epoch, peak memory; the accuracy
against FLOPs with the Pareto front."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting import figures
from analysis.reporting.document import Document
from analysis.results.schema import RESPONSES

TIMING_NOTE = ("Seconds and memory are measured inside each trial (its own epochs' training time; peak RSS of its "
               "worker process on a CPU, which Ray may reuse for several trials, so it is an upper bound that can "
               "grow with trial order; the CUDA allocator's peak on a GPU). Trials that share a machine slow each "
               "other: their effects have intervals over seeds and are not resolved on one run.")


def ratio_text(row) -> str:
    ratio = f"×{np.exp(row.estimate):.3f}"
    if np.isfinite(row.ci_low):
        return f"{ratio} [{np.exp(row.ci_low):.3f}, {np.exp(row.ci_high):.3f}]" + (" ✔" if row.resolved else "")
    return ratio + " (exact)"


def section(doc: Document, a: Analysis) -> None:
    costs = a.more.costs if a.more is not None else {}
    if not costs:
        return
    doc.heading("What each component costs")
    first = next(iter(costs.values()))
    frame = pd.DataFrame({"Term": first.table["term"]})
    for name, c in costs.items():
        frame[RESPONSES[name].label] = [ratio_text(r) for r in c.table.itertuples()]
    doc.table(frame, "Multiplicative effect of each term on each cost (ratio of geometric means, high level over "
                     "low); parameters and FLOPs are the same in every seed of a configuration (exact, no interval); "
                     "the others: 95% t interval over seeds of each seed's own contrast, ✔ resolved (Holm within "
                     f"the cost). FLOPs counted by torch's FLOP counter (convolutions and matrix products, forward "
                     f"and backward). {TIMING_NOTE}")
    p = a.more.pareto
    if p is not None and len(p):
        names = dict(zip(a.configs["config"], a.configs["model"]))
        front = [names.get(c, c) for c in p.loc[p["on_front"], "config"]]
        doc.paragraph("On the Pareto front of accuracy against training FLOPs per image (no other configuration is "
                      "at least as accurate for fewer FLOPs): " + ", ".join(front) + ". The front is of the means; "
                      "whether a step along it is real is the effects' question.")
        doc.figure(figures.pareto(p, a.configs, a.metric).figure, "accuracy_vs_flops",
                   f"Mean `{a.metric}` (with its 95% t interval) against training FLOPs per image, per configuration; "
                   "filled: on the Pareto front.")
