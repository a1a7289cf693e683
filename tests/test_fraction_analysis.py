"""The analysis of a regular fractional factorial study (analysis/stats/fraction_fit.py, analysis/stats/observed_design.py).

Simulated 2^(7-3) (resolution IV) and 2^(6-1) (resolution VI) studies with known main effects and two-factor
interactions (nothing of higher order, so a chain listed to order 2 is the whole sum a contrast estimates) and
a seed block: the estimates are the sample contrasts, the alias chains are the textbook ones, the 95% intervals
cover the chain sums at the stated level, a fold-over frees main effects from two-factor interactions, and the
report of a fraction (or of a fraction with a failed cell) says what it rests on.

Coverage: R simulated studies share one design matrix and are fitted at once (`fit_ols` with R responses); with
R = 4000 an estimated 0.95 has standard error 0.0034, so the band [0.93, 0.97] is about 6 standard errors wide
on each side.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from analysis.simulate import cells_outside, config_id, make_study, simulate, true_value

from analysis.study_analysis import analyse
from analysis.doe.coding import cell_levels
from analysis.stats.model_design import cell_index, model_design
from analysis.stats.effects import effect_contrasts, factorial_effects
from analysis.stats.fraction_fit import (ALIASES, alias_labels, fraction_effects, model_terms,
                                       shapley_label)
from analysis.doe.fractions import (alias_chains, choose_design, describe, design_cells, fold_over,
                                 resolution)
from analysis.stats.ols import contrasts, fit_ols
from analysis.results.load import load_study
from analysis.stats.observed_design import FRACTION, FULL_GRID, IRREGULAR, observe_design
from analysis.report import EFFECT_COLUMNS, build_report
from analysis.stats.shapley import attribution_contrasts, attribution_table, shapley_values

METRIC = "final_val_acc"
MU, NOISE, SEED_SD = 0.8, 0.01, 0.01
STUDIES = 4000
BAND = (0.93, 0.97)
SEVEN = {c: (False, True) for c in "ABCDEFG"}
SIX = {c: (False, True) for c in "ABCDEF"}
# known truth: main effects and two-factor interactions only (fractions of accuracy)
EFFECTS_7 = {"A": 0.04, "B": 0.012, "C": -0.006, "D": 0.0, "E": 0.008, "F": 0.003, "G": -0.002,
             "A:B": 0.005, "C:E": -0.002, "A:C": 0.004, "D:G": 0.003, "B:F": -0.003, "E:F": 0.002}
EFFECTS_6 = {"A": 0.03, "B": -0.01, "C": 0.006, "D": 0.0, "E": 0.004, "F": 0.002,
             "A:B": 0.004, "C:D": -0.003, "B:F": 0.002}
ABLATION = {"shortcut": (False, True), "se": (False, True), "activation": ("relu", "mish"), "depth": (18, 34),
            "zero_init_residual": (False, True), "resnet_d": (False, True)}
SPEC = """factors:
  shortcut: [false, true]
  se: [false, true]
  activation: [relu, mish]
  depth: [18, 34]
  zero_init_residual: [false, true]
  resnet_d: [false, true]
design:
  kind: fractional
  fraction: "1/4"
  resolution: 4
  generators: {zero_init_residual: "shortcut:se:activation", resnet_d: "se:activation:depth"}
"""


def fraction_runs(factors, fraction, effects, n_seeds=3, noise=NOISE, rng=0) -> pd.DataFrame:
    """One simulated study of the fraction's cells (every seed in every cell)."""
    data = simulate(factors, effects, n_seeds, MU, noise, SEED_SD, rng)
    return data[~data["config"].isin(cells_outside(factors, design_cells(fraction)))].reset_index(drop=True)


def cell_truth(factors, effects) -> np.ndarray:
    return np.array([true_value(levels, factors, effects, MU) for levels in cell_levels(factors)])


def chain_truth(fraction, effects, terms) -> np.ndarray:
    """The signed sum of each term's alias chain (the truth holds nothing above order 2)."""
    chains = {c.term: c for c in alias_chains(fraction, 2)}
    key = ":".join
    return np.array([effects.get(key(t), 0.0) + sum(s * effects.get(key(a), 0.0) for s, a in chains[t].aliases)
                     for t in terms])


def codes(runs, factors, term) -> np.ndarray:
    cells = cell_index(runs, factors)
    names = list(factors)
    return np.prod([np.where(cells >> names.index(f) & 1, 1.0, -1.0) for f in term], axis=0)


