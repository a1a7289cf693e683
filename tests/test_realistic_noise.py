"""Error rates of the per-seed methods (analysis/stats/) under realistic noise, with known truth, at 3, 5, 10 seeds.

Noise models (analysis/stats/noise_models.py): additive, heteroscedastic (plain cells 10x noisier), seed x
shortcut (a seed shifts the plain cells together), ceiling (binomial errors on 359 images, 97-99.5% accuracy, a
seed factor on the error rate), failures (20% of plain runs lose 30 pp). With R studies a coverage of 0.95 has
Monte-Carlo standard error sqrt(0.95 * 0.05 / R) (0.0034 at R = 4000): the band [0.93, 0.97] is 6 of them wide on
each side, so a method covering 0.90 fails. A family-wise error bound of 0.05 is checked as <= 0.05 + 2 Monte-Carlo
standard errors at 10000 studies (FWER_BOUND = 0.0554; Holm's own error at 7 terms is ~0.049). benchmarks/realistic_noise.py prints the same numbers with more studies.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

from analysis.stats.descriptive import mean_ci
from analysis.stats.model_design import cell_index
from analysis.stats.effects import factorial_effects, holm
from analysis.stats.paired import COMPARISONS, paired_comparison
from analysis.simulate import DEFAULT_EFFECTS, DEFAULT_FACTORS, simulate
from analysis.stats.config_interval import config_intervals
from analysis.stats.noise_models import CEILING_EFFECTS, simulate_cells, true_contrast_sd
from analysis.stats.paired_floor import floored_paired_comparison, floored_paired_t
from analysis.stats.per_seed_effects import per_seed_effect_arrays, per_seed_effects, seed_contrasts
from analysis.stats.pooled_baseline import covers, pooled_effect_intervals
from analysis.stats.seed_diagnostics import failed_runs, lowest_seed, seed_interaction
from analysis.stats.term_planning import sd_upper_bounds, term_plan

F = DEFAULT_FACTORS
STUDIES = 4000
BAND = (0.93, 0.97)
FWER_STUDIES = 10_000
FWER_BOUND = 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / FWER_STUDIES)
SEEDS = [3, 5, 10]
NORMALISH = ["additive", "heteroscedastic", "seed_x_shortcut", "ceiling"]
# named models' cells in bit-mask order (shortcut bit 0, se bit 1, activation bit 2)
NAMED_CELL = {"Plain-34": 0, "ResNet-34": 1, "SE-ResNet-34": 3, "Mish-ResNet-34": 5}


@functools.cache
def contrast_sd(model: str) -> np.ndarray:
    return true_contrast_sd(model, effects_of(model), draws=200_000)


def effects_of(model: str) -> dict:
    return CEILING_EFFECTS if model == "ceiling" else DEFAULT_EFFECTS


def null_but_shortcut(model: str) -> dict:
    return {"shortcut": 0.01 if model == "ceiling" else 0.03}


def seed_index(model: str, n_seeds: int, salt: int) -> int:
    return 1000 * salt + 10 * NORMALISH.index(model) + n_seeds if model in NORMALISH else 1000 * salt + n_seeds


@pytest.mark.parametrize("n_seeds", SEEDS)
@pytest.mark.parametrize("model", NORMALISH)
def test_per_seed_effect_intervals_cover_every_term(model, n_seeds):
    sim = simulate_cells(model, n_seeds, STUDIES, effects_of(model), seed_index(model, n_seeds, 1))
    a = per_seed_effect_arrays(sim.values, F)
    coverage = covers(a.ci_low, a.ci_high, sim.effect_truth).mean(axis=0)
    assert (a.n_seeds == n_seeds).all() and (a.df == n_seeds - 1).all()
    assert BAND[0] <= coverage.min() and coverage.max() <= BAND[1], coverage


@pytest.mark.parametrize("n_seeds", SEEDS)
@pytest.mark.parametrize("model", NORMALISH)
def test_resolved_controls_the_family_wise_error_of_the_null_terms(model, n_seeds):
    sim = simulate_cells(model, n_seeds, FWER_STUDIES, null_but_shortcut(model), seed_index(model, n_seeds, 2))
    a = per_seed_effect_arrays(sim.values, F)
    null = np.array([t != "shortcut" for t in sim.term_names])
    assert a.resolved[:, null].any(axis=1).mean() <= FWER_BOUND


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_the_pooled_residual_fails_when_a_seed_moves_the_plain_cells(n_seeds):
    """The report's current intervals (analysis/stats/effects.py's pooled OLS) cover shortcut ~0.55 under seed x
    shortcut noise, while the per-seed ones on the same studies hold 0.95 (the test above)."""
    sim = simulate_cells("seed_x_shortcut", n_seeds, STUDIES, DEFAULT_EFFECTS, 30 + n_seeds)
    c = pooled_effect_intervals(sim.values, F)
    coverage = covers(c.ci_low, c.ci_high, sim.effect_truth[:, None]).mean(axis=1)
    assert coverage[sim.term_names.index("shortcut")] < 0.80
    a = per_seed_effect_arrays(sim.values, F)
    assert np.allclose(a.estimate, c.estimate.T)  # balanced: the same estimates, only the intervals differ


def test_moderated_variance_fails_where_a_seed_moves_the_plain_cells():
    """Why the default is the per-term t: limma-style moderation borrows the other terms' variance (measured
    0.78 for shortcut at 3 seeds; the per-term t holds 0.95 on the same studies)."""
    sim = simulate_cells("seed_x_shortcut", 3, STUDIES, DEFAULT_EFFECTS, 41)
    moderated = per_seed_effect_arrays(sim.values, F, method="moderated")
    plain = per_seed_effect_arrays(sim.values, F, method="t")
    i = sim.term_names.index("shortcut")
    assert covers(moderated.ci_low, moderated.ci_high, sim.effect_truth).mean(axis=0)[i] < 0.85
    assert covers(plain.ci_low, plain.ci_high, sim.effect_truth).mean(axis=0)[i] >= BAND[0]
    assert (moderated.df > plain.df).all()  # moderation does buy degrees of freedom


def test_missing_cells_use_the_complete_seeds_and_say_how_many():
    sim = simulate_cells("heteroscedastic", 10, STUDIES, DEFAULT_EFFECTS, 50)
    values = sim.values.copy()
    values[:, 0, 0] = np.nan  # seed 0 lacks the baseline, seed 1 another cell
    values[:, 1, 5] = np.nan
    a = per_seed_effect_arrays(values, F)
    assert (a.n_seeds == 8).all() and (a.df == 7).all()
    coverage = covers(a.ci_low, a.ci_high, sim.effect_truth).mean(axis=0)
    assert BAND[0] <= coverage.min() and coverage.max() <= BAND[1], coverage
    values[:, 2:, 3] = np.nan  # seeds 0 and 1 are incomplete already: now no seed is complete
    none = per_seed_effect_arrays(values[:10], F)
    assert (none.n_seeds == 0).all() and np.isnan(none.ci_low).all() and not none.resolved.any()


def test_the_table_from_a_frame_matches_the_fit_and_drops_an_incomplete_seed():
    runs = simulate(n_seeds=5, rng=3)
    table = per_seed_effects(runs, F).frame()
    fit = factorial_effects(runs, F)
    assert list(table.columns) == ["term", "estimate", "se", "df", "ci_low", "ci_high", "p_value", "p_holm",
                                   "resolved", "n_seeds", "method"]
    assert np.allclose(table["estimate"], fit["estimate"]) and (table["df"] == 4).all()
    assert (table["method"] == "per-seed t (5 seeds)").all()
    fewer = per_seed_effects(runs.drop(index=runs.index[(runs["seed"] == 2) & runs["se"]][:1]), F)
    assert fewer.n_seeds == 4 and fewer.method == "per-seed t (4 seeds)"


@pytest.mark.parametrize("n_seeds", SEEDS)
@pytest.mark.parametrize("model", NORMALISH)
def test_each_terms_sd_bound_holds_its_stated_80_percent(model, n_seeds):
    """Measured (this test's draws): 0.79-0.81 in additive, heteroscedastic, seed x shortcut; 0.77-0.80 near the
    ceiling, where the discrete, seed-scaled errors have heavier tails than normal (asserted >= 0.75)."""
    truth = contrast_sd(model)
    sim = simulate_cells(model, n_seeds, STUDIES, effects_of(model), seed_index(model, n_seeds, 3))
    a = per_seed_effect_arrays(sim.values, F)
    held = (truth <= sd_upper_bounds(a.sd, a.df)).mean(axis=0)
    low = 0.75 if model == "ceiling" else 0.78
    assert low <= held.min() and held.max() <= 0.82, held


def test_each_term_is_planned_with_its_own_noise():
    """Under seed x shortcut noise the shortcut term needs far more seeds than the others (one study, 10 seeds;
    the plain residual sd would plan every term alike)."""
    sim = simulate_cells("seed_x_shortcut", 10, 1, DEFAULT_EFFECTS, 60)
    runs = simulate(n_seeds=10, rng=0)  # the frame's layout, with the simulated values in it
    cells = cell_index(runs, F)
    runs["final_val_acc"] = sim.values[0][runs["seed"].to_numpy(), cells]
    plan = term_plan(per_seed_effects(runs, F), min_effect=0.02)
    need = dict(zip(plan.term, plan.seeds_needed))
    assert need["shortcut"] > 5 * max(v for t, v in need.items() if t != "shortcut")
    assert np.allclose(plan.sd_upper / plan.sd, sd_upper_bounds(1.0, 9.0)) and plan.alpha_per_test == 0.05 / 7
    with pytest.raises(ValueError):
        term_plan(per_seed_effects(runs, F, method="moderated"), min_effect=0.02)


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_floored_paired_comparisons_never_resolve_from_ties_near_the_ceiling(n_seeds):
    """Five named comparisons, no true difference, Holm: family-wise error of resolved <= 0.05 (measured
    0.000-0.004), where the old rule (p = 0 for tied differences) errs in ~0.10 of studies at 3 seeds, 99.5%."""
    for mu in (0.97, 0.99, 0.995):
        v = simulate_cells("ceiling", n_seeds, STUDIES, {}, 70 + n_seeds, mu=mu).values
        p = np.array([floored_paired_t(v[:, :, NAMED_CELL[x]], v[:, :, NAMED_CELL[y]])["p_t"]
                      for x, y in COMPARISONS])
        assert (holm(p) < 0.05).any(axis=0).mean() <= FWER_BOUND
    if n_seeds == 3:
        v = v[:300]  # the old rule through analysis/stats/paired.py itself, one study at a time
        old = np.array([[paired_comparison(s[:, NAMED_CELL[x]], s[:, NAMED_CELL[y]])["p_t"] for x, y in COMPARISONS]
                        for s in v]).T
        assert (holm(old) < 0.05).any(axis=0).mean() > 0.05


def test_a_tied_pair_is_not_resolved_and_far_from_the_ceiling_nothing_changes():
    tied = floored_paired_comparison([0.99, 0.995, 0.98], [0.995, 1.0, 0.985])
    assert paired_comparison([0.99, 0.995, 0.98], [0.995, 1.0, 0.985])["p_t"] == 0.0
    assert tied["floored"] and tied["p_t"] > 0.05 and tied["ci_high"] - tied["ci_low"] > 0.005
    a, b = [0.80, 0.82, 0.79], [0.83, 0.86, 0.80]
    old, new = paired_comparison(a, b), floored_paired_comparison(a, b)
    assert not new["floored"] and all(np.isclose(old[k], new[k]) for k in ("ci_low", "ci_high", "p_t"))


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_config_interval_covers_near_the_ceiling_and_is_never_zero_wide(n_seeds):
    for mu in (0.97, 0.98, 0.99, 0.995):
        v = simulate_cells("ceiling", n_seeds, 2 * STUDIES, {}, 80 + n_seeds, mu=mu).values[:, :, 0]
        ci = config_intervals(v)
        coverage = covers(ci.ci_low, ci.ci_high, mu).mean()
        assert BAND[0] <= coverage <= BAND[1], (mu, coverage)
        assert (ci.ci_high - ci.ci_low).min() > 0
    far = simulate_cells("additive", n_seeds, 5, {}, 1).values[:, :, 0]
    ours, theirs = config_intervals(far), [mean_ci(row) for row in far]
    assert np.allclose(ours.ci_low, [t["ci_low"] for t in theirs]) and not ours.floored.any()


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_seed_x_term_test_errs_at_its_level_and_finds_a_seed_that_moves_the_plain_cells(n_seeds):
    null = seed_interaction(simulate_cells("additive", n_seeds, FWER_STUDIES, DEFAULT_EFFECTS, 90 + n_seeds).values,
                            F)
    assert np.allclose(null.share.sum(axis=1), 1.0)
    assert null.interaction.any(axis=1).mean() <= FWER_BOUND
    sim = simulate_cells("seed_x_shortcut", n_seeds, STUDIES, DEFAULT_EFFECTS, 95 + n_seeds)
    found = seed_interaction(sim.values, F)
    i = sim.term_names.index("shortcut")
    assert found.share[:, i].mean() > 0.5
    assert found.interaction[:, i].mean() > {3: 0.3, 5: 0.9, 10: 0.99}[n_seeds]
    assert np.delete(found.interaction, i, axis=1).any(axis=1).mean() <= FWER_BOUND


def test_the_seed_lowest_in_the_plain_cells_is_named():
    values = simulate_cells("additive", 5, 1, DEFAULT_EFFECTS, 7).values[0]
    values[3, 0::2] -= 0.1  # the plain cells are the even masks (shortcut, bit 0, clear)
    assert lowest_seed(values, np.arange(8) % 2 == 0) == (3, 4, 4)


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_failed_trainings_are_flagged_rarely_by_mistake_and_mostly_found(n_seeds):
    """Measured (2000 studies): false flags per run under additive noise 0.0001 / 0.0001 / 0.00003 at 3 / 5 / 10
    seeds; failures found 0.61 / 0.77 / 0.89. At 3 seeds a third of the failures sit in a cell where 2 of the 3
    runs failed, so its median is a failure and nothing in that cell looks low."""
    clean = simulate_cells("additive", n_seeds, STUDIES // 4, DEFAULT_EFFECTS, 100 + n_seeds).values
    assert failed_runs(clean).mean() <= 0.001
    sim = simulate_cells("failures", n_seeds, STUDIES // 4, DEFAULT_EFFECTS, 110 + n_seeds)
    flags = failed_runs(sim.values)
    assert flags[sim.failed].mean() >= {3: 0.55, 5: 0.72, 10: 0.85}[n_seeds]
    assert flags[~sim.failed].mean() <= 0.001


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_failed_trainings_bias_the_shortcut_effect_but_not_the_others(n_seeds):
    """In the failures model: the shortcut effect is biased by the failures (20% x 30 pp = 6 pp), so its
    interval misses the failure-free truth more and more with seeds; the other terms' intervals hold >= 0.93
    (measured 0.95-0.975: the heavy tails make them conservative)."""
    sim = simulate_cells("failures", n_seeds, STUDIES, DEFAULT_EFFECTS, 120 + n_seeds)
    a = per_seed_effect_arrays(sim.values, F)
    coverage = covers(a.ci_low, a.ci_high, sim.effect_truth).mean(axis=0)
    i = sim.term_names.index("shortcut")
    assert coverage[i] < {3: 0.92, 5: 0.80, 10: 0.30}[n_seeds]
    assert np.delete(coverage, i).min() >= 0.93 and np.delete(coverage, i).max() <= 0.99


def test_a_term_with_no_spread_over_seeds_is_not_resolved():
    values = np.tile(np.linspace(0.9, 0.97, 8), (1, 3, 1))  # three identical seeds: every contrast ties
    a = per_seed_effect_arrays(values, F)
    assert np.isnan(a.p_value).all() and np.isnan(a.ci_low).all() and not a.resolved.any()
    assert np.allclose(a.estimate[0], seed_contrasts(values, F)[0, 0])
