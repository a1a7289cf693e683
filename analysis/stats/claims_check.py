"""The original study's claims (or a user's, `--claims FILE`) checked against this study's Analysis parts, each
with the seeds per cell that would resolve it at the size observed (sd at its planning upper bound).

Pure: the tables in, `analysis.stats.claims.evaluate_claims`'s frame out.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats.claims import evaluate_claims
from analysis.stats.dispersion_plan import dispersion_seeds_needed
from analysis.stats.power import factorial_seeds_needed, paired_seeds_needed, sd_upper_bound


def location_seeds(row: pd.Series, n_cells: int, n_terms: int) -> float:
    """Seeds per cell to resolve an effect of the observed size: the effect's se is 2 sd / sqrt(N) in a balanced
    2^k with N runs, so sd = se sqrt(N) / 2."""
    n_runs = n_cells * row["n_seeds"]
    sd = row["se"] * np.sqrt(n_runs) / 2 if np.isfinite(row["se"]) else np.nan
    if not (np.isfinite(sd) and sd > 0 and row["estimate"] != 0):
        return np.nan
    return factorial_seeds_needed(abs(row["estimate"]), sd_upper_bound(sd, row["df"]), n_cells, n_terms)


def check_claims(claims: pd.DataFrame, responses: pd.DataFrame | None, dispersion: pd.DataFrame | None,
                 paired: pd.DataFrame | None, metric: str, best_models: set | None, n_cells: int,
                 n_factors: int) -> pd.DataFrame:
    """responses: every term of every response (with se, df, n_seeds); dispersion: dispersion effects of `metric`;
    paired: the named-model comparisons of `metric`; best_models: the model names that may be best on `metric`."""
    location = responses.copy() if responses is not None else pd.DataFrame()
    n_terms = 2 ** n_factors - 1
    if len(location):
        location["seeds_needed"] = [location_seeds(r, n_cells, n_terms) for _, r in location.iterrows()]
    spread = dispersion.assign(response=metric) if dispersion is not None else pd.DataFrame()
    if len(spread):
        spread["seeds_needed"] = [dispersion_seeds_needed(r) if np.isfinite(r) and r > 0 and r != 1 else np.nan
                                  for r in spread["sd_ratio"]]
    pairs = paired.assign(response=metric) if paired is not None and len(paired) else pd.DataFrame()
    if len(pairs):
        pairs["seeds_needed"] = [paired_seeds_needed(abs(d), sd_upper_bound(s, n - 1), len(pairs))
                                 if np.isfinite(s) and s > 0 and n > 1 and d != 0 else np.nan
                                 for d, s, n in zip(pairs["mean_diff"], pairs["sd_diff"], pairs["n"])]
    best = {"__response__": metric, "models": best_models} if best_models is not None else None
    return evaluate_claims(claims, location, spread, best_set=_best_for(claims, best, metric), comparisons=pairs)


def _best_for(claims: pd.DataFrame, best: dict | None, metric: str):
    """The best set only for claims about the headline response (the set is computed for it alone)."""
    if best is None:
        return None
    return best["models"] if (claims.loc[claims["kind"] == "best", "response"] == metric).all() else None