DESIGNS = [(SEVEN, 3, EFFECTS_7), (SIX, 1, EFFECTS_6)]


# --- what the fit estimates -------------------------------------------------------------------------------

@pytest.mark.parametrize("factors,p,effects", DESIGNS)
def test_estimates_are_the_sample_contrasts_and_the_same_fit_as_factorial_effects(factors, p, effects):
    fraction = choose_design(list(factors), p=p)
    runs = fraction_runs(factors, fraction, effects, rng=11)
    result = fraction_effects(runs, factors, METRIC, fraction)
    e = result.effects
    for term, estimate in zip(model_terms(fraction), e["estimate"]):
        x = codes(runs, factors, term)
        y = runs[METRIC].to_numpy()
        assert estimate == pytest.approx(y[x > 0].mean() - y[x < 0].mean(), abs=1e-12), term
    same = factorial_effects(runs, factors, METRIC, model_terms=model_terms(fraction))
    pd.testing.assert_frame_equal(e.drop(columns=ALIASES), same)
    assert (e["n_runs"] == len(runs)).all() and (e["n_seeds"] == 3).all()
    assert list(e["resolved"]) == list(e["p_holm"] < 0.05)


def test_textbook_alias_chains_of_the_seven_factor_eighth_fraction():
    # Box, Hunter & Hunter (2005) / NIST e-Handbook 2^(7-3): E = ABC, F = BCD, G = ACD, I = ABCE = BCDF = ...
    fraction = choose_design(list(SEVEN), p=3)
    e = fraction_effects(fraction_runs(SEVEN, fraction, EFFECTS_7), SEVEN, METRIC, fraction).effects
    assert resolution(fraction) == 4 and len(e) == 14  # 7 mains + 7 chains of three 2fis: 21 2fis, once each
    assert e[ALIASES].tolist()[7:] == ["A:B = C:E = F:G", "A:C = B:E = D:G", "A:D = C:G = E:F",
                                       "A:E = B:C = D:F", "A:F = B:G = D:E", "A:G = B:F = C:D",
                                       "B:D = C:F = E:G"]
    assert e[ALIASES].iloc[0] == "A = B:C:E = B:F:G = C:D:G = D:E:F"  # mains clear of 2fis, aliased with 3fis
    listed = [t for chain in e[ALIASES] for t in chain.split(" = ")]
    assert len(listed) == len(set(listed))  # no term is reported twice


def test_resolution_six_fits_every_main_effect_and_two_factor_interaction_clear():
    fraction = choose_design(list(SIX), p=1)
    e = fraction_effects(fraction_runs(SIX, fraction, EFFECTS_6), SIX, METRIC, fraction).effects
    assert len(e) == 6 + 15 and (e[ALIASES] == e["term"]).all()  # nothing aliased up to order 3
    assert "4-factor interactions" in describe(fraction)


@pytest.mark.parametrize("factors,p,effects", DESIGNS)
def test_intervals_cover_the_alias_chain_sums(factors, p, effects):
    fraction = choose_design(list(factors), p=p)
    result = fraction_effects(fraction_runs(factors, fraction, effects), factors, METRIC, fraction)
    design, rng = result.design, np.random.default_rng(7 + p)
    mu = cell_truth(factors, effects)
    block = rng.normal(0, SEED_SD, (len(design.seeds), STUDIES))
    Y = mu[design.cells][:, None] + block[design.seed_of_run] + rng.normal(0, NOISE, (design.n_runs, STUDIES))
    fit = fit_ols(design.X, Y)
    terms = model_terms(fraction)
    truth = chain_truth(fraction, effects, terms)
    run_cells = design_cells(fraction)  # the chain sum is the expected contrast over the cells run
    column = np.column_stack([codes(pd.DataFrame(cell_levels(factors)).iloc[run_cells], factors, t) for t in terms])
    assert truth == pytest.approx(2 * column.T @ mu[run_cells] / len(run_cells), abs=1e-12)
    e = contrasts(fit, effect_contrasts(design))
    covered = (e.ci_low <= truth[:, None]) & (truth[:, None] <= e.ci_high)
    assert BAND[0] <= covered.mean() <= BAND[1]
    assert ((covered.mean(1) >= BAND[0]) & (covered.mean(1) <= BAND[1])).all(), covered.mean(1)
    # Shapley values and the gain of the fitted model against the true ones (of all 2^k true cell means)
    s = contrasts(fit, attribution_contrasts(design))
    target = np.append(shapley_values(mu), mu[-1] - mu[0])
    covered = (s.ci_low <= target[:, None]) & (target[:, None] <= s.ci_high)
    assert ((covered.mean(1) >= BAND[0]) & (covered.mean(1) <= BAND[1])).all(), covered.mean(1)


