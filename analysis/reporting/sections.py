"""The report's inferential sections: how far to trust it, at a glance, effects, Shapley, named models, planning.

Every number carries its n, every interval its method and level, and one rule decides "resolved" everywhere:
Holm-adjusted p < 0.05 within a family (the factorial terms; the named-model comparisons). The effects' intervals
use the pooled residual sd; the gain's and the Shapley values' are per-seed t intervals on a full grid (pooled only
where fewer than 2 seeds are complete, and in a fraction), and each says which. A fractional study
also says, once, what its fraction can and cannot separate, lists each estimate's alias chain, and labels the
Shapley values and the gain with the assumption they rest on (analysis/stats/fraction_fit.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.analyse import Analysis
from analysis.reporting import figures as plots
from analysis.reporting.document import DASH, Document, interval, p_is, pct, pp, pvalue
from analysis.stats.fraction_fit import ALIAS_ORDER, ALIASES, shapley_label
from analysis.stats.planning import duration, plan_table, seeds_text, trials_count
from analysis.stats.shapley import TOTAL, is_per_seed, per_seed_gain

BORDERLINE = (0.01, 0.20)  # Holm p in this range: a few more seeds could flip the verdict


def size(x: float) -> str:
    """An unsigned size in pp: 0.0123 -> '1.23'."""
    return pp(x).lstrip("+")


def per_cell(a: Analysis) -> str:
    low, high = a.n_per_cell
    return f"{low}" if low == high else f"{low}-{high}"


def verdict(flag: bool, p_holm: float) -> str:
    return DASH if not np.isfinite(p_holm) else ("yes" if flag else "no")


def end_names(a: Analysis) -> tuple[str, str]:
    """The baseline's and the full configuration's model names; in words where a fraction did not run them."""
    cells, last = a.cells, 2 ** len(a.study.factors) - 1
    named = dict(zip(cells["cell"], cells["model"].astype(str)))
    return (named.get(0, "the all-first-levels baseline"), named.get(last, "the all-second-levels configuration"))


def _end_text(value: float, n: int, a: Analysis) -> str:
    if a.fractional is not None:  # the fraction's model predicts every cell, run or not
        return f"{pct(value)}% fitted, n = {n}" if n else f"{pct(value)}% predicted, not run"
    # with a run missing, the fit's cell means keep the pairing; per seed, they are plain means of the seeds used
    adjusted = " seed-adjusted" if a.missing and not is_per_seed(a.gain["method"]) else ""
    return f"{pct(value)}%{adjusted}, n = {n}"


def interval_words(method: str, df: float) -> str:
    """How an interval of the gain or a Shapley value was made, for a parenthesis."""
    if is_per_seed(method):
        return f"per-seed t, {df + 1:.0f} seeds, {df:.0f} df"
    return f"t, pooled residual sd, {df:.0f} df" if df >= 1 else "no interval, 0 residual df"


def seeds_left_out(a: Analysis, used) -> list:
    """The seeds of the fit that a per-seed interval does not use (a run it needs is missing)."""
    used = set(used)
    return [s for s in a.design.seeds.tolist() if s not in used]


def seed_list(seeds) -> str:
    return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(str(s) for s in seeds)


def _gain_text(a: Analysis) -> str:
    g = a.gain
    base, full = end_names(a)
    assumed = f"; under the assumption that {a.fractional.assumption}" if a.fractional is not None else ""
    gone = seeds_left_out(a, g["interval_seeds"]) if is_per_seed(g["method"]) else []
    left = f"; {seed_list(gone)} left out, without a run in every cell" if gone else ""
    return (f"{base} ({_end_text(g['baseline'], g['n_baseline'], a)}) → {full} "
            f"({_end_text(g['full'], g['n_full'], a)}): {pp(g['gain'])} pp, "
            + (f"95% CI {interval(g['ci_low'], g['ci_high'])} ({interval_words(g['method'], g['df'])}{left}{assumed})"
               if np.isfinite(g["ci_low"]) else f"no interval (0 residual df{assumed})"))


def _cells_run(a: Analysis) -> str:
    """'' for the full grid; ' in 16 of the 128 cells' for a fraction."""
    if a.fractional is None:
        return ""
    return f" in {a.fractional.fraction.runs} of the {2 ** a.fractional.fraction.k} cells"


def trust(doc: Document, a: Analysis) -> None:
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
        + _cells_run(a)
        + (f"; {len(a.missing)} cell-seed run(s) absent, see Gaps" if a.missing else "") + ").",
        f"Noise of one run (residual sd after configuration and seed): {size(p.residual_sd)} pp on {p.df:.0f} df; "
        f"its one-sided {p.confidence:.0%} upper confidence bound (chi-square): {size(p.sd_upper)} pp.",
        _intervals_item(a),
        f"Smallest effect resolved with {p.power:.0%} power at this n ({per_cell(a)} per cell): {size(p.mde)} pp "
        f"at the observed sd, {size(p.mde_sd_upper)} pp at its upper bound.",
        f"Family-wise rule: a term is resolved only when its Holm-adjusted p < {p.alpha} over all {p.n_terms} "
        "terms; the named-model comparisons are a second family with their own Holm. Unadjusted 95% CIs show "
        "sizes, not verdicts.",
        f"To resolve an effect of {size(p.min_effect)} pp (`--min-effect`) with {p.power:.0%} power: "
        f"{seeds_text(p.seeds_needed)} seeds per cell (sd at its upper bound; {seeds_text(p.seeds_needed_point)} at "
        f"the observed sd), planned at α/{p.n_terms} = {p.alpha / p.n_terms:.4f} per term (Bonferroni, which Holm "
        "never does worse than).",
    ]
    doc.paragraph("What the numbers below rest on:")
    doc.bullets(items)
    doc.paragraph("What would change the conclusions:")
    doc.bullets(_fragile(a) or ["Nothing flagged: no verdict is near the threshold."])


def _intervals_item(a: Analysis) -> str:
    """What the intervals of the effects, the gain and the Shapley values assume about the noise."""
    g = a.gain
    effects = ("Intervals of the effects: the pooled residual sd above; each effect weighs every cell equally, so "
               "it needs only the cells' average noise, which that sd estimates.")
    if g is not None and is_per_seed(g["method"]):
        return (f"{effects} The gain and the Shapley values: per-seed t over the {g['df'] + 1:.0f} seeds with a run "
                f"in every cell ({g['df']:.0f} df); each seed gives one independent value of each, so they hold "
                "whatever the noise of each cell.")
    return (f"{effects} The gain and the Shapley values: the same pooled sd, which assumes one noise level in every "
            "cell" + (" (a fraction's values are its fitted model's)." if a.fractional is not None
                      else "; fewer than 2 seeds have a run in every cell, so no per-seed interval."))


def _fragile(a: Analysis) -> list[str]:
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


def glance(doc: Document, a: Analysis) -> None:
    items = []
    if a.gain is not None:
        items.append(f"Gain, {_gain_text(a)}.")
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


def effects(doc: Document, a: Analysis) -> None:
    doc.heading(f"Factorial effects on `{a.metric}`")
    if a.effects is None:
        doc.paragraph("Not computed: see Gaps.", note=True)
        return
    e = a.effects
    df = e["df"].iloc[0]
    if a.fractional is not None:
        doc.paragraph(f"{a.fractional.description} {a.fractional.model} Terms aliased with each other are one row, "
                      "named by the chain's first term; its estimate is the signed sum of the chain, never a finding "
                      "about one member.")
    doc.paragraph(f"OLS on all {a.design.n_runs} completed runs ({len(a.design.seeds)} seeds, {per_cell(a)} per "
                  f"cell{_cells_run(a)}), ±1 coding, seed as a block, {df:.0f} residual df"
                  + (f"; {len(a.missing)} cell-seed run(s) absent (see Gaps), the others kept" if a.missing else "")
                  + ". Effect = mean at the second level − mean at the first (Yates), averaged over the other "
                  "factors; an interaction is half the difference of one factor's effect across the other's levels.")
    frame = pd.DataFrame({
        "Term": e["term"], "Effect (pp)": e["estimate"].map(pp),
        "Unadjusted 95% CI (t)": [interval(lo, hi) for lo, hi in zip(e["ci_low"], e["ci_high"])],
        "p": e["p_value"].map(pvalue), "p (Holm)": e["p_holm"].map(pvalue),
        "Resolved (Holm p < 0.05)": [verdict(r, p) for r, p in zip(e["resolved"], e["p_holm"])],
        "Partial η²": e["partial_eta_sq"].map(lambda x: DASH if not np.isfinite(x) else f"{x:.3f}")})
    chains = ""
    if a.fractional is not None:
        frame.insert(1, f"Alias chain (to order {ALIAS_ORDER})", e[ALIASES])
        chains = (f" In this fraction each row estimates its alias chain (listed to order {ALIAS_ORDER}), under the "
                  f"assumption that {a.fractional.assumption}.")
    doc.table(frame, f"Effects in pp, n = {per_cell(a)} runs per cell, {df:.0f} df. Resolved: Holm-adjusted p < 0.05 "
                     f"over all {len(e)} terms (family-wise error ≤ 5%); the unadjusted CI gives the size only."
                     + chains)
    doc.figure(plots.effects_forest(e).figure, "effects",
               f"Effects with unadjusted 95% t CIs (n = {per_cell(a)} runs per cell); hollow: not resolved by Holm.")
    names = list(a.study.factors)
    pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
    cols = max(1, min(3, len(pairs)))
    rows_n = 1 + (len(pairs) + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols + 1, 3.6 * rows_n), layout="constrained")
    grid = fig.add_gridspec(rows_n, cols)
    plots.main_effects(a.marginal, ax=fig.add_subplot(grid[0, :]),
                       title="Main effects: raw mean of the completed runs at each level (n runs per level below)")
    for i, (x, y) in enumerate(pairs):
        plots.interaction(a.interactions, x, y, ax=fig.add_subplot(grid[1 + i // cols, i % cols]))
    mixed = (" In a fraction these raw means mix each effect with its aliases." if a.fractional is not None
             else "")
    doc.figure(fig, "main_effects", "Main-effect plot (top) and two-way interaction plots (parallel lines: no "
                                    "interaction): raw means of the completed runs, no intervals; the table above "
                                    "has the tests." + mixed)


def shapley(doc: Document, a: Analysis) -> None:
    doc.heading("Shapley attribution of the gain")
    if a.shapley is None:
        doc.paragraph("Not computed: see Gaps.", note=True)
        return
    g, s = a.gain, a.shapley
    base, full = end_names(a)
    label = {TOTAL: f"total: {full} − {base}"}
    frame = pd.DataFrame({"Component": s["component"].map(lambda c: label.get(c, c)),
                          "Shapley value (pp)": s["value"].map(pp),
                          "95% CI": [interval(lo, hi) for lo, hi in zip(s["ci_low"], s["ci_high"])],
                          "CI method": s["method"],
                          "Share of gain": [DASH if not np.isfinite(x) else f"{100 * x:.0f}%" for x in s["share"]]})
    source = f"the seed-adjusted cell means of all {g['n_runs']} completed runs (n = {per_cell(a)} per cell)"
    if is_per_seed(g["method"]):
        gone = seeds_left_out(a, g["interval_seeds"])
        left = (f"; {seed_list(gone)}, without a run in every cell, left out here but not in the effects"
                if gone else "")
        source = (f"each seed's own cells, averaged over the {g['df'] + 1:.0f} seeds with a run in every cell "
                  f"({g['n_runs']} runs{left})")
    if a.fractional is not None:
        e = a.effects
        chained = any(" = " in c for c in e.loc[e["order"] == 2, ALIASES])
        split = ("; how an alias chain of two-factor interactions is split among its members changes none of them"
                 if chained else "")
        doc.paragraph(f"{shapley_label(a.fractional)}. Under it a two-factor interaction takes the same value at "
                      "the baseline and the full configuration and its Shapley shares cancel, so each factor's value "
                      f"is its main-effect estimate and the gain is their sum{split}. If the assumption fails, each "
                      "value is off by the interactions it sets to zero.", note=True)
        source = (f"the fitted model's predicted means of all {2 ** a.fractional.fraction.k} cells, fitted on all "
                  f"{g['n_runs']} completed runs (n = {per_cell(a)} per cell)")
    doc.table(frame, f"Exact Shapley values over all orders, from {source}; they sum to the total. "
                     f"{_shapley_intervals_text(a)} Shares only where the gain's CI excludes 0.")
    parts = s[s["component"] != TOTAL]
    ax = plots.shapley_waterfall(parts, g["baseline"], g["full"], baseline_label=base, full_label=full,
                                 title=f"From {base} to {full}:\nShapley steps (pp), n = {_attribution_n(a)}")
    doc.figure(ax.figure, "shapley", "Shapley waterfall from the baseline to the full configuration, with the 95% "
                                     "CIs of the table above.")


def _attribution_n(a: Analysis) -> str:
    """What the gain and the Shapley values rest on: '9 seeds' (per seed) or '9-10 runs per cell' (the fit)."""
    return f"{a.gain['df'] + 1:.0f} seeds" if is_per_seed(a.gain["method"]) else f"{per_cell(a)} runs per cell"


def _shapley_intervals_text(a: Analysis) -> str:
    """The Shapley table's caption on its intervals (every row has the same method)."""
    g = a.gain
    if is_per_seed(g["method"]):
        return ("95% CIs, per-seed t: mean ± t(0.975, m − 1) · sd / √m of each seed's own value (the seed block "
                f"cancels within a seed), m = {g['df'] + 1:.0f}; they hold whatever the noise of each cell.")
    if g["df"] < 1:
        return "No intervals: one seed gives no estimate of the noise."
    fewer = ("" if a.fractional is not None else
             " (fewer than 2 seeds have a run in every cell, so no per-seed interval)")
    return (f"95% CIs: t intervals of these linear contrasts with the pooled residual sd of the effects' fit, "
            f"{g['df']:.0f} df (the seed block cancels), which assume one noise level in every cell{fewer}.")


