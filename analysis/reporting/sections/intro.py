"""The report's opening paragraph: run folder, metric, trials, factors, units."""
from __future__ import annotations


from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.prose import METRIC_TEXT, seed_counts


def section(doc: Document, a: Analysis) -> None:
    s, c = a.study, a.configs
    levels = "; ".join(f"`{n}`: {' → '.join(map(str, lv))}" for n, lv in s.factors.items()) or "none"
    doc.paragraph(f"Run directory `{s.run_dir}`. Metric analysed: `{a.metric}`, the {METRIC_TEXT[a.metric]}. "
                  f"{int(c['n_completed'].sum())} of {len(s.trials)} trials completed, in {len(c)} configurations "
                  f"with {seed_counts(c['n_completed'])} completed seeds each. Factors (baseline level first): "
                  f"{levels}. Accuracies are in %, differences in percentage points (pp); every mean carries "
                  "its n (seeds or runs) and every interval its method and level.")
