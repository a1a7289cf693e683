"""The Pareto front of accuracy (higher better) against cost (lower better), ties included, on a hand-built case."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats.pareto import pareto_front


def test_a_hand_built_front_with_ties():
    table = pd.DataFrame({
        "config": ["cheap", "mid", "mid_twin", "dear", "worse_mid", "same_cost_less_acc", "best_dear", "unknown"],
        "mean":   [0.60,    0.80,  0.80,       0.85,   0.75,        0.84,                 0.90,        np.nan],
        "cost":   [1.0,     2.0,   2.0,        3.0,    2.5,         3.0,                  5.0,         0.5],
    })
    out = pareto_front(table).set_index("config")
    # cheap: cheapest known; mid and mid_twin: equal, neither dominates the other; dear beats same_cost_less_acc
    assert set(out.index[out.on_front]) == {"cheap", "mid", "mid_twin", "dear", "best_dear"}
    assert out.loc["worse_mid", "dominated_by"] == "mid;mid_twin"  # dearer and less accurate than both
    assert out.loc["same_cost_less_acc", "dominated_by"] == "dear"  # equal cost, lower accuracy
    assert not out.loc["unknown", "on_front"] and out.loc["unknown", "dominated_by"] == ""
    assert out.loc["mid", "dominated_by"] == ""
    assert list(pareto_front(table).config[:3]) == ["unknown", "cheap", "mid"]  # sorted by cost


def test_equal_accuracy_at_lower_cost_dominates():
    table = pd.DataFrame({"config": ["a", "b"], "mean": [0.8, 0.8], "cost": [1.0, 2.0]})
    out = pareto_front(table).set_index("config")
    assert out.on_front.to_dict() == {"a": True, "b": False} and out.loc["b", "dominated_by"] == "a"
