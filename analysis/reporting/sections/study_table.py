"""The original study's table, over seeds."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.formats import DASH, pm


def section(doc: Document, a: Analysis) -> None:
    t = a.table
    one_ref = t["reference"].nunique() == 1
    ref = t["reference"].iloc[0] if one_ref else "the reference"
    frame = pd.DataFrame({
        "Model": t["model"] + np.where(t["named"], "", " *"),
        "n": t["n"],
        "Best epoch": [pm(m, s, 1, 1.0) for m, s in zip(t["best_epoch_mean"], t["best_epoch_std"])],
        "Train acc (%)": [pm(m, s) for m, s in zip(t["final_train_acc_mean"], t["final_train_acc_std"])],
        "Val acc (%)": [pm(m, s) for m, s in zip(t["final_val_acc_mean"], t["final_val_acc_std"])],
        "Best val acc (%), optimistic": [pm(m, s) for m, s in zip(t["best_val_acc_mean"], t["best_val_acc_std"])],
        f"Gain vs {ref} (pp)": [DASH if r == mdl else pm(m, s, 2) + ("" if gn == n else f" (n = {gn})")
                                for m, s, r, mdl, n, gn in zip(t["gain_mean"], t["gain_std"], t["reference"],
                                                               t["model"], t["n"], t["gain_n"])],
    })
    if not one_ref:  # one Plain per level of another factor (depth): say which
        frame.insert(len(frame.columns) - 1, "Reference", t["reference"])
    doc.heading("The original study's table, over seeds")
    doc.table(frame, f"Mean ± std over n seeds (no intervals here: see Configurations). Train and val acc after the "
                     f"last epoch; gain: `{a.metric}` minus that of {ref} on the same seed (over the seeds both "
                     "completed, n given where fewer). * not one of the original four models.")
