"""Each component's cost as effects: exact for deterministic costs, t intervals over seeds (coverage simulated at
3, 5, 10 seeds) for noisy ones, and the cost per point of accuracy only where accuracy is resolved."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis.doe.coding import coded_columns
from analysis.stats.cost import contrast_intervals, cost_effects, cost_per_point, per_seed_contrasts

FACTORS = {"shortcut": [False, True], "se": [False, True], "activation": ["relu", "mish"]}
TERMS = ["shortcut", "se", "activation", "shortcut:se", "shortcut:activation", "se:activation",
         "shortcut:se:activation"]


def _trials(n_seeds=3, rng=None):
    rows = []
    for seed in range(n_seeds):
        load = 1.0 if rng is None else float(np.exp(rng.normal(0, 0.2)))  # the seed's machine load
        for shortcut, se, activation in itertools.product(*FACTORS.values()):
            params = 1000 * (1.05 if shortcut else 1.0) * (1.1 if se else 1.0)
            noise = 1.0 if rng is None else float(np.exp(rng.normal(0, 0.05)))
            rows.append({"config": f"{shortcut}-{se}-{activation}", "shortcut": shortcut, "se": se,
                         "activation": activation, "seed": seed, "status": "completed", "params": params,
                         "seconds_per_epoch": 2.0 * (1.3 if activation == "mish" else 1.0) * load * noise})
    return pd.DataFrame(rows)


def test_a_deterministic_cost_has_exact_effects_and_no_interval():
    result = cost_effects(_trials(), FACTORS, "params")
    table = result.table.set_index("term")
    assert result.deterministic and result.log_scale and result.notes == [] and result.n_seeds == 3
    assert list(table.index) == TERMS and (table.interval == "exact").all()
    assert table.loc["se", "ratio"] == pytest.approx(1.1) and table.loc["shortcut", "ratio"] == pytest.approx(1.05)
    assert table.loc["activation", "estimate"] == 0 and not table.loc["activation", "resolved"]
    assert table.loc[["shortcut", "se"], "resolved"].all() and table.p_value.isna().all()
    assert (table.ci_low == table.estimate).all() and (table.ci_high == table.estimate).all()
    raw = cost_effects(_trials(), FACTORS, "params", log_scale=False).table.set_index("term")
    # the raw SE effect: mean params with SE - without, averaged over shortcut: 100 * (1 + 1.05) / 2
    assert raw.loc["se", "estimate"] == pytest.approx(102.5) and "ratio" not in raw


def test_a_noisy_cost_gets_a_t_interval_over_seeds():
    result = cost_effects(_trials(5, np.random.default_rng(0)), FACTORS, "seconds_per_epoch")
    table = result.table.set_index("term")
    assert not result.deterministic and (table.interval == "t over seeds").all()
    assert table.loc["activation", "ci_low"] < np.log(1.3) < table.loc["activation", "ci_high"]
    assert table.loc["activation", "resolved"]


@pytest.mark.parametrize("n_seeds", [3, 5, 10])
def test_the_noisy_cost_interval_covers_95_percent(n_seeds):
    """log seconds = the true effects + a seed's machine load (shared by its trials) + trial noise that is 4x
    larger in the Mish cells: every term's interval covers its true value in 93-97% of 4000 studies."""
    rng = np.random.default_rng(n_seeds)
    codes = coded_columns(FACTORS)
    truth = np.array([0.0, 0.1, 0.26, 0.0, 0.05, 0.0, 0.0])
    cells = np.log(2.0) + codes @ truth / 2  # Yates effect = 2 x coefficient
    sd = np.where(codes[:, 2] > 0, 0.08, 0.02)
    load = rng.normal(0, 0.3, (4000, 1, n_seeds))
    y = cells[None, :, None] + load + rng.normal(0, 1, (4000, 8, n_seeds)) * sd[:, None]
    found = contrast_intervals(per_seed_contrasts(y, FACTORS))
    coverage = ((found["ci_low"] <= truth) & (truth <= found["ci_high"])).mean(axis=0)
    print(f"{n_seeds} seeds: coverage by term {coverage.round(4)}")
    assert ((0.93 <= coverage) & (coverage <= 0.97)).all()


def test_cost_per_point_only_where_accuracy_is_resolved():
    cost = cost_effects(_trials(), FACTORS, "params", log_scale=False)
    accuracy = pd.DataFrame({"term": TERMS, "estimate": [0.25, 0.01, 0.02, 0, 0, 0, 0],
                             "resolved": [True, False, True, False, False, False, False]})
    table = cost_per_point(cost, accuracy).set_index("term")
    assert table.loc["shortcut", "accuracy_effect_pp"] == pytest.approx(25.0)
    shortcut_params = cost.table.set_index("term").loc["shortcut", "estimate"]
    assert table.loc["shortcut", "cost_per_point"] == pytest.approx(shortcut_params / 25.0)
    assert np.isnan(table.loc["se", "cost_per_point"])  # SE's accuracy effect is not resolved
    assert table.loc["activation", "cost_per_point"] == 0.0  # resolved accuracy, no parameter cost
    with pytest.raises(ValueError, match="own units"):
        cost_per_point(cost_effects(_trials(), FACTORS, "params"), accuracy)
