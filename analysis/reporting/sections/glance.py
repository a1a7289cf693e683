"""At a glance: what is resolved, what is fragile, the gain."""
from __future__ import annotations

import numpy as np

from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.formats import interval, p_is, pp, pvalue, seeds_text
from analysis.reporting.prose import BORDERLINE, gain_text, interval_words, per_cell, size
from analysis.stats.fraction_fit import shapley_label
from analysis.stats.shapley import TOTAL, is_per_seed, per_seed_gain


def fragile(a: Analysis) -> list[str]:
    e, delta = a.effects, a.min_effect
    out = []
    near = e[(e["p_holm"] >= BORDERLINE[0]) & (e["p_holm"] < BORDERLINE[1])]
    if len(near):
        out.append("Near the threshold (Holm p between 0.01 and 0.20), a few seeds or one odd run could flip: "
                   + ", ".join(f"`{r.term}` (Holm p = {pvalue(r.p_holm)}, {'resolved' if r.resolved else 'not'})"
                               for r in near.itertuples()) + ".")
    open_ = e[~e["resolved"] & ((e["ci_low"] < -delta) | (e["ci_high"] > delta))]
    if len(open_):
        out.append(f"Not resolved, yet the unadjusted 95% CI reaches beyond ±{size(delta)} pp, so an effect of "
                   "the size of interest is not ruled out: " + ", ".join(f"`{t}`" for t in open_["term"]) + ".")
    small = e[(e["ci_low"] >= -delta) & (e["ci_high"] <= delta)]
    if len(small):
        out.append(f"Unadjusted 95% CI inside ±{size(delta)} pp (smaller than the size of interest, unless the "
                   "noise was underestimated): " + ", ".join(f"`{t}`" for t in small["term"]) + ".")
    sd = a.configs[f"{a.metric}_std"].dropna()
    g = a.gain
    robust = per_seed_gain(a.runs, a.study.factors, a.metric) if len(sd) > 1 else {"n": 0}
    if len(sd) > 1 and g is not None and is_per_seed(g["method"]):
        out.append(f"The per-configuration sd ranges from {size(sd.min())} to {size(sd.max())} pp (n = "
                   f"{per_cell(a)} each, itself noisy at few seeds). The gain's and the Shapley values' per-seed "
                   "intervals do not assume one noise level; the pooled interval of the gain, which assumes equal "
                   f"noise in every cell, would be {interval(g['pooled_ci_low'], g['pooled_ci_high'])} "
                   f"({g['pooled_df']:.0f} df) against the per-seed {interval(g['ci_low'], g['ci_high'])}.")
    elif len(sd) > 1 and robust["n"] < 2:  # a fraction or a full grid without 2 seeds in both end cells
        out.append(f"Every interval of the effects, Shapley values and gain uses one pooled noise level. The "
                   f"per-configuration sd ranges from {size(sd.min())} to {size(sd.max())} pp (n = {per_cell(a)} "
                   "each, itself noisy at few seeds). The baseline and the full configuration were not both run on "
                   "two or more common seeds, so the gain has no per-seed interval: it rests on the fitted model.")
    elif len(sd) > 1:
        out.append(f"Every interval of the effects, Shapley values and gain uses one pooled noise level. The "
                   f"per-configuration sd ranges from {size(sd.min())} to {size(sd.max())} pp (n = "
                   f"{per_cell(a)} each, itself noisy at few seeds). The gain rests on two cells only; its per-seed "
                   "paired t interval, exact whatever the noise of each cell, is "
                   f"{interval(robust['ci_low'], robust['ci_high'])} (n = {robust['n']}, "
                   f"{max(robust['n'] - 1, 0)} df) against the pooled {interval(a.gain['ci_low'], a.gain['ci_high'])}.")
    if a.metric == "best_val_acc":
        out.append("`best_val_acc` picks the epoch on the validation set itself: every accuracy is optimistic.")
    return out

def section(doc: Document, a: Analysis) -> None:
    items = []
    if a.gain is not None:
        items.append(f"Gain, {gain_text(a)}.")
        s = a.shapley[a.shapley["component"] != TOTAL]
        which = "Shapley values" if a.fractional is None else shapley_label(a.fractional)
        how = f"95% CI, {interval_words(a.gain['method'], a.gain['df'])}"  # one method for the whole table
        n = "" if is_per_seed(a.gain["method"]) else f"; n = {per_cell(a)} runs per cell"
        items.append(f"{which} (pp, {how}{n}): " + ", ".join(
            f"`{r.component}` {pp(r.value)} {interval(r.ci_low, r.ci_high)}" for r in s.itertuples()) + ".")
        if s["share"].notna().any():
            items.append("Shares of the gain: " + ", ".join(f"`{r.component}` {100 * r.share:.0f}%"
                                                             for r in s.itertuples()) + ".")
        elif np.isfinite(a.gain["ci_low"]):
            items.append("Shares of the gain: not given, since the gain's 95% CI includes 0.")
    if a.effects is not None and not a.has_intervals:
        items.append("Effects: no intervals and no verdicts, since 1 seed per cell gives no estimate of the noise.")
    elif a.effects is not None:
        e = a.effects
        ok = [f"`{r.term}` {pp(r.estimate)} pp (Holm p {pvalue(r.p_holm)})" for r in e.itertuples() if r.resolved]
        items.append(f"Effects resolved (Holm p < 0.05 over {len(e)} terms; n = {per_cell(a)} runs per cell): "
                     + (", ".join(ok) if ok else "none") + ".")
        rest = [f"`{t}`" for t in e.loc[~e["resolved"], "term"]]
        if rest and a.plan is not None:
            items.append(f"Not resolved: {', '.join(rest)}. At this n the rule resolves effects of about "
                         f"{size(a.plan.mde)} pp with {a.plan.power:.0%} power; "
                         f"{seeds_text(a.plan.seeds_needed)} seeds per cell would resolve {size(a.min_effect)} pp "
                         "(see Planning).")
    for r in a.paired.itertuples():
        group = f" [{r.group}]" if r.group else ""
        verdict_text = (f"unadjusted 95% CI {interval(r.ci_low, r.ci_high)}, Holm {p_is(r.p_holm)}, "
                        f"{'resolved' if r.resolved else 'not resolved'}" if np.isfinite(r.p_holm)
                        else "no interval and no test")
        items.append(f"{r.model} − {r.baseline}{group}: {pp(r.mean_diff)} pp, {verdict_text} (n = {r.n} seeds).")
    doc.heading("At a glance")
    doc.bullets(items)