def paired(doc: Document, a: Analysis) -> None:
    doc.heading("Named models, paired by seed")
    p = a.paired
    if p.empty:
        doc.paragraph("No pair of the original study's named models is present in these tables.", note=True)
        return
    frame = pd.DataFrame({
        "Comparison": [f"{r.model} − {r.baseline}" + (f" [{r.group}]" if r.group else "") for r in p.itertuples()],
        "n": p["n"], "Mean diff (pp)": p["mean_diff"].map(pp),
        "Unadjusted 95% CI (t)": [interval(lo, hi) for lo, hi in zip(p["ci_low"], p["ci_high"])],
        "p (paired t)": p["p_t"].map(pvalue), "p (Holm)": p["p_holm"].map(pvalue),
        "Resolved (Holm p < 0.05)": [verdict(r, x) for r, x in zip(p["resolved"], p["p_holm"])]})
    if p["p_wilcoxon"].notna().any():
        frame["p (Wilcoxon)"] = p["p_wilcoxon"].map(pvalue)
    frame["P(improvement), 95% CI"] = [f"{k}/{n} {interval(lo, hi, 2, 1.0)}" for k, n, lo, hi
                                       in zip(p["n_improved"], p["n"], p["pi_ci_low"], p["pi_ci_high"])]
    frame["MDE (pp)"] = p["mde"].map(size)
    frame[f"Seeds for {size(a.min_effect)} pp"] = p["seeds_needed"].map(seeds_text)
    wilcoxon = ("Wilcoxon signed-rank: shown where ≥ 6 nonzero differences let it reach p < 0.05"
                if "p (Wilcoxon)" in frame
                else "No Wilcoxon test: under 6 nonzero differences it cannot reach p < 0.05")
    doc.table(frame, f"`{a.metric}`, paired by seed (seeds completed in both). Holm over the {len(p)} comparisons. "
                     "P(improvement): seeds on which the model beats the baseline, out of n, with its exact "
                     f"(Clopper-Pearson) 95% CI. MDE: at this n and the observed sd, tested at α/{len(p)}; seeds: for "
                     f"{size(a.min_effect)} pp with 80% power, sd at its 80% upper bound. {wilcoxon}.")


