"""Error rates of the dispersion effects (analysis/stats/dispersion.py) on simulated 2^3 studies with known truth.

Studies are simulated as arrays (studies, 8 cells, seeds) and analysed at once by `dispersion_arrays`, the
function `dispersion_effects` applies to a real table, with the report's Holm rule. Truth: mean 80%, location
effects 20 pp (shortcut) and 5 pp (every other term: they must not leak into the spread), per-run noise 2 pp, a
seed block of 1 pp shared by every cell of a seed. With 4000 studies an error rate of 0.05 has Monte Carlo
standard error 0.0034; the family-wise bound is asserted at 0.05 plus two of them. The measured rates are in
analysis/stats/dispersion.py's docstring (benchmarks/dispersion_error_rates.py prints them).
"""
from __future__ import annotations

import numpy as np
import pytest
from analysis.doe.coding import coded_columns
from analysis.stats.model_design import cell_matrix
from analysis.stats.effects import holm, resolved
from analysis.simulate import DEFAULT_FACTORS, simulate
from analysis.stats.dispersion import dispersion_arrays, dispersion_effects

STUDIES = 4000
SEEDS = [3, 5, 10]
NOISE, SEED_SD, MU = 0.02, 0.01, 0.8
CODED = coded_columns(DEFAULT_FACTORS)  # (8 cells, 7 terms); term 0 is the shortcut, bit 0 of the cell
LOCATION = np.array([0.20, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])
PLAIN = CODED[:, 0] < 0
FWER_BOUND = 0.05 + 2 * np.sqrt(0.05 * 0.95 / STUDIES)


def studies(n_seeds: int, sd_of_cell: np.ndarray, rng: np.random.Generator, failing=None, p_fail: float = 0.2,
            loss: float = 0.30) -> np.ndarray:
    """(STUDIES, 8, n_seeds) final accuracies; `failing` (8,) bool: cells whose runs lose `loss` with p_fail."""
    mean = MU + CODED @ (LOCATION / 2)
    y = (mean[None, :, None] + rng.normal(0, 1, (STUDIES, 8, n_seeds)) * sd_of_cell[None, :, None]
         + rng.normal(0, SEED_SD, (STUDIES, 1, n_seeds)))
    if failing is not None:
        y -= loss * ((rng.random(y.shape) < p_fail) & failing[None, :, None])
    return y


def analysed(y: np.ndarray) -> tuple[dict, np.ndarray]:
    r = dispersion_arrays(y, CODED)
    return r, resolved(holm(r["p_value"].T)).T


def covered(r: dict, true_ratio: np.ndarray) -> np.ndarray:
    return (r["ci_low"] <= true_ratio) & (true_ratio <= r["ci_high"])


EQUAL = np.full(8, NOISE)
PLAIN_FOUR_TIMES = np.where(PLAIN, 2 * NOISE, NOISE / 2)  # sd ratio (shortcut on / off) 1/4


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_no_dispersion_effect_is_resolved_under_large_location_effects(n_seeds):
    _, res = analysed(studies(n_seeds, EQUAL, np.random.default_rng(n_seeds)))
    assert res.any(axis=1).mean() <= FWER_BOUND


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_ratio_intervals_cover_with_a_true_dispersion_effect(n_seeds):
    r, res = analysed(studies(n_seeds, PLAIN_FOUR_TIMES, np.random.default_rng(100 + n_seeds)))
    true_ratio = np.ones(7)
    true_ratio[0] = 1 / 4
    coverage = covered(r, true_ratio).mean(axis=0)
    assert np.all((coverage >= 0.93) & (coverage <= 0.97)), coverage
    assert res[:, 1:].any(axis=1).mean() <= FWER_BOUND  # the other six terms stay null


