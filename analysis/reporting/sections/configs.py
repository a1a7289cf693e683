"""Every configuration: n, mean, interval; the per-seed figure and learning curves."""
from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from analysis.study_analysis import Analysis
from analysis.reporting import figures as plots
from analysis.reporting.document import Document
from analysis.results.schema import METRICS
from analysis.reporting.formats import interval, pm
from analysis.reporting.prose import seed_counts


def section(doc: Document, a: Analysis) -> None:
    c = a.configs
    frame = pd.DataFrame({"Model": c["model"], "Config": c["config"], "n": c["final_val_acc_n"]})
    for m, label in (("final_val_acc", "Final val acc"), ("best_val_acc", "Best val acc (optimistic)")):
        frame[f"{label} (%)"] = [pm(x, s) for x, s in zip(c[f"{m}_mean"], c[f"{m}_std"])]
        frame[f"{label} 95% CI (t)"] = [interval(lo, hi, 1) + (" clipped" if cut else "") for lo, hi, cut
                                        in zip(c[f"{m}_ci_low"], c[f"{m}_ci_high"], c[f"{m}_ci_clipped"])]
    frame["Not completed"] = c["n_failed"]
    doc.heading("Configurations")
    doc.table(frame, "Mean ± std over n completed seeds, with the 95% t interval of the mean (n − 1 df), cut to "
                     "[0, 100] and marked clipped where the t interval passed a bound (an accuracy's mean cannot, so "
                     "the cut interval covers as often as the t interval).")
    fig = Figure(figsize=(max(11.0, 1.5 * len(c)), 4.6), layout="constrained")
    for ax, m in zip(fig.subplots(1, 2, sharey=True), METRICS):
        summary = c.rename(columns={f"{m}_{k}": k for k in ("n", "mean", "ci_low", "ci_high")})
        title = "Final" if m == "final_val_acc" else "Best (optimistic)"
        plots.per_seed(a.values[m], summary, ax=ax, title=f"{title} val acc: seeds, mean, 95% CI "
                                                            f"(n = {seed_counts(summary['n'])})")
    doc.figure(fig, "per_seed", "Every seed's accuracy (grey) and each configuration's mean with its 95% t CI "
                                "(cut to [0, 100]).")
    if a.curves is not None and len(a.curves):
        fig = Figure(figsize=(12, 4.6), layout="constrained")
        for ax, split in zip(fig.subplots(1, 2), ("train", "val")):
            plots.learning_curves(a.curves, split, ax=ax)
        doc.figure(fig, "learning_curves", "Learning curves: mean ± std over the completed seeds.")