# --- Shapley values of the fitted model -------------------------------------------------------------------

def test_shapley_values_are_the_main_effects_whatever_member_carries_a_chain():
    fraction = choose_design(list(SEVEN), p=3)
    runs = fraction_runs(SEVEN, fraction, EFFECTS_7, rng=3)
    result = fraction_effects(runs, SEVEN, METRIC, fraction)
    s, e = result.shapley, result.effects
    assert s["value"].iloc[:7].to_numpy() == pytest.approx(e["estimate"].iloc[:7].to_numpy(), abs=1e-12)
    assert s["value"].iloc[-1] == pytest.approx(e["estimate"].iloc[:7].sum(), abs=1e-12)  # the gain
    assert "under the assumption that every interaction of three or more factors is zero" in shapley_label(result)
    # carry each 2fi chain on its LAST member instead of its first: the Shapley values do not move
    last = [t if len(t) == 1 else c.aliases[-1][1] for t, c in zip(model_terms(fraction), alias_chains(fraction, 2))]
    other = model_design(runs, SEVEN, METRIC, last)
    moved = attribution_table(other, fit_ols(other.X, other.y))
    assert moved["value"].to_numpy() == pytest.approx(s["value"].to_numpy(), abs=1e-12)


# --- fold-over --------------------------------------------------------------------------------------------

FOLD_EFFECTS = {"A": 0.03, "B": 0.01, "C": -0.01, "D": 0.005, "E": 0.0, "F": 0.002, "G": 0.004,
                "B:D": 0.01, "C:E": -0.004, "A:B": 0.003, "F:G": 0.002, "A:G": -0.003}


def test_fold_over_frees_main_effects_from_two_factor_interactions():
    """2^(7-4) resolution III (D = AB, E = AC, F = BC, G = ABC) and its full fold-over; no noise, so each
    estimate is its expectation: the single fraction's main effects carry their aliased 2fis exactly, the
    combined (automatically recovered) resolution IV design's do not."""
    single = choose_design(list(SEVEN), p=4)
    both_cells = np.union1d(design_cells(single), design_cells(fold_over(single)))
    runs = {}
    for name, cells in (("single", design_cells(single)), ("both", both_cells)):
        data = simulate(SEVEN, FOLD_EFFECTS, 3, MU, 0.0, SEED_SD, 5)
        runs[name] = data[~data["config"].isin(cells_outside(SEVEN, cells))]
    seen = {name: observe_design(r, r, SEVEN) for name, r in runs.items()}
    assert seen["single"].kind == seen["both"].kind == FRACTION
    assert resolution(seen["single"].fraction) == 3 and resolution(seen["both"].fraction) == 4
    assert seen["both"].fraction.runs == 16
    mains = [(f,) for f in SEVEN]
    truth = np.array([FOLD_EFFECTS[f] for f in SEVEN])

    one = fraction_effects(runs["single"], SEVEN, METRIC, seen["single"].fraction).effects
    assert one["term"].tolist() == list(SEVEN)  # resolution III: main effects only
    assert one[ALIASES].iloc[0].startswith("A = B:D = C:E = F:G")  # textbook: A is aliased with BD, CE, FG
    bias = chain_truth(seen["single"].fraction, FOLD_EFFECTS, mains) - truth
    assert np.abs(bias).max() > 0.005  # the 2fis do bias the single fraction ...
    assert one["estimate"].to_numpy() == pytest.approx(truth + bias, abs=1e-12)  # ... by exactly their sum

    combined = fraction_effects(runs["both"], SEVEN, METRIC, seen["both"].fraction).effects
    assert combined["estimate"].iloc[:7].to_numpy() == pytest.approx(truth, abs=1e-12)  # unbiased
    chains = chain_truth(seen["both"].fraction, FOLD_EFFECTS, model_terms(seen["both"].fraction)[7:])
    assert combined["estimate"].iloc[7:].to_numpy() == pytest.approx(chains, abs=1e-12)


# --- which design the data form ---------------------------------------------------------------------------

