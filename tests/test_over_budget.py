"""Effects at every epoch, and the late slope's interval: its simulated coverage at 3, 5 and 10 seeds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats.over_budget import effects_by_epoch, last_quarter, late_slopes, slope_intervals

REPS = 4000
X = np.arange(7, 9)  # the last quarter of 8 epochs


def _curves(n_seeds, rng, slope=0.01):
    """y[r, seed, epoch]: a seed's level, its own late slope (true slope + seed variation), AR(1) noise."""
    level = rng.normal(0.8, 0.05, (REPS, n_seeds, 1))
    own = slope + rng.normal(0, 0.01, (REPS, n_seeds, 1))
    shocks = rng.normal(0, 0.01, (REPS, n_seeds, len(X)))
    noise = shocks.copy()
    for e in range(1, len(X)):
        noise[..., e] = 0.6 * noise[..., e - 1] + shocks[..., e]
    return level + own * X + noise


def test_last_quarter_is_at_least_two_epochs():
    assert [last_quarter(e) for e in (2, 3, 8, 9, 10, 40)] == [2, 2, 2, 3, 3, 10]


@pytest.mark.parametrize("n_seeds", [3, 5, 10])
def test_the_slope_interval_covers_the_true_slope_95_percent(n_seeds):
    rng = np.random.default_rng(n_seeds)
    found = slope_intervals(_curves(n_seeds, rng), X)
    coverage = ((found["ci_low"] <= 0.01) & (0.01 <= found["ci_high"])).mean()
    print(f"{n_seeds} seeds: coverage {coverage:.4f}")
    assert 0.93 <= coverage <= 0.97


def test_a_normal_quantile_in_place_of_students_fails_the_same_check_at_3_seeds():
    """The check bites: the same slopes with z = 1.96 instead of t(2) undercover far below 0.93."""
    found = slope_intervals(_curves(3, np.random.default_rng(2)), X)
    se = (found["ci_high"] - found["slope"]) / stats.t.ppf(0.975, 2)
    assert (np.abs(found["slope"] - 0.01) <= 1.96 * se).mean() < 0.9


def _epochs_frame():
    """Two configurations x 3 seeds x 8 epochs: A climbs 0.02 per epoch to the end, B is flat at the end."""
    rows = []
    for seed, offset in enumerate((0.0, 0.01, -0.01)):
        for epoch in range(1, 9):
            wobble = 0.001 * (seed - 1) * epoch  # seed-specific slopes: 0.019, 0.020, 0.021
            rows.append({"config": "A", "shortcut": True, "seed": seed, "epoch": epoch,
                         "val_acc": 0.5 + 0.02 * epoch + offset + wobble})
            rows.append({"config": "B", "shortcut": False, "seed": seed, "epoch": epoch,
                         "val_acc": min(0.3 + 0.05 * epoch, 0.6) + offset + (wobble if epoch < 7 else 0.0)})
    return pd.DataFrame(rows)


def test_late_slopes_of_a_hand_made_table():
    table = late_slopes(_epochs_frame()).set_index("config")
    assert table.loc["A", "slope"] == pytest.approx(0.02) and table.loc["A", "n_seeds"] == 3
    assert table.loc["A", "epochs_fitted"] == "7-8"
    half = stats.t.ppf(0.975, 2) * np.std([0.019, 0.020, 0.021], ddof=1) / np.sqrt(3)
    assert table.loc["A", "ci_high"] - table.loc["A", "slope"] == pytest.approx(half)
    assert table.loc["B", "slope"] == pytest.approx(0.0, abs=1e-12)
    assert table.still_improving.to_dict() == {"A": True, "B": False}


def test_effects_by_epoch_applies_the_estimator_to_each_epoch():
    def difference(frame):  # a stand-in estimator: mean(shortcut) - mean(plain) of final_val_acc
        by = frame.groupby("shortcut").final_val_acc.mean()
        d = by[True] - by[False]
        return pd.DataFrame({"term": ["shortcut"], "estimate": [d], "ci_low": [d - 0.01], "ci_high": [d + 0.01]})

    out = effects_by_epoch(_epochs_frame(), difference)
    assert list(out.columns[:5]) == ["epoch", "term", "estimate", "ci_low", "ci_high"]
    assert out.epoch.tolist() == list(range(1, 9))
    expected = [0.5 + 0.02 * e - min(0.3 + 0.05 * e, 0.6) for e in range(1, 9)]
    assert out.estimate.to_numpy() == pytest.approx(expected, abs=1e-12)


def test_effects_by_epoch_takes_the_projects_factorial_estimator():
    from analysis.stats.effects import factorial_effects

    out = effects_by_epoch(_epochs_frame(), lambda frame: factorial_effects(frame, {"shortcut": [False, True]}))
    expected = [0.5 + 0.02 * e - min(0.3 + 0.05 * e, 0.6) for e in range(1, 9)]
    assert out.term.unique().tolist() == ["shortcut"] and out.n_seeds.eq(3).all()
    assert out.estimate.to_numpy() == pytest.approx(expected, abs=1e-12)
    assert (out.ci_low <= out.estimate).all() and (out.estimate <= out.ci_high).all()
