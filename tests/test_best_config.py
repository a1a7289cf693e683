"""The confidence set for the best configuration holds the true best in >= 95% of simulated studies (8
configurations; 3, 5 and 10 seeds), under seed blocks, very unequal cell noise and ties; its ranks cover too."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats.best_config import best_configuration_set, best_configuration_set_of, mcb

REPS = 4000
SEEDS = (3, 5, 10)
SPREAD = np.array([0.80, 0.79, 0.78, 0.77, 0.75, 0.70, 0.60, 0.50])


def _studies(means, noise, n_seeds, rng, block_sd=0.05):
    """REPS simulated studies: y[r, config, seed] = mean + seed block + noise of the cell."""
    block = rng.normal(0, block_sd, (REPS, 1, n_seeds))
    return means[None, :, None] + block + rng.normal(0, 1, (REPS, len(means), n_seeds)) * noise[None, :, None]


SCENARIOS = {
    # name: (means, per-configuration noise sd)
    "seed block": (SPREAD, np.full(8, 0.01)),
    "plain cells 10x noisier": (np.array([0.60, 0.62, 0.58, 0.61, 0.79, 0.80, 0.78, 0.77]),
                                np.array([0.1] * 4 + [0.01] * 4)),
    "two tied best": (np.array([0.80, 0.80, 0.79, 0.78, 0.75, 0.70, 0.60, 0.50]), np.full(8, 0.01)),
    "all equal (least favourable)": (np.full(8, 0.8), np.full(8, 0.01)),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_set_holds_every_true_best_in_95_percent_of_studies(scenario):
    means, noise = SCENARIOS[scenario]
    best = np.flatnonzero(means == means.max())
    rng = np.random.default_rng(20)
    for n in SEEDS:
        found = mcb(_studies(means, noise, n, rng))
        holds = found["in_set"][:, best]
        size = found["in_set"].sum(axis=1).mean()
        print(f"{scenario}, {n} seeds: P(holds each best) {holds.mean(axis=0).round(4)}, "
              f"P(holds all) {holds.all(axis=1).mean():.4f}, mean set size {size:.2f}")
        # tied bests are exchangeable: their mean coverage is the per-best coverage, estimated more precisely
        assert holds.mean() >= 0.95
        assert found["mcb_high"][:, best].min() >= 0 and (found["mcb_low"] <= found["mcb_high"]).all()


def test_an_unadjusted_rule_fails_the_same_check():
    """Comparing each pair at a one-sided 0.05 (no multiplicity) loses the best far too often: the check bites."""
    rng = np.random.default_rng(3)
    means, noise = SCENARIOS["all equal (least favourable)"]
    unadjusted = mcb(_studies(means, noise, 5, rng), alpha=0.05 * 7)  # c becomes t(0.95): per-pair level 0.05
    assert unadjusted["in_set"][:, 0].mean() < 0.9


def test_the_set_shrinks_with_seeds_and_rank_intervals_cover():
    means, noise = SCENARIOS["seed block"]
    true_rank = np.arange(1, 9)
    rng = np.random.default_rng(5)
    sizes = []
    for n in SEEDS:
        found = mcb(_studies(means, noise, n, rng))
        covered = ((found["rank_low"] <= true_rank) & (true_rank <= found["rank_high"])).all(axis=1)
        print(f"{n} seeds: P(every rank interval covers) {covered.mean():.4f}")
        assert covered.mean() >= 0.95
        sizes.append(found["in_set"].sum(axis=1).mean())
    assert sizes[0] > sizes[1] > sizes[2] and sizes[2] < 2.5  # at 10 seeds the 0.01 margins are resolved


def test_the_typed_result_for_a_hand_made_study():
    """Three configurations, three seeds: C is far behind, A and B within noise of each other."""
    values = pd.DataFrame({0: [0.80, 0.79, 0.50], 1: [0.82, 0.83, 0.52], 2: [0.81, 0.80, 0.49]},
                          index=["A", "B", "C"])
    result = best_configuration_set(values)
    table = result.table.set_index("config")
    assert list(result.table.config) == ["A", "B", "C"] and result.n_seeds == 3
    assert table.in_set.to_dict() == {"A": True, "B": True, "C": False}
    assert table.loc["A", "mean"] == pytest.approx(0.81)
    assert table.loc["C", "rank_low"] == 3 and table.loc["A", "rank_low"] == 1
    lower = best_configuration_set(-values, higher_is_better=False).table.set_index("config")
    assert lower.in_set.to_dict() == table.in_set.to_dict()


def test_from_a_trials_table_in_the_responses_direction():
    """A trials table goes in as it is (failed trials left out, seeds missing anywhere dropped); the gap is
    lower-is-better, so the configuration with the smallest gap ranks first."""
    rows = []
    for seed in range(3):
        for config, train, val in (("A", 0.95, 0.80), ("B", 0.90, 0.85), ("C", 0.99, 0.60)):
            rows.append({"config": config, "seed": seed, "status": "completed",
                         "final_train_acc": train + 0.01 * seed, "final_val_acc": val + 0.005 * seed ** 2})
    rows.append({"config": "A", "seed": 3, "status": "failed", "final_train_acc": 0.1, "final_val_acc": 0.1})
    trials = pd.DataFrame(rows)
    by_val = best_configuration_set_of(trials)
    assert by_val.n_seeds == 3 and list(by_val.table.config) == ["B", "A", "C"] and by_val.higher_is_better
    by_gap = best_configuration_set_of(trials, "final_gap").table.set_index("config")
    assert by_gap["rank"].to_dict() == {"B": 1, "A": 2, "C": 3}
    assert by_gap.loc["B", "mean"] == pytest.approx(0.05 + 0.01 - 0.005 * 5 / 3)