def test_the_design_is_read_from_the_completed_cells_and_checked_against_the_spec():
    fraction = choose_design(list(SEVEN), p=3)
    runs = fraction_runs(SEVEN, fraction, EFFECTS_7, n_seeds=2)
    seen = observe_design(runs, runs, SEVEN)
    assert seen.kind == FRACTION and seen.notes == ()
    assert seen.fraction.p == 3 and seen.cells == tuple(sorted(design_cells(fraction).tolist()))
    assert {str(c) for c in alias_chains(seen.fraction)} == {str(c) for c in alias_chains(fraction)}

    lost = cell_index(runs, SEVEN) == design_cells(fraction)[5]
    gone = runs[~lost]  # one cell failed on every seed
    broken = observe_design(runs, gone, SEVEN)
    assert broken.kind == IRREGULAR and broken.fraction is None and broken.enclosing == seen.fraction
    assert "neither the full 2^7 grid nor a regular fraction" in broken.notes[0]
    assert broken.notes[0].endswith("1 cell(s) with no completed run: " + runs.loc[lost, "config"].iloc[0])

    spec = {"kind": "fractional", "fraction": "1/8", "cells": design_cells(fraction).tolist()}
    assert observe_design(runs, runs, SEVEN, spec).notes == ()
    assert "1 of its cells have no completed run" in observe_design(runs, gone, SEVEN, spec).notes[-1]
    full = simulate(SIX, EFFECTS_6, 2, rng=1)
    as_full = observe_design(full, full, SIX, {"kind": "fractional", "generators": {"F": "A:B:C:D:E"}})
    assert as_full.kind == FULL_GRID and "32 completed cell(s) are not in it" in as_full.notes[0]


def test_full_grid_analysis_is_unchanged_and_has_empty_aliases(tmp_path):
    a = analyse(load_study(make_study(tmp_path / "run", n_seeds=3, epochs=2)))
    assert a.fractional is None and a.observed.kind == FULL_GRID
    assert (a.effects[ALIASES] == "").all() and len(a.effects) == 7


# --- the report -------------------------------------------------------------------------------------------

def ablation_fraction():
    return choose_design(list(ABLATION), p=2)  # E = ABC, F = BCD: the spec's generators


def test_report_of_a_fraction_lists_chains_states_what_it_separates_and_labels_shapley(tmp_path):
    fraction = ablation_fraction()
    effects = {"shortcut": 0.05, "se": 0.01, "shortcut:se": 0.004, "activation": 0.003}
    run = make_study(tmp_path / "run", factors=ABLATION, effects=effects, n_seeds=3, epochs=2, spec=SPEC,
                     drop_cells=cells_outside(ABLATION, design_cells(fraction)))
    build_report(run)
    out = run / "report"
    e = pd.read_csv(out / "effects.csv", keep_default_na=False)
    assert list(e.columns) == EFFECT_COLUMNS and len(e) == 6 + 7
    assert e.loc[e["term"] == "shortcut:se", ALIASES].item() == "shortcut:se = activation:zero_init_residual"
    assert e[ALIASES].tolist() == alias_labels(fraction, model_terms(fraction))
    md = (out / "report.md").read_text()
    assert describe(fraction) in md  # what the fraction can and cannot separate, in one sentence
    assert "Shapley values of the fitted model (its predictions for all 64 cells, 16 of them run), under the " \
           "assumption that every interaction of three or more factors is zero" in md
    assert "| shortcut:se | shortcut:se = activation:zero_init_residual |" in md
    assert "None: all 48 trials completed and every analysis ran." in md  # the spec's design agrees


def test_a_fraction_with_a_failed_cell_is_reported_in_gaps(tmp_path):
    fraction = ablation_fraction()
    cells = design_cells(fraction)
    lost_id = config_id({n: ABLATION[n][int(cells[3]) >> i & 1] for i, n in enumerate(ABLATION)})
    spec = SPEC + f"  cells: {cells.tolist()}\n"
    run = make_study(tmp_path / "run", factors=ABLATION, n_seeds=3, epochs=2, spec=spec,
                     drop_cells=cells_outside(ABLATION, cells), failed=[(lost_id, s) for s in range(3)])
    build_report(run)
    out = run / "report"
    assert pd.read_csv(out / "effects.csv").empty and list(pd.read_csv(out / "effects.csv").columns) == EFFECT_COLUMNS
    md = (out / "report.md").read_text()
    assert (f"the 15 cells with a completed run are neither the full 2^6 grid nor a regular fraction: the smallest "
            f"regular design holding them (a 2^(6-2) fraction of 16 cells) also has 1 cell(s) with no completed run: "
            f"{lost_id}") in md
    assert f"1 of its cells have no completed run ({lost_id})" in md
    assert "Not computed: factorial effects, Shapley attribution and planning: the cells with a completed run are " \
           "neither the full grid nor a regular fraction" in md
    assert "Shapley values of the fitted model" not in md
