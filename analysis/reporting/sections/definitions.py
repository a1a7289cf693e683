"""The definitions a reader needs: effects, interactions, Shapley values, resolved."""
from __future__ import annotations


from analysis.study_analysis import Analysis
from analysis.reporting.document import Document


def section(doc: Document, a: Analysis) -> None:
    doc.heading("Definitions")
    doc.bullets([
        "`final_val_acc`: validation accuracy after the last epoch. `best_val_acc`: the highest validation accuracy "
        "over the epochs; optimistic, because the epoch is picked on the validation set itself.",
        "n: the number of seeds (completed trials) behind a mean, or of runs in a cell. std: sample standard "
        "deviation over seeds. 95% CI of a configuration's mean: mean ± t(0.975, n − 1) · std / √n, cut to "
        "[0, 100] and marked clipped where it passed a bound.",
        "Effects (Yates): main effect = mean at the factor's second level − mean at its first, averaged over the "
        "other factors; interactions likewise, each half the difference of the lower-order effect across the "
        "levels of the added factor. Estimated by OLS on every completed run with ±1 coding (estimate = 2 × "
        "coefficient) and seed as a block, so a failed run costs only itself; unadjusted 95% CI and p from the t "
        "statistic on the residual df; p (Holm): Holm's step-down adjustment over all terms; partial η² = "
        "SS_term / (SS_term + SS_residual). The effects keep the pooled residual sd: each effect weighs every cell "
        "by the same ±1/2^(k−1), so its variance depends on the cells' noise only through their average, which "
        "the pooled residual variance estimates.",
        "Resolved: Holm-adjusted p < 0.05 within its family (all factorial terms; all named-model comparisons). "
        "This holds the chance of calling any null term resolved to 5%; an unadjusted CI that excludes 0 does "
        "not (with 6 null terms it errs in about a quarter of studies). Not resolved is not \"no effect\": see "
        "the MDE.",
        "Shapley value: a factor's contribution to the gain from the baseline (every factor at its first level) to "
        "the full configuration (every factor at its second), averaged over all orders of switching factors on; "
        "the values sum to the gain. For 2^3: φ_i = E_i + E_ABC / 3.",
        "Gain and Shapley values on a full grid (per-seed t): each seed with a run in every cell gives its own gain "
        "(full − baseline) and Shapley values (the exact Shapley weights on its cells); the value is their mean "
        "over those m seeds and the 95% CI mean ± t(0.975, m − 1) · sd / √m. The seed block cancels within a seed "
        "and each seed gives one independent value, so the interval is exact for normal noise whatever the noise "
        "of each cell: 0.944-0.956 coverage in 8,000 simulated studies per setting at 3, 5 and 10 seeds, with "
        "equal noise, with the baseline cell twice as noisy as the others, and with plain cells twice as noisy as "
        "residual ones. With no run missing the values equal the contrasts of the effects' cell means; a seed "
        "without a run in every cell is left out of them (not of the effects), so that they still sum exactly to "
        "the gain and each sits at the centre of its interval. The pooled t interval (the effects' residual sd "
        "and df) assumes one noise level in every cell: with the baseline cell alone twice as noisy its gain "
        "interval covers about 0.85 in the same simulations. It is used, with the fit's seed-adjusted cell means, "
        "only where fewer than 2 seeds have a run in every cell, and for a fraction, whose Shapley values are its "
        "fitted model's; `shapley.csv`'s `method` says which: `per-seed t (m seeds)` or `pooled t (df)`. A "
        "bootstrap over 3-5 seeds is not used: it cannot cover (at most 75% at 3 seeds).",
        "Paired comparison: per-seed difference (model − baseline) on the seeds both completed; paired t test "
        "(unadjusted 95% CI), Holm over the comparisons; Wilcoxon signed-rank test only where ≥ 6 nonzero "
        "differences allow p < 0.05.",
        "P(improvement): the share of seeds on which the model beats the baseline (a tie is no improvement), with "
        "the exact Clopper-Pearson 95% interval.",
        "MDE: the smallest effect the family-wise rule detects with 80% power at the current n (two-sided t at "
        "α/m, noncentral t). Seeds needed: per cell, for the smallest effect of interest (`--min-effect`), with the "
        "residual sd at its 80% one-sided upper confidence bound sd · √(df / χ²(0.20, df)).",
        "fANOVA (where shown): a random forest's variance split of the same runs, ignoring the seed block; on a full "
        "two-level grid it estimates the same shares as E² / ΣE² of the main effects, so it is an alternative "
        "estimate, not independent evidence.",
    ])
