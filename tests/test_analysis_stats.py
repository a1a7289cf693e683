"""Statistics of analysis/: hand-checkable tables, agreement with statsmodels and scipy, and simulations."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.simulate import DEFAULT_EFFECTS, DEFAULT_FACTORS, simulate

from analysis.stats.descriptive import config_summary, curve_summary, marginal_means, mean_ci
from analysis.doe.coding import check_two_level
from analysis.stats.model_design import balance, cell_matrix, missing_runs, model_design
from analysis.stats.multiplicity import holm
from analysis.stats.effects import factorial_effects
from analysis.stats.ols import fit_ols
from analysis.stats.paired import (clopper_pearson, named_cells, paired_comparison, paired_comparisons,
                             study_table)
from analysis.stats.power import (factorial_mde, factorial_se_at, factorial_seeds_needed,
                            minimum_detectable_effect, paired_se_at, residual_sd, sd_upper_bound, seeds_needed,
                            t_power)
from analysis.stats.shapley import (TOTAL, attribution_table, gain_interval, per_seed_gain, shapley_attribution,
                              shapley_values, shapley_weights)

TWO = {"a": (False, True), "b": ("relu", "mish")}
# cell (a, b) -> values of seeds 0 and 1; cell means 0.71, 0.82, 0.74, 0.89
HAND = {(False, "relu"): (0.70, 0.72), (True, "relu"): (0.80, 0.84),
        (False, "mish"): (0.74, 0.74), (True, "mish"): (0.90, 0.88)}


def hand_table() -> pd.DataFrame:
    rows = [{"config": f"a={int(a)}-b={b}", "model": f"M{int(a)}{b}", "a": a, "b": b, "seed": s,
             "status": "completed", "final_val_acc": v, "best_val_acc": v, "final_train_acc": v, "best_epoch": 3}
            for (a, b), vals in HAND.items() for s, v in enumerate(vals)]
    return pd.DataFrame(rows)


def test_two_by_two_effects_by_hand():
    e = factorial_effects(hand_table(), TWO).set_index("term")
    assert list(e.index) == ["a", "b", "a:b"]
    # Yates: mean at the second level minus mean at the first, averaged over the other factor
    assert e.loc["a", "estimate"] == pytest.approx((0.82 + 0.89) / 2 - (0.71 + 0.74) / 2)  # 0.13
    assert e.loc["b", "estimate"] == pytest.approx((0.74 + 0.89) / 2 - (0.71 + 0.82) / 2)  # 0.05
    assert e.loc["a:b", "estimate"] == pytest.approx(((0.89 - 0.74) - (0.82 - 0.71)) / 2)  # 0.02
    # residuals after cell and seed: +-0.005, +-0.015 twice each -> SSE = 0.001 on (4-1)(2-1) = 3 df
    se = 2 * math.sqrt(0.001 / 3 / 8)
    assert e["se"].to_numpy() == pytest.approx([se] * 3)
    assert e["df"].iloc[0] == 3
    half = 3.182446305284263 * se  # t(0.975, 3)
    assert e.loc["a", "ci_low"] == pytest.approx(0.13 - half)
    assert e.loc["a", "ci_high"] == pytest.approx(0.13 + half)
    ss_a = 8 * (0.13 / 2) ** 2
    assert e.loc["a", "partial_eta_sq"] == pytest.approx(ss_a / (ss_a + 0.001))
    assert e.loc["a:b", "p_value"] == pytest.approx(2 * stats.t.sf(0.02 / se, 3))


def test_two_by_two_shapley_and_aggregates_by_hand():
    data = hand_table()
    s = shapley_attribution(data, TWO).set_index("component")
    assert list(s.index) == ["a", "b", TOTAL]
    assert s.loc["a", "value"] == pytest.approx(((0.82 - 0.71) + (0.89 - 0.74)) / 2)
    assert s.loc["b", "value"] == pytest.approx(((0.74 - 0.71) + (0.89 - 0.82)) / 2)
    assert s.loc[TOTAL, "value"] == pytest.approx(0.89 - 0.71)
    assert s["share"].isna().all()  # the gain's per-seed interval at 2 seeds (1 df) includes 0: no shares
    # per seed: gains 0.90 - 0.70 = 0.20 and 0.88 - 0.72 = 0.16, so sd = 0.02 sqrt(2), se = 0.02 on 1 df
    half = 12.706204736174698 * 0.02  # t(0.975, 1)
    assert (s.loc[TOTAL, "ci_low"], s.loc[TOTAL, "ci_high"]) == pytest.approx((0.18 - half, 0.18 + half))
    assert s.loc[TOTAL, "df"] == 1 and s.loc[TOTAL, "method"] == "per-seed t (2 seeds)"
    # a's Shapley value on each seed: ((0.80 - 0.70) + (0.90 - 0.74)) / 2 = ((0.84 - 0.72) + (0.88 - 0.74)) / 2
    assert (s.loc["a", "ci_low"], s.loc["a", "ci_high"]) == pytest.approx((0.13, 0.13))
    # the pooled interval (the fallback): SSE = 0.001 on 3 df (see the effects test); gain = mean of 2 full runs -
    # mean of 2 baseline runs, the seed block cancelling: se = sigma * sqrt(1/2 + 1/2); in a 2x2 the Shapley
    # value of a is its main effect
    design = model_design(data, TWO, "final_val_acc")
    pooled = attribution_table(design, fit_ols(design.X, design.y)).set_index("component")
    half = 3.182446305284263 * math.sqrt(0.001 / 3)
    assert (pooled.loc[TOTAL, "ci_low"], pooled.loc[TOTAL, "ci_high"]) == pytest.approx((0.18 - half, 0.18 + half))
    e = factorial_effects(data, TWO).set_index("term")
    assert pooled.loc["a", "ci_low"] == pytest.approx(e.loc["a", "ci_low"]) and pooled.loc["a", "df"] == 3
    assert (pooled["method"] == "pooled t (3 df)").all()
    assert pooled["value"].to_numpy() == pytest.approx(s["value"].to_numpy(), abs=1e-14)  # balanced: same values
    assert pooled.loc[["a", "b"], "share"].sum() == pytest.approx(1.0)  # the pooled gain interval excludes 0
    c = config_summary(data, TWO).set_index("config")
    row = c.loc["a=0-b=relu"]
    assert row["final_val_acc_n"] == 2 and row["final_val_acc_mean"] == pytest.approx(0.71)
    assert row["final_val_acc_std"] == pytest.approx(math.sqrt(2 * 0.01 ** 2))
    assert row["final_val_acc_sem"] == pytest.approx(0.01)
    assert row["final_val_acc_ci_high"] == pytest.approx(0.71 + 12.706204736 * 0.01)
    assert list(c["model"]) == ["M0relu", "M0mish", "M1relu", "M1mish"]  # level order, first factor slowest
    m = marginal_means(data, TWO, "final_val_acc").set_index(["factor", "level"])["mean"]
    assert m[("a", True)] - m[("a", False)] == pytest.approx(0.13)


def test_mean_ci_edge_cases():
    one = mean_ci([0.5])
    assert one["n"] == 1 and one["mean"] == 0.5 and np.isnan(one["std"]) and np.isnan(one["ci_low"])
    assert mean_ci([np.nan, 0.4, 0.6])["n"] == 2


def test_effects_equal_statsmodels_anova():
    smf = pytest.importorskip("statsmodels.formula.api")
    from statsmodels.stats.anova import anova_lm

    data = simulate(n_seeds=6, rng=3)
    e = factorial_effects(data, DEFAULT_FACTORS).set_index("term")
    coded = data.assign(xa=np.where(data["shortcut"], 1.0, -1.0), xb=np.where(data["se"], 1.0, -1.0),
                        xc=np.where(data["activation"] == "mish", 1.0, -1.0), y=data["final_val_acc"])
    fit = smf.ols("y ~ xa * xb * xc + C(seed)", data=coded).fit()
    table = anova_lm(fit, typ=2)
    names = {"shortcut": "xa", "se": "xb", "activation": "xc", "shortcut:se": "xa:xb",
             "shortcut:activation": "xa:xc", "se:activation": "xb:xc", "shortcut:se:activation": "xa:xb:xc"}
    ss_resid = table.loc["Residual", "sum_sq"]
    assert e["df"].iloc[0] == table.loc["Residual", "df"]
    for term, name in names.items():
        assert e.loc[term, "estimate"] == pytest.approx(2 * fit.params[name], abs=1e-12)
        assert e.loc[term, "estimate"] ** 2 * len(data) / 4 == pytest.approx(table.loc[name, "sum_sq"])
        assert e.loc[term, "p_value"] == pytest.approx(table.loc[name, "PR(>F)"], rel=1e-8)
        ss = table.loc[name, "sum_sq"]
        assert e.loc[term, "partial_eta_sq"] == pytest.approx(ss / (ss + ss_resid))
        low, high = fit.conf_int().loc[name]
        assert (e.loc[term, "ci_low"], e.loc[term, "ci_high"]) == pytest.approx((2 * low, 2 * high))


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5, 0.2, 0.04])
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1])
    assert np.isnan(holm([np.nan, 0.1])[0]) and holm([np.nan, 0.1])[1] == pytest.approx(0.1)


def true_shapley(effects: dict) -> np.ndarray:
    three = effects["shortcut:se:activation"]
    return np.array([effects[f] + three / 3 for f in DEFAULT_FACTORS])


def test_effects_use_every_completed_run_and_equal_statsmodels_when_unbalanced():
    smf = pytest.importorskip("statsmodels.formula.api")
    data = simulate(n_seeds=4, rng=8).drop(index=[2, 13, 14, 30])  # four runs missing, in three cells
    e = factorial_effects(data, DEFAULT_FACTORS).set_index("term")
    coded = data.assign(xa=np.where(data["shortcut"], 1.0, -1.0), xb=np.where(data["se"], 1.0, -1.0),
                        xc=np.where(data["activation"] == "mish", 1.0, -1.0), y=data["final_val_acc"])
    fit = smf.ols("y ~ xa * xb * xc + C(seed)", data=coded).fit()
    assert e["n_runs"].iloc[0] == 28 and e["df"].iloc[0] == fit.df_resid == 28 - 8 - 3
    assert e.loc["shortcut:se", "estimate"] == pytest.approx(2 * fit.params["xa:xb"], abs=1e-12)
    assert e.loc["se", "se"] == pytest.approx(2 * fit.bse["xb"])
    assert e.loc["activation", "p_value"] == pytest.approx(fit.pvalues["xc"])
    assert list(e["resolved"]) == list(e["p_holm"] < 0.05)
    # the gain: full minus baseline for the same seed, as the fitted model predicts it
    base = fit.predict(coded.iloc[:1].assign(xa=-1.0, xb=-1.0, xc=-1.0)).item()
    full = fit.predict(coded.iloc[:1].assign(xa=1.0, xb=1.0, xc=1.0)).item()
    design = model_design(data, DEFAULT_FACTORS, "final_val_acc")
    s = attribution_table(design, fit_ols(design.X, design.y)).set_index("component")  # the fit's contrasts
    assert s.loc[TOTAL, "value"] == pytest.approx(full - base, abs=1e-12)
    assert s.loc[list(DEFAULT_FACTORS), "value"].sum() == pytest.approx(full - base, abs=1e-12)
    # the report's: the two seeds with a run in every cell (runs 2, 13, 14 and 30 are seeds 2, 1, 2 and 2)
    headline = shapley_attribution(data, DEFAULT_FACTORS).set_index("component")
    assert headline.loc[TOTAL, "interval_seeds"] == (0, 3) and headline.loc[TOTAL, "method"] == "per-seed t (2 seeds)"
    assert headline.loc[list(DEFAULT_FACTORS), "value"].sum() == pytest.approx(headline.loc[TOTAL, "value"],
                                                                                abs=1e-12)


def test_effects_fit_any_estimable_terms_and_refuse_the_rest():
    data = simulate(n_seeds=3, rng=2)
    half = data[data["shortcut"].astype(int) + data["se"].astype(int) + (data["activation"] == "mish")
                .astype(int) != 1]  # 5 of the 8 cells: the three with exactly one factor on are missing
    main = factorial_effects(half, DEFAULT_FACTORS, model_terms=[("shortcut",), ("se",), ("activation",)])
    assert list(main["term"]) == ["shortcut", "se", "activation"] and main["df"].iloc[0] == 15 - 1 - 3 - 2
    with pytest.raises(ValueError, match="not estimable .* no completed trial in: .*shortcut=True-se=False-"):
        factorial_effects(half, DEFAULT_FACTORS)
    with pytest.raises(ValueError, match="distinct factors"):
        factorial_effects(data, DEFAULT_FACTORS, model_terms=[("depth",)])
    one_seed = factorial_effects(data[data["seed"] == 0], DEFAULT_FACTORS)
    assert one_seed["df"].iloc[0] == 0 and one_seed["ci_low"].isna().all() and not one_seed["resolved"].any()


def test_holm_adjusts_columns_of_many_studies():
    p = np.array([[0.01, 0.2], [0.04, 0.01], [0.03, 0.5]])
    assert holm(p)[:, 0] == pytest.approx(holm(p[:, 0])) and holm(p)[:, 1] == pytest.approx(holm(p[:, 1]))


def test_shapley_sums_to_gain_and_equals_yates_formula():
    data = simulate(n_seeds=7, rng=11)
    e = factorial_effects(data, DEFAULT_FACTORS).set_index("term")["estimate"]
    s = shapley_attribution(data, DEFAULT_FACTORS).set_index("component")
    values, _ = cell_matrix(data, DEFAULT_FACTORS, "final_val_acc")
    gain = values[-1].mean() - values[0].mean()
    assert s.loc[list(DEFAULT_FACTORS), "value"].sum() == pytest.approx(gain, abs=1e-14)
    assert s.loc[TOTAL, "value"] == pytest.approx(gain, abs=1e-14)
    for factor in DEFAULT_FACTORS:
        assert s.loc[factor, "value"] == pytest.approx(e[factor] + e["shortcut:se:activation"] / 3, abs=1e-12)
    assert (s["ci_low"] <= s["value"]).all() and (s["value"] <= s["ci_high"]).all()
    g = gain_interval(data, DEFAULT_FACTORS)
    assert g["gain"] == pytest.approx(gain) and g["ci_low"] < gain < g["ci_high"]
    assert (g["baseline"], g["full"]) == pytest.approx((values[0].mean(), values[-1].mean()))  # balanced: raw
    assert (g["ci_low"], g["ci_high"]) == pytest.approx((s.loc[TOTAL, "ci_low"], s.loc[TOTAL, "ci_high"]))
    robust = per_seed_gain(data, DEFAULT_FACTORS)
    low, high = stats.t.interval(0.95, 6, loc=(values[-1] - values[0]).mean(), scale=stats.sem(values[-1] - values[0]))
    assert robust["n"] == 7 and (robust["ci_low"], robust["ci_high"]) == pytest.approx((low, high))
    assert (g["ci_low"], g["ci_high"], g["df"]) == pytest.approx((low, high, 6))  # the headline is per seed
    assert g["method"] == "per-seed t (7 seeds)" and g["pooled_df"] == 7 * 6
    phi = shapley_weights(3) @ values  # each seed's own Shapley values
    low, high = stats.t.interval(0.95, 6, loc=phi[0].mean(), scale=stats.sem(phi[0]))
    assert (s.loc["shortcut", "ci_low"], s.loc["shortcut", "ci_high"]) == pytest.approx((low, high))


def test_per_seed_attribution_uses_the_complete_seeds_and_falls_back_to_pooled_below_two():
    data = simulate(n_seeds=4, noise=0.02, rng=12).reset_index(drop=True)
    cell = data["config"]
    # seed 0 misses a middle cell, seed 2 the full one: seeds 1 and 3 have a run in every cell
    partial = data[~(((cell == "shortcut=0-se=1-act=relu") & (data["seed"] == 0))
                     | ((cell == "shortcut=1-se=1-act=mish") & (data["seed"] == 2)))]
    s = shapley_attribution(partial, DEFAULT_FACTORS).set_index("component")
    assert (s["method"] == "per-seed t (2 seeds)").all() and (s["df"] == 1).all() and (s["n_runs"] == 16).all()
    assert s.loc["se", "interval_seeds"] == (1, 3)
    assert s.loc[list(DEFAULT_FACTORS), "value"].sum() == pytest.approx(s.loc[TOTAL, "value"], abs=1e-12)
    values, _ = cell_matrix(data, DEFAULT_FACTORS, "final_val_acc")
    values = values[:, [1, 3]]
    for row, per_seed in zip(s.itertuples(), np.vstack([shapley_weights(3) @ values, values[-1] - values[0]])):
        low, high = stats.t.interval(0.95, 1, loc=per_seed.mean(), scale=stats.sem(per_seed))
        assert (row.ci_low, row.value, row.ci_high) == pytest.approx((low, per_seed.mean(), high)), row.Index
    g = gain_interval(partial, DEFAULT_FACTORS)
    assert (g["baseline"], g["full"]) == pytest.approx((values[0].mean(), values[-1].mean()))
    assert g["full"] - g["baseline"] == pytest.approx(g["gain"], abs=1e-12) and g["n_baseline"] == 2
    assert g["gain"] == pytest.approx(s.loc[TOTAL, "value"]) and g["pooled_df"] == 30 - 8 - 3
    # seed 1 also misses a cell: one seed complete, so the fit's values with pooled intervals
    fewer = partial[~((partial["config"] == "shortcut=1-se=0-act=mish") & (partial["seed"] == 1))]
    f = shapley_attribution(fewer, DEFAULT_FACTORS)
    design = model_design(fewer, DEFAULT_FACTORS, "final_val_acc")
    pooled = attribution_table(design, fit_ols(design.X, design.y))
    assert (f["method"] == f"pooled t ({design.n_runs - 8 - 3} df)").all()
    pd.testing.assert_frame_equal(f, pooled)
    assert f["value"].iloc[:3].sum() == pytest.approx(f["value"].iloc[-1], abs=1e-12)
    # one seed: no interval at all
    one = shapley_attribution(data[data["seed"] == 0], DEFAULT_FACTORS)
    assert one["ci_low"].isna().all() and (one["method"] == "none (0 residual df)").all()


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_shapley_equals_the_average_over_all_orders(k):
    v = np.random.default_rng(k).normal(size=2 ** k)
    expected = np.zeros(k)
    orders = list(itertools.permutations(range(k)))
    for order in orders:
        mask = 0
        for player in order:
            expected[player] += v[mask | (1 << player)] - v[mask]
            mask |= 1 << player
    expected /= len(orders)
    assert shapley_values(v) == pytest.approx(expected, abs=1e-12)
    assert shapley_weights(k).sum(axis=0)[[0, -1]] == pytest.approx([-1, 1])


def test_2_to_4_with_depth_needs_no_code_change():
    factors = {**DEFAULT_FACTORS, "depth": (18, 34)}
    effects = {**DEFAULT_EFFECTS, "depth": 0.02, "shortcut:depth": 0.03, "shortcut:se:activation:depth": 0.004}
    data = simulate(factors, effects, n_seeds=10, noise=0.005, rng=5)
    e = factorial_effects(data, factors).set_index("term")
    assert len(e) == 15 and "shortcut:se:activation:depth" in e.index
    for term in e.index:
        truth = effects.get(term, 0.0)
        assert e.loc[term, "ci_low"] - 0.004 <= truth <= e.loc[term, "ci_high"] + 0.004, term
    s = shapley_attribution(data, factors)
    values, _ = cell_matrix(data, factors, "final_val_acc")
    assert s["value"].iloc[:4].sum() == pytest.approx(values[-1].mean() - values[0].mean(), abs=1e-14)
    trials = data.assign(status="completed", best_val_acc=data["final_val_acc"],
                         final_train_acc=data["final_val_acc"], best_epoch=5)
    p = paired_comparisons(trials, factors)
    assert sorted(set(p["group"])) == ["depth=18", "depth=34"] and len(p) == 10
    assert set(p.loc[p["group"] == "depth=18", "baseline"]) == {"Plain-18", "ResNet-18"}


def test_factor_with_three_levels_is_refused_but_aggregates_work():
    factors = {"shortcut": (False, True), "depth": (18, 34, 50)}
    rows = [{"config": f"s={int(s)}-d={d}", "model": f"m{int(s)}{d}", "shortcut": s, "depth": d, "seed": k,
             "status": "completed", "final_val_acc": 0.5 + 0.01 * k, "best_val_acc": 0.6, "final_train_acc": 0.7,
             "best_epoch": 2} for s in (False, True) for d in (18, 34, 50) for k in range(3)]
    trials = pd.DataFrame(rows)
    with pytest.raises(ValueError, match="two-level factors; 'depth' has 3 level"):
        balance(trials, factors, "final_val_acc")
    with pytest.raises(ValueError, match="two-level"):
        factorial_effects(trials, factors)
    with pytest.raises(ValueError, match="two-level"):
        check_two_level(factors)
    assert len(config_summary(trials, factors)) == 6


def simulated_trials(n_seeds=5, **kw) -> pd.DataFrame:
    data = simulate(n_seeds=n_seeds, **kw)
    return data.assign(status="completed", best_val_acc=data["final_val_acc"] + 0.01,
                       final_train_acc=data["final_val_acc"] + 0.05, best_epoch=4,
                       trial_id=[f"t{i}" for i in range(len(data))])


def test_balance_keeps_seeds_complete_in_every_cell():
    trials = simulated_trials()
    full = "shortcut=1-se=1-act=mish"
    trials.loc[(trials["config"] == full) & (trials["seed"] == 3), "status"] = "failed"
    trials.loc[(trials["config"] == "shortcut=0-se=0-act=relu") & (trials["seed"] == 1), "final_val_acc"] = np.nan
    kept, notes = balance(trials, DEFAULT_FACTORS, "final_val_acc")
    assert sorted(set(kept["seed"])) == [0, 2, 4] and len(kept) == 24
    assert any("seed 3" in n and full in n and "failed" in n for n in notes)
    assert any("seed 1" in n and "no final_val_acc" in n for n in notes)
    all_failed = trials.assign(status=np.where(trials["config"] == full, "failed", trials["status"]))
    with pytest.raises(ValueError, match=f"no completed trial in: {full}$"):
        balance(all_failed, DEFAULT_FACTORS, "final_val_acc")
    never_ran = trials[trials["config"] != full]  # no row at all: named by its levels
    with pytest.raises(ValueError, match="no completed trial in: shortcut=True-se=True-activation=mish$"):
        balance(never_ran, DEFAULT_FACTORS, "final_val_acc")
    # the effects keep every completed run: 40 - 2 = 38, not the 24 of the balanced seeds
    e = factorial_effects(trials, DEFAULT_FACTORS)
    assert e["n_runs"].iloc[0] == 38 and e["df"].iloc[0] == 38 - 1 - 7 - 4
    gone = missing_runs(trials, DEFAULT_FACTORS, "final_val_acc")
    assert gone == ["shortcut=0-se=0-act=relu seed 1 (no final_val_acc)", f"{full} seed 3 (failed)"]


def test_paired_comparison_against_scipy_and_by_hand():
    a = np.array([0.70, 0.72, 0.71, 0.69, 0.73, 0.70, 0.74])
    b = a + np.array([0.02, 0.01, 0.03, -0.01, 0.02, 0.015, 0.025])
    r = paired_comparison(a, b)
    assert r["n"] == 7 and r["mean_diff"] == pytest.approx((b - a).mean())
    assert r["p_t"] == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert r["p_wilcoxon"] == pytest.approx(stats.wilcoxon(b - a).pvalue)
    low, high = stats.t.interval(0.95, 6, loc=(b - a).mean(), scale=stats.sem(b - a))
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((low, high))
    # paired: 6 of the 7 seeds improve; exact binomial interval
    assert r["n_improved"] == 6 and r["prob_improvement"] == pytest.approx(6 / 7)
    exact = stats.binomtest(6, 7).proportion_ci(0.95, method="exact")
    assert (r["pi_ci_low"], r["pi_ci_high"]) == pytest.approx((exact.low, exact.high))
    few = paired_comparison(a[:5], b[:5])
    assert np.isnan(few["p_wilcoxon"]) and np.isfinite(few["p_t"])  # 5 pairs: signed-rank p cannot reach 0.05
    tie = paired_comparison([0.5, 0.6, 0.7], [0.5, 0.7, 0.8])
    assert tie["n_improved"] == 2  # a tie is no improvement
    assert clopper_pearson(3, 3) == pytest.approx((0.025 ** (1 / 3), 1.0))  # all 3 seeds better: [0.29, 1]
    assert clopper_pearson(0, 5)[0] == 0.0


def test_named_comparisons_are_one_holm_family():
    trials = simulated_trials(n_seeds=4)
    p = paired_comparisons(trials, DEFAULT_FACTORS, min_effect=0.02)
    assert len(p) == 5 and p["p_holm"].to_numpy() == pytest.approx(holm(p["p_t"].to_numpy()))
    assert list(p["resolved"]) == list(p["p_holm"] < 0.05)
    row = p.iloc[0]
    assert row["mde"] == pytest.approx(minimum_detectable_effect(row["sd_diff"] / 2, 3, 0.05 / 5))
    upper = sd_upper_bound(row["sd_diff"], 3)
    assert row["seeds_needed"] == seeds_needed(0.02, paired_se_at(upper), 0.05 / 5)


def test_named_models_found_by_levels_not_names():
    trials = simulated_trials()
    trials["model"] = "renamed-" + trials["config"]  # names no longer say which model is which
    cells = named_cells(trials, DEFAULT_FACTORS).set_index("named")["config"]
    assert cells["Plain-34"] == "shortcut=0-se=0-act=relu"
    assert cells["SE-ResNet-34"] == "shortcut=1-se=1-act=relu"
    assert cells["Mish-ResNet-34"] == "shortcut=1-se=0-act=mish"
    p = paired_comparisons(trials, DEFAULT_FACTORS)
    assert list(zip(p["named_baseline"], p["named_model"])) == [
        ("Plain-34", "ResNet-34"), ("Plain-34", "SE-ResNet-34"), ("Plain-34", "Mish-ResNet-34"),
        ("ResNet-34", "SE-ResNet-34"), ("ResNet-34", "Mish-ResNet-34")]
    # without the activation factor, Mish-ResNet-34 cannot be found and its comparisons are skipped
    relu = simulated_trials()
    relu = relu[relu["activation"] == "relu"].drop(columns="activation")
    factors = {"shortcut": (False, True), "se": (False, True)}
    p = paired_comparisons(relu, factors)
    assert len(p) == 3 and "Mish-ResNet-34" not in set(p["named_model"])


def test_study_table_gain_is_paired_against_plain():
    trials = simulated_trials(n_seeds=4)
    t = study_table(trials, DEFAULT_FACTORS).set_index("model")
    assert list(t.index[:4]) == ["Plain-34", "ResNet-34", "SE-ResNet-34", "Mish-ResNet-34"]
    plain = trials[trials["model"] == "Plain-34"].sort_values("seed")["final_val_acc"].to_numpy()
    res = trials[trials["model"] == "ResNet-34"].sort_values("seed")["final_val_acc"].to_numpy()
    assert t.loc["ResNet-34", "gain_mean"] == pytest.approx((res - plain).mean())
    assert t.loc["ResNet-34", "gain_std"] == pytest.approx((res - plain).std(ddof=1))
    assert t.loc["Plain-34", "gain_mean"] == 0 and (t["reference"] == "Plain-34").all()
    assert t.loc["ResNet-34", "final_train_acc_mean"] == pytest.approx(res.mean() + 0.05)


def test_power_mde_and_seeds_needed():
    se, df = 0.01, 20
    mde = minimum_detectable_effect(se, df)
    assert t_power(mde, se, df) == pytest.approx(0.8, abs=1e-6)
    assert minimum_detectable_effect(se, 10 ** 6) == pytest.approx((1.959964 + 0.841621) * se, rel=1e-3)
    assert t_power(0.3, se, df) == pytest.approx(1.0)  # far tail: no NaN
    sd = 0.02
    n = seeds_needed(0.01, paired_se_at(sd))
    assert t_power(0.01, sd / math.sqrt(n), n - 1) >= 0.8 > t_power(0.01, sd / math.sqrt(n - 1), n - 2)
    assert seeds_needed(0.0, paired_se_at(sd)) == np.inf
    assert seeds_needed(1e-7, paired_se_at(sd)) == np.inf  # beyond the cap
    assert np.isnan(seeds_needed(0.01, paired_se_at(np.nan)))  # no noise estimate (one seed)


def test_planning_functions():
    assert residual_sd(0.001, 3) == pytest.approx(math.sqrt(0.001 / 3)) and np.isnan(residual_sd(1.0, 0))
    # one-sided 80% upper bound: df s^2 / sigma^2 ~ chi2(df), so P(sigma <= bound) = 0.8
    assert sd_upper_bound(0.02, 14) == pytest.approx(0.02 * math.sqrt(14 / stats.chi2.ppf(0.2, 14)))
    assert sd_upper_bound(0.02, 14, 0.9) > sd_upper_bound(0.02, 14) > 0.02
    # 2^3, 7 terms: se = 2 sd / sqrt(8 n) on 7 (n - 1) df, tested at 0.05 / 7
    assert factorial_se_at(0.02, 8, 7)(3) == pytest.approx((2 * 0.02 / math.sqrt(24), 14))
    n = factorial_seeds_needed(0.01, 0.02, 8, 7)
    se_at = factorial_se_at(0.02, 8, 7)
    assert t_power(0.01, *se_at(int(n)), 0.05 / 7) >= 0.8 > t_power(0.01, *se_at(int(n) - 1), 0.05 / 7)
    mde = factorial_mde(3, 0.02, 8, 7)
    assert t_power(mde, *se_at(3), 0.05 / 7) == pytest.approx(0.8, abs=1e-6)
    assert mde > minimum_detectable_effect(*se_at(3))  # the family-wise rule needs a larger effect
    assert factorial_seeds_needed(0.01, 0.03, 8, 7) > n  # more noise, more seeds


def test_curve_summary_uses_completed_trials_once_per_epoch():
    trials = pd.DataFrame({"trial_id": ["x", "y", "z"], "config": ["c1", "c1", "c1"], "model": ["M"] * 3,
                           "seed": [0, 1, 2], "status": ["completed", "completed", "failed"]})
    epochs = pd.DataFrame({"trial_id": ["x", "x", "x", "y", "y", "z"], "config": ["c1"] * 6, "model": ["M"] * 6,
                           "seed": [0, 0, 0, 1, 1, 2], "epoch": [1, 2, 2, 1, 2, 1],
                           "train_acc": [0.5, 0.0, 0.6, 0.7, 0.8, 0.9], "val_acc": [0.4, 0.0, 0.5, 0.6, 0.7, 0.1]})
    c = curve_summary(epochs, trials, {}).set_index(["split", "epoch"])
    assert c.loc[("val", 1), "n"] == 2 and c.loc[("val", 1), "mean"] == pytest.approx(0.5)
    assert c.loc[("train", 2), "mean"] == pytest.approx(0.7)  # the restarted epoch's last report counts
