"""How far to trust this report: the noise, the intervals' methods, what a run costs."""
from __future__ import annotations


from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.sections.glance import fragile
from analysis.reporting.formats import seeds_text
from analysis.reporting.prose import cells_run, per_cell, size
from analysis.stats.shapley import is_per_seed


def section(doc: Document, a: Analysis) -> None:
    doc.heading("How far to trust this")
    if a.plan is None:
        reason = a.skipped[-1] if a.skipped else "no factorial fit"
        doc.paragraph(f"No interval and no verdict on the factorial effects. Not computed: {reason}. At least 2 "
                      "seeds per cell are needed to estimate the noise.", note=True)
        return
    p = a.plan
    design = [f"Design: {a.fractional.description} {a.fractional.model}"] if a.fractional is not None else []
    items = design + [
        f"n per cell: {per_cell(a)} completed runs ({a.design.n_runs} runs over {len(a.design.seeds)} seeds"
        + cells_run(a)
        + (f"; {len(a.missing)} cell-seed run(s) absent, see Gaps" if a.missing else "") + ").",
        f"Noise of one run pooled over every cell (residual sd after configuration and seed): {size(p.residual_sd)} pp on {p.df:.0f} df; "
        f"its one-sided {p.confidence:.0%} upper confidence bound (chi-square): {size(p.sd_upper)} pp.",
        _intervals_item(a),
        *term_noise_item(a),
        *([] if term_noise_item(a) else [
            f"Smallest effect resolved with {p.power:.0%} power at this n ({per_cell(a)} per cell): {size(p.mde)} pp "
            f"at the observed sd, {size(p.mde_sd_upper)} pp at its upper bound."]),
        f"Family-wise rule: a term is resolved only when its Holm-adjusted p < {p.alpha} over all {p.n_terms} "
        "terms; the named-model comparisons are a second family with their own Holm. Unadjusted 95% CIs show "
        "sizes, not verdicts.",
        *([] if term_noise_item(a) else [
            f"To resolve an effect of {size(p.min_effect)} pp (`--min-effect`) with {p.power:.0%} power: "
            f"{seeds_text(p.seeds_needed)} seeds per cell (sd at its upper bound; {seeds_text(p.seeds_needed_point)} "
            f"at the observed sd), planned at α/{p.n_terms} = {p.alpha / p.n_terms:.4f} per term (Bonferroni, which "
            "Holm never does worse than)."]),
    ]
    doc.paragraph("What the numbers below rest on:")
    doc.bullets(items)
    doc.paragraph("What would change the conclusions:")
    doc.bullets(fragile(a) or ["Nothing flagged: no verdict is near the threshold."])

def term_noise_item(a: Analysis) -> list[str]:
    """The noise each term's interval rests on: its own per-seed contrast's sd (cells of 0.3 and 12 pp differ)."""
    t = a.term_noise
    if t is None or t.empty or not t["sd"].notna().any():
        return []
    return ["Noise each term's interval rests on (sd of its per-seed contrast; one-sided 80% upper bound): "
            + "; ".join(f"`{r.term}` {size(r.sd)} pp ({size(r.sd_upper)})" for r in t.itertuples())
            + ". The single residual sd above mixes cells of very different noise; it is shown for reference only.",
            f"To resolve an effect of {size(a.min_effect)} pp (`--min-effect`) with 80% power, each term needs "
            + "; ".join(f"`{r.term}` {seeds_text(r.seeds_needed)}" for r in t.itertuples())
            + " seeds per cell (sd at its upper bound: each term's own 80% bound, measured to hold 0.79-0.81 in three "
              "noise models and 0.77-0.80 near the ceiling)."]


def _intervals_item(a: Analysis) -> str:
    """What the intervals of the effects, the gain and the Shapley values assume about the noise."""
    g = a.gain
    method = str(a.effects["method"].iloc[0]) if a.effects is not None and "method" in a.effects else ""
    if method.startswith("per-seed"):
        n = int(a.effects["n_seeds"].iloc[0])
        effects = (f"Intervals and p-values of the effects: {method}, from each seed's own contrast of each term over "
                   f"the {n} seeds with a run in every cell ({n - 1} df); they hold for normal per-seed contrasts "
                   "whatever the seed × configuration interaction and each cell's noise (measured coverage "
                   "0.947-0.954 at 3, 5 and 10 seeds in four noise models, docs/statistics.md), not when a training "
                   "fails now and then (see the failed-run flags in Gaps).")
    else:
        effects = ("Intervals of the effects: the pooled residual sd above (fewer than 2 seeds have a run in every "
                   "cell, or a fraction); it assumes one noise level in every cell and no seed × configuration "
                   "interaction.")
    if g is not None and is_per_seed(g["method"]):
        return (f"{effects} The gain and the Shapley values: per-seed t over the {g['df'] + 1:.0f} seeds with a run "
                f"in every cell ({g['df']:.0f} df); each seed gives one independent value of each, so they hold "
                "whatever the noise of each cell.")
    return (f"{effects} The gain and the Shapley values: the same pooled sd, which assumes one noise level in every "
            "cell" + (" (a fraction's values are its fitted model's)." if a.fractional is not None
                      else "; fewer than 2 seeds have a run in every cell, so no per-seed interval."))
