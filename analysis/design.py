"""The 2^k factorial design: cells, terms, +-1 coding, and the balanced subset of seeds.

Cells are numbered by a bit mask: bit i is set when factor i (in column order) is at its second level, so cell 0
is the baseline (all first levels) and cell 2^k - 1 the full configuration (all second levels). That is Yates'
standard order (the first factor changes fastest).

Effects and Shapley attribution need every factor at exactly two levels and every cell measured for the same
seeds; `balance` keeps the seeds that are complete in every cell and says which it dropped and why.
"""
from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.load import COMPLETED, completed, level_key


def check_two_level(factors: Mapping[str, Sequence]) -> None:
    """ValueError (one line) unless there is at least one factor and each has exactly two levels."""
    if not factors:
        raise ValueError("effects and Shapley attribution need factor columns between `model` and `seed`; "
                         "trials.csv has none")
    for name, levels in factors.items():
        if len(levels) != 2:
            raise ValueError(f"effects and Shapley attribution need two-level factors; {name!r} has "
                             f"{len(levels)} level(s) in the data: {list(levels)}")


def terms(factors: Mapping[str, Sequence]) -> list[tuple[str, ...]]:
    """Main effects, then two-way, three-way ... interactions; factors in column order within a term."""
    names = list(factors)
    return [t for size in range(1, len(names) + 1) for t in itertools.combinations(names, size)]


def term_name(term: Sequence[str]) -> str:
    return ":".join(term)


def cell_levels(factors: Mapping[str, Sequence]) -> list[dict]:
    """The level of every factor in each cell, cells in bit-mask order."""
    names = list(factors)
    return [{n: factors[n][(mask >> i) & 1] for i, n in enumerate(names)} for mask in range(2 ** len(names))]


def coded_columns(factors: Mapping[str, Sequence]) -> np.ndarray:
    """(2^k cells, 2^k - 1 terms) matrix of +-1: the product of the codes (-1 first level, +1 second)."""
    names = list(factors)
    masks = np.arange(2 ** len(names))
    codes = {n: np.where((masks >> i) & 1, 1.0, -1.0) for i, n in enumerate(names)}
    return np.column_stack([np.prod([codes[n] for n in t], axis=0) for t in terms(factors)])


def cell_index(data: pd.DataFrame, factors: Mapping[str, Sequence]) -> np.ndarray:
    """The bit-mask cell of each row of `data` (its factor columns); -1 where a level is not a factor level."""
    index = np.zeros(len(data), dtype=int)
    known = np.ones(len(data), dtype=bool)
    for i, (name, levels) in enumerate(factors.items()):
        keys = data[name].map(level_key)
        second = (keys == level_key(levels[1])).to_numpy()
        known &= second | (keys == level_key(levels[0])).to_numpy()
        index += second.astype(int) << i
    return np.where(known, index, -1)


def _cell_label(data: pd.DataFrame, cells: np.ndarray, mask: int, factors: Mapping[str, Sequence]) -> str:
    rows = data.loc[cells == mask, "config"] if "config" in data else pd.Series(dtype=str)
    if len(rows):
        return str(rows.iloc[0])
    return "-".join(f"{n}={v}" for n, v in cell_levels(factors)[mask].items())


def balance(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str
            ) -> tuple[pd.DataFrame, list[str]]:
    """(completed trials of the seeds measured in every cell, notes on what was left out and why).

    `trials` may hold any status: only completed rows with a value for `metric` count. ValueError (one line)
    when a cell has no usable trial at all or no seed is complete in every cell.
    """
    check_two_level(factors)
    done = completed(trials)
    done = done[done[metric].notna()]
    cells = cell_index(done, factors)
    n_cells = 2 ** len(factors)
    all_cells = cell_index(trials, factors)
    missing = [m for m in range(n_cells) if not (cells == m).any()]
    if missing:
        labels = ", ".join(_cell_label(trials, all_cells, m, factors) for m in missing)
        raise ValueError(f"effects and Shapley attribution need all {n_cells} cells of the 2^{len(factors)} "
                         f"grid; no completed trial in: {labels}")
    seeds = sorted(set(trials["seed"]))
    present = {m: set(done.loc[cells == m, "seed"]) for m in range(n_cells)}
    keep = [s for s in seeds if all(s in present[m] for m in range(n_cells))]
    notes = []
    for seed in seeds:
        if seed in keep:
            continue
        gone = []
        for m in range(n_cells):
            if seed in present[m]:
                continue
            rows = trials[(all_cells == m) & (trials["seed"] == seed)]
            status = "no trial" if rows.empty else ", ".join(sorted(set(rows["status"].astype(str))))
            if not rows.empty and (rows["status"].astype(str).str.lower() == COMPLETED).any():
                status = f"no {metric}"
            gone.append(f"{_cell_label(trials, all_cells, m, factors)} ({status})")
        notes.append(f"seed {seed} dropped from effects and Shapley: missing in {'; '.join(gone)}")
    if not keep:
        raise ValueError("effects and Shapley attribution need seeds measured in every cell; none is")
    return done[done["seed"].isin(keep)], notes


def cell_matrix(data: pd.DataFrame, factors: Mapping[str, Sequence], metric: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """(values of shape (2^k cells, n seeds) in bit-mask order, the seeds); `data` one row per cell and seed.

    ValueError (one line) unless the design is balanced: every cell measured exactly once for every seed.
    """
    check_two_level(factors)
    cells = cell_index(data, factors)
    if (cells < 0).any():
        raise ValueError("data holds factor levels that are not among the factors' two levels")
    seeds = np.array(sorted(set(data["seed"])))
    n_cells = 2 ** len(factors)
    values = np.full((n_cells, len(seeds)), np.nan)
    counts = np.zeros_like(values)
    col = np.searchsorted(seeds, data["seed"].to_numpy())
    np.add.at(counts, (cells, col), 1)
    values[cells, col] = data[metric].to_numpy(dtype=float)
    if (counts != 1).any() or np.isnan(values).any():
        raise ValueError("effects and Shapley attribution need a balanced design: every cell measured once "
                         "for every seed (use analysis.design.balance first)")
    return values, seeds


def cell_means(data: pd.DataFrame, factors: Mapping[str, Sequence], metric: str) -> pd.DataFrame:
    """config, model, factor levels, n and mean of `metric` per cell, in bit-mask order (balanced data)."""
    values, seeds = cell_matrix(data, factors, metric)
    cells = cell_index(data, factors)
    first = {m: data[cells == m].iloc[0] for m in range(values.shape[0])}
    return pd.DataFrame([{"cell": m, "config": first[m]["config"], "model": first[m]["model"],
                          **{n: first[m][n] for n in factors}, "n": len(seeds), "mean": values[m].mean()}
                         for m in range(values.shape[0])])