def planning(doc: Document, a: Analysis) -> None:
    if a.plan is None:
        return
    p = a.plan
    doc.heading(f"Planning: seeds for an effect of {size(p.min_effect)} pp")
    doc.paragraph(f"The smallest effect of interest is {size(p.min_effect)} pp (`--min-effect`). Power is that of "
                  f"the family-wise rule, planned at α/{p.n_terms} = {p.alpha / p.n_terms:.4f} per term (Holm "
                  "resolves every term Bonferroni resolves, so this is a lower bound), noncentral t, balanced "
                  f"2^k design with seed blocks. The noise is taken at its one-sided {p.confidence:.0%} upper "
                  "confidence bound: the planned count then suffices for the true noise with probability ≥ "
                  f"{p.confidence:.0%}. No power is computed at the observed effect sizes: that is a function of "
                  "the p-value alone and says nothing new.")
    # the table `ablation/run.py --plan` prints (analysis/stats/planning.py), with the cost where the pilot measured it
    t = plan_table(a, p.min_effect, p.power, a.study.timing, confidence=p.confidence)
    frame = pd.DataFrame({
        "Residual sd": t["basis"], "sd (pp)": t["residual_sd"].map(size),
        f"MDE at n = {per_cell(a)} per cell (pp)": [size(p.mde), size(p.mde_sd_upper)],
        f"Seeds per cell for {size(p.min_effect)} pp, {p.power:.0%} power": t["seeds_needed"].map(seeds_text),
        "Trials added": t["trials_added"].map(trials_count)})
    first = t.iloc[0]
    cost = []
    if np.isfinite(first.seconds_per_trial):
        frame["Compute (trial time)"] = t["compute_seconds"].map(duration)
        cost.append(f"compute: trials added × {first.seconds_per_trial:.1f} s, the mean `train_seconds` of the "
                    f"{first.n_timed} completed trials (epochs only)")
        if np.isfinite(first.slots):
            frame[f"Wall time at {first.slots:.0f} slots"] = t["wall_seconds"].map(duration)
            cost.append(f"wall time: compute / {first.slots:.0f} concurrent slots (`results/timing.json`), a lower "
                        "bound")
        if np.isfinite(first.slots) and np.isfinite(first.efficiency):
            frame[f"Wall time at the pilot's efficiency ({first.efficiency:.2f})"] = (
                t["wall_seconds_at_efficiency"].map(duration))
            cost.append("at the pilot's orchestration efficiency (trial seconds / (wall × slots)) it is longer")
    doc.table(frame, f"{p.df:.0f} residual df. Trials added: runs missing to reach that many completed seeds in "
                     "every cell (a failed run is run again)" + "".join(f"; {c}" for c in cost)
              + ". `power.csv` has the MDE of every term.")
