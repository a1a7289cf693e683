"""The original study's claims (or the user's `--claims FILE`), each with its test and its verdict at this n."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.formats import DASH, seeds_text

RATIO_KINDS = ("dispersion",)


def number(kind: str, x: float) -> str:
    if not np.isfinite(x):
        return DASH
    return f"×{x:.2f}" if kind in RATIO_KINDS else f"{100 * x:+.2f}"


def section(doc: Document, a: Analysis) -> None:
    c = a.claims
    if c is None or c.empty:
        return
    doc.heading("The claims, tested")
    counts = c["verdict"].value_counts()
    doc.paragraph(f"{len(c)} claims at n = {a.n_per_cell[0]} seeds per cell: "
                  + ", ".join(f"{int(counts.get(v, 0))} {v}" for v in ("supported", "contradicted", "not resolved"))
                  + ". Supported or contradicted: the claim's test is resolved (Holm within its table's family) with "
                    "or against the claimed sign; not resolved: the data cannot tell at this n, which is no evidence "
                    "against the claim.")
    doc.table(pd.DataFrame({
        "Claim": c["text"], "Test": c["test"],
        "Estimate [95% CI]": [f"{number(k, e)} [{number(k, lo)}, {number(k, hi)}]" if np.isfinite(e) else DASH
                              for k, e, lo, hi in zip(c["kind"], c["estimate"], c["ci_low"], c["ci_high"])],
        "Verdict": c["verdict"],
        "Seeds per cell to resolve it": [seeds_text(n) if v == "not resolved" else DASH
                                         for n, v in zip(c["seeds_needed"], c["verdict"])]}),
        "Location effects and comparisons in pp; dispersion effects as the ratio of seed-to-seed sds (second level "
        "over first). Seeds: to resolve an effect of the size observed with 80% power (sd at its 80% upper bound; "
        "for a spread, by simulation); a dash where none can be computed. State your own claims in the same form "
        "with `--claims FILE` (columns id, text, response, kind, term, config_a, config_b, direction).")