@pytest.mark.parametrize("n_seeds, at_least", [(3, 0.1), (5, 0.65), (10, 0.95)])
def test_power_to_resolve_a_fourfold_sd_ratio(n_seeds, at_least):
    _, res = analysed(studies(n_seeds, PLAIN_FOUR_TIMES, np.random.default_rng(200 + n_seeds)))
    assert res[:, 0].mean() >= at_least


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_one_failed_run_is_not_called_a_dispersion_effect(n_seeds):
    """One run of one cell loses 30 pp: no term may be resolved (the failed run also widens its cell's
    variation of the deviations, which the test's standard error uses)."""
    rng = np.random.default_rng(7 + n_seeds)
    y = studies(n_seeds, EQUAL, rng)
    y[np.arange(STUDIES), rng.integers(0, 8, STUDIES), rng.integers(0, n_seeds, STUDIES)] -= 0.30
    _, res = analysed(y)
    assert res.any(axis=1).mean() <= FWER_BOUND


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_failures_confined_to_plain_cells_do_not_make_se_or_mish_stabilise(n_seeds):
    """20% of Plain runs lose 30 pp: the shortcut truly shrinks the spread; the six other terms do not. Measured
    family-wise error over those six (benchmarks/dispersion_error_rates.py): at most 0.055 (10 seeds); asserted
    at 0.08, what was measured plus Monte Carlo slack, not at 0.05."""
    _, res = analysed(studies(n_seeds, EQUAL, np.random.default_rng(11 + n_seeds), failing=PLAIN))
    assert res[:, 1:].any(axis=1).mean() <= 0.08
    if n_seeds == 10:
        assert res[:, 0].mean() >= 0.6  # measured 0.69


@pytest.mark.parametrize("n_seeds", SEEDS)
def test_failures_in_every_cell_are_not_a_dispersion_effect(n_seeds):
    """20% of every cell's runs lose 30 pp: no cell is truly noisier. Measured at most 0.065 (10 seeds)."""
    _, res = analysed(studies(n_seeds, EQUAL, np.random.default_rng(21 + n_seeds), failing=np.ones(8, bool)))
    assert res.any(axis=1).mean() <= 0.08


def test_table_matches_the_array_core_and_refuses_two_seeds():
    data = simulate(n_seeds=4, rng=3)
    table = dispersion_effects(data, DEFAULT_FACTORS)
    values, _ = cell_matrix(data, DEFAULT_FACTORS, "final_val_acc")
    r = dispersion_arrays(values, CODED)
    assert np.allclose(table["sd_ratio"], r["sd_ratio"]) and np.allclose(table["ci_high"], r["ci_high"])
    assert np.allclose(table["sd_ratio"], table["spread_high"] / table["spread_low"])
    # the interval holds 1 exactly when the unadjusted test does not reject
    assert ((table["ci_low"] <= 1) & (1 <= table["ci_high"])).tolist() == (table["p_value"] >= 0.05).tolist()
    assert list(table["term"])[:3] == ["shortcut", "se", "activation"] and set(table["n_seeds"]) == {4}
    with pytest.raises(ValueError, match="at least 3 seeds"):
        dispersion_effects(simulate(n_seeds=2, rng=3), DEFAULT_FACTORS)


def test_a_failed_trial_drops_its_seed_and_tied_accuracies_give_a_finite_answer():
    data = simulate(n_seeds=4, rng=5).assign(status="completed")
    data.loc[0, "status"] = "failed"  # seed 0 of the first cell: seed 0 leaves the balanced subset
    assert set(dispersion_effects(data, DEFAULT_FACTORS)["n_seeds"]) == {3}
    tied = simulate(n_seeds=3, rng=5)
    tied.loc[tied["shortcut"], "final_val_acc"] = 0.9  # every residual cell the same accuracy on every seed
    row = dispersion_effects(tied, DEFAULT_FACTORS).set_index("term").loc["shortcut"]
    assert 0 <= row["ci_low"] <= row["sd_ratio"] <= row["ci_high"] < 0.2 and row["p_value"] < 0.05


def test_seeds_needed_matches_the_simulated_power():
    from analysis.stats.dispersion_plan import dispersion_power, dispersion_seeds_needed
    need = dispersion_seeds_needed(1 / 4)
    assert need == dispersion_seeds_needed(4) and 3 <= need <= 10
    assert dispersion_power(1 / 4, int(need)) >= 0.8 > dispersion_power(1 / 4, int(need) - 1)
    assert dispersion_seeds_needed(1.0) == np.inf and np.isnan(dispersion_seeds_needed(-1.0))
