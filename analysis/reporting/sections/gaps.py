"""What is missing or was left out, and the analyses not made."""
from __future__ import annotations


from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.prose import plain


def section(doc: Document, a: Analysis) -> None:
    doc.heading("Gaps")
    f = a.failed
    if f.empty and not a.notes and not a.skipped:
        doc.paragraph(f"None: all {len(a.study.trials)} trials completed and every analysis ran.")
        return
    if not f.empty:
        cols = [c for c in ("trial_id", "model", "config", "seed", "status", "epochs_done") if c in f]
        doc.paragraph(f"{len(f)} trial(s) did not complete and are left out of every statistic:", note=True)
        doc.table(f[cols].astype(object).map(plain))
    doc.bullets(a.notes + [f"Not computed: {s}" for s in a.skipped])
