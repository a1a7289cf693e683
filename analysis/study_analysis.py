"""Every statistic the report shows, computed once from a loaded study.

The effects come from one OLS fit (full 2^k model with seed blocks) on every completed run with the metric, with
its pooled residual sd; a failed or missing run costs only itself. On a full grid the gain and the Shapley values
are the mean and t interval of each seed's own values over the seeds with a run in every cell
(`analysis.stats.shapley`), which hold whatever the noise of each cell; with fewer than 2 such seeds they are the fit's
contrasts with its pooled sd, as a fraction's always are. The design is read from the data: where the
cells with a completed run are a regular fraction of the grid (fold-overs included) rather than all of it, the
fit is `analysis.stats.fraction_fit`' (one term per alias chain, under a stated assumption); where they are
neither, a note says so and the effects are not computed. The parts that need two-level factors and a run
in every cell are skipped with the reason in `skipped` when the data cannot support them; the rest (aggregates,
paired comparisons) still run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.defaults import ALPHA, MIN_EFFECT, min_effect_fraction, PLANNING_CONFIDENCE, POWER
from analysis.doe.coding import check_two_level
from analysis.results.schema import HEADLINE_METRICS
from analysis.results.load import METRICS, ResultsError, Study, completed, is_completed
from analysis.stats.descriptive import config_summary, curve_summary, interaction_means, marginal_means, per_seed_values
from analysis.stats.effects import effects_table
from analysis.stats.fraction_fit import FractionFit, fraction_effects, with_aliases
from analysis.stats.model_design import ModelDesign, cell_means, missing_runs, model_design
from analysis.stats.observed_design import FRACTION, IRREGULAR, ObservedDesign, observe_design
from analysis.stats.ols import LinearFit, fit_ols
from analysis.stats.paired import paired_comparisons, study_table
from analysis.stats.power import effect_planning, factorial_seeds_needed, sd_upper_bound
from analysis.stats.responses import MoreResponses, more_responses
from analysis.stats.claims_check import check_claims
from analysis.stats.dispersion import dispersion_effects
from analysis.stats.per_seed_effects import per_seed_effects
from analysis.stats.term_planning import term_plan
from analysis.stats.shapley import is_per_seed, per_seed_attribution_table, per_seed_gain_summary


@dataclass
class Plan:
    """What the noise of this study allows, and what an effect of `min_effect` would need (all fractions)."""
    residual_sd: float
    df: float
    sd_upper: float  # one-sided PLANNING_CONFIDENCE upper bound of the residual sd
    n_terms: int
    n_cells: int
    n_seeds: int  # runs in the smallest cell of the fit
    mde: float  # at this design (largest over the terms), the observed sd, tested at alpha / n_terms
    mde_sd_upper: float  # the same with the sd at its upper bound
    min_effect: float
    seeds_needed: float  # per cell, for min_effect at the sd's upper bound
    seeds_needed_point: float  # the same at the observed sd (optimistic)
    alpha: float = ALPHA
    power: float = POWER
    confidence: float = PLANNING_CONFIDENCE


@dataclass
class Analysis:
    study: Study
    metric: str
    configs: pd.DataFrame  # config_summary, every configuration
    values: dict[str, pd.DataFrame]  # metric -> per_seed_values
    curves: pd.DataFrame | None  # curve_summary, None without epochs
    table: pd.DataFrame  # the original study's table (study_table)
    paired: pd.DataFrame  # named-model comparisons
    failed: pd.DataFrame  # trials that did not complete
    min_effect: float = MIN_EFFECT
    runs: pd.DataFrame | None = None  # the completed runs with the metric: what the effects are fitted on
    design: ModelDesign | None = None
    fit: LinearFit | None = None
    observed: ObservedDesign | None = None  # the design the completed cells form (None: factors not two-level)
    fractional: FractionFit | None = None  # a fraction's analysis (description, assumption); None: the full grid
    effects: pd.DataFrame | None = None
    power: pd.DataFrame | None = None  # effect_planning: MDE per term, seeds for min_effect
    plan: Plan | None = None
    shapley: pd.DataFrame | None = None  # per-seed (full grid) or pooled (fraction) attribution table; `method`
    gain: dict | None = None  # baseline, full (seed-adjusted cell means), gain, its interval and `method`
    cells: pd.DataFrame | None = None  # cell n and raw mean, bit-mask order
    marginal: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    more: MoreResponses | None = None  # every response's effects, the best configuration, epochs, cost
    term_noise: pd.DataFrame | None = None  # per term: sd of its per-seed contrast, its upper bound, seeds needed
    dispersion: pd.DataFrame | None = None  # each term's effect on the seed-to-seed spread (sd ratio, Holm)
    claims: pd.DataFrame | None = None  # the claims' verdicts (analysis/stats/claims_check.py)
    missing: list[str] = field(default_factory=list)  # (cell, seed) runs absent from the fit
    notes: list[str] = field(default_factory=list)  # gaps: what is missing or was left out
    skipped: list[str] = field(default_factory=list)  # analyses not made, and why

    @property
    def n_per_cell(self) -> tuple[int, int]:
        """(fewest, most) runs in a cell of the fit (the cells run: all of a full grid, those of a fraction);
        (0, 0) without one."""
        if self.design is None:
            return 0, 0
        run = self.design.cell_counts[self.design.cell_counts > 0]
        return int(run.min()), int(run.max())

    @property
    def has_intervals(self) -> bool:
        return self.fit is not None and self.fit.df >= 1


def _plan(planning: pd.DataFrame, fit: LinearFit, design: ModelDesign, min_effect: float) -> Plan:
    """The study-level planning figures; the MDE is the largest over the terms (their se differ when cells do).
    n_cells: the cells the design runs (2^k, or a fraction's)."""
    sd, df = float(fit.sigma), fit.df
    upper = sd_upper_bound(sd, df)
    counts = design.cell_counts[design.cell_counts > 0]
    n_cells, m = len(counts), design.n_terms
    known = np.isfinite(sd) and sd > 0
    return Plan(residual_sd=sd, df=df, sd_upper=upper, n_terms=m, n_cells=n_cells,
                n_seeds=int(counts.min()), mde=float(planning["mde"].max()),
                mde_sd_upper=float(planning["mde_sd_upper"].max()), min_effect=min_effect,
                seeds_needed=factorial_seeds_needed(min_effect, upper, n_cells, m) if known else np.nan,
                seeds_needed_point=factorial_seeds_needed(min_effect, sd, n_cells, m) if known else np.nan)


def analyse(study: Study, metric: str = "final_val_acc", min_effect: float = MIN_EFFECT,
            claims: pd.DataFrame | None = None) -> Analysis:
    """Every statistic of the report; min_effect: the smallest effect of interest (a fraction) for planning;
    claims: a claims table (analysis/stats/claims.py's read_claims) to check, None for none."""
    if metric not in HEADLINE_METRICS:
        raise ResultsError(f"unknown metric {metric!r}; choose one of {', '.join(HEADLINE_METRICS)}")
    try:
        min_effect_fraction(100 * min_effect, flag="the smallest effect of interest")
    except ValueError as err:
        raise ResultsError(str(err)) from None
    trials, factors = study.trials, study.factors
    done = is_completed(trials)
    failed = trials[~done]
    curves = None
    if study.epochs is not None:
        curves = curve_summary(study.epochs, trials, factors)
    result = Analysis(
        study=study, metric=metric, min_effect=min_effect,
        configs=config_summary(trials, factors, tuple(dict.fromkeys((*METRICS, metric)))),
        values={m: per_seed_values(trials, factors, m) for m in dict.fromkeys((*METRICS, metric))},
        curves=curves,
        table=study_table(trials, factors, metric),
        paired=paired_comparisons(trials, factors, metric, min_effect=min_effect),
        failed=failed,
        notes=list(study.notes),
    )
    no_value = done & trials[metric].isna()
    if no_value.any():
        result.notes.append(f"{int(no_value.sum())} completed trial(s) have no {metric}; left out")
    runs = completed(trials, metric)
    result.observed = _observe(study, runs)
    if result.observed is not None:
        result.notes += list(result.observed.notes)
    try:
        if result.observed is not None and result.observed.kind == FRACTION:
            result.fractional = fraction_effects(runs, factors, metric, result.observed.fraction)
            design, fit = result.fractional.design, result.fractional.fit
        elif _full_grid_or_part(result.observed):
            design = model_design(runs, factors, metric)
            fit = fit_ols(design.X, design.y)
        else:
            raise ValueError("the cells with a completed run are neither the full grid nor a regular fraction "
                             "(see the note above); with a cell of a fraction missing its alias chains are no "
                             "longer whole, so no effect is estimated")
    except ValueError as err:
        result.skipped.append(f"factorial effects, Shapley attribution and planning: {err}")
        return result
    result.runs, result.design, result.fit = runs, design, fit
    # dispersion and cost effects are per-seed contrasts over the full grid: a fraction has neither (its model
    # section says what it can estimate)
    full_grid = result.fractional is None
    result.more = more_responses(trials, study.epochs, factors, metric, design.model_terms, costs=full_grid)
    result.skipped += list(result.more.skipped)
    if result.fractional is None:
        try:
            result.term_noise = term_plan(per_seed_effects(runs, factors, metric), min_effect).frame()
        except ValueError as err:
            result.skipped.append(f"noise per term: {err}")
    try:
        result.dispersion = dispersion_effects(trials, factors, metric) if full_grid else None
    except ValueError as err:
        result.skipped.append(f"dispersion effects: {err}")
    if claims is not None and len(claims):
        best = result.more.best
        models = dict(zip(result.configs["config"], result.configs["model"]))
        best_models = None if best is None else {models.get(c, c) for c in best.table.loc[best.table["in_set"], "config"]}
        result.claims = check_claims(claims, result.more.responses, result.dispersion, result.paired, metric,
                                     best_models, int((design.cell_counts > 0).sum()), len(factors))
    run_cells = None if result.fractional is None else result.observed.cells
    result.missing = missing_runs(trials, factors, metric, run_cells)
    if result.fractional is None:
        result.effects = with_aliases(per_seed_intervals(effects_table(design, fit), runs, factors, metric),
                                      [""] * design.n_terms)
        result.shapley = per_seed_attribution_table(design, fit)
        result.gain = per_seed_gain_summary(design, fit)
    else:
        f = result.fractional
        result.effects, result.shapley, result.gain = f.effects.assign(method="pooled t (the fraction's fit)"), f.shapley, f.gain
        result.skipped += list(f.skipped)
    if result.missing:
        unequal = ("; in a fraction, unequal runs per cell leave the estimates unbiased under its assumption, but an "
                   "alias the assumption sets to zero would no longer enter with weight exactly ±1"
                   if result.fractional is not None else "")
        per_seed = result.gain is not None and is_per_seed(result.gain["method"])
        only = (f"; the gain and the Shapley values use the {result.gain['df'] + 1:.0f} seeds with a run in every "
                "cell" if per_seed else "")
        fitted = "effects fit" if per_seed else "effects and Shapley fit"
        result.notes.append(f"{len(result.missing)} cell-seed run(s) absent from the {fitted} (it uses the other "
                            f"{design.n_runs} runs{only}): " + "; ".join(result.missing) + unequal)
    result.cells = cell_means(runs, factors, metric)
    result.marginal = marginal_means(runs, factors, metric)
    result.interactions = interaction_means(runs, factors, metric)
    if fit.df >= 1:
        n_cells = int((design.cell_counts > 0).sum())
        result.power = effect_planning(result.effects, float(fit.sigma), fit.df, n_cells, min_effect)
        result.plan = _plan(result.power, fit, design, min_effect)
    else:
        result.skipped.append("intervals, p-values and planning of the effects and Shapley values: the fit has no "
                              "residual degrees of freedom (one seed per cell gives no estimate of the noise)")
    return result


def per_seed_intervals(pooled: pd.DataFrame, runs: pd.DataFrame, factors, metric: str) -> pd.DataFrame:
    """The effects' intervals, p-values and Holm from each seed's own contrast (t over the seeds with a run in every
    cell, n - 1 df): exact for normal per-seed contrasts whatever the seed x configuration interaction and the
    cells' variances. Estimate and interval then come from the same complete seeds (a seed missing a cell is left
    out of the effects, and said so); with fewer than 2 complete seeds, or a term whose per-seed contrasts all tie,
    the pooled fit's estimate and interval stay, labelled in `method`."""
    per = per_seed_effects(runs, factors, metric).frame().set_index("term")
    out = pooled.assign(method="pooled t (residual sd, seed blocks)")
    usable = out["term"].map(lambda t: t in per.index and np.isfinite(per.loc[t, "se"]))
    if not usable.any():
        return out
    rows = out.index[usable]
    for column in ("estimate", "se", "df", "ci_low", "ci_high", "p_value", "p_holm", "resolved", "method"):
        out[column] = out[column].astype(object) if column in ("resolved", "method") else out[column]
        out.loc[rows, column] = [per.loc[t, column] for t in out.loc[rows, "term"]]
    out["n_seeds"] = np.where(usable, out["term"].map(lambda t: per["n_seeds"].get(t, np.nan)), out["n_seeds"])
    out["resolved"] = out["resolved"].astype(bool)
    return out


def _observe(study: Study, runs: pd.DataFrame) -> ObservedDesign | None:
    """The design the completed runs form, cross-checked against spec.yaml's; None unless every factor has two
    levels (the full fit then says why it cannot run)."""
    try:
        check_two_level(study.factors)
    except ValueError:
        return None
    return observe_design(study.trials, runs, study.factors, study.spec_design)


def _full_grid_or_part(observed: ObservedDesign | None) -> bool:
    """Whether the full 2^k model is the one to try: the full grid, or cells missing from it (its own refusal
    then names them), or factors the design cannot read."""
    if observed is None or observed.kind != IRREGULAR:
        return True
    return observed.enclosing is None or observed.enclosing.p == 0
