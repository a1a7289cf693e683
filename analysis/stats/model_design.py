"""The 2^k factorial design: cells, terms, +-1 coding, and the model matrix of the runs that exist.

Cells are numbered by a bit mask: bit i is set when factor i (in column order) is at its second level, so cell 0
is the baseline (all first levels) and cell 2^k - 1 the full configuration (all second levels). That is Yates'
standard order (the first factor changes fastest).

`model_design` builds the OLS design of whatever runs exist (one row per run: intercept, one +-1 column per
requested term, one dummy per seed but the first) and refuses, in one line, a set of terms the runs cannot
estimate. It does not need a balanced design: a failed trial costs one run, not a whole seed. `balance` (the
seeds complete in every cell) is kept for paired, seed-by-seed views of the same data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.doe.coding import cell_name, check_two_level, term_columns, terms
from analysis.results.load import completed, is_completed, level_key


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


def cell_label(data: pd.DataFrame, factors: Mapping[str, Sequence], mask: int,
               cells: np.ndarray | None = None) -> str:
    """The configuration id of a cell where `data` has a row for it, else its levels 'name=level-...'.
    cells: each row's cell (cell_index of `data`), where the caller has it already."""
    cells = cell_index(data, factors) if cells is None else cells
    rows = data.loc[cells == mask, "config"] if "config" in data else pd.Series(dtype=str)
    return str(rows.iloc[0]) if len(rows) else cell_name(factors, mask)


def absence(trials: pd.DataFrame, all_cells: np.ndarray, mask: int, seed, metric: str) -> str:
    """Why a cell's run of `seed` is not among the runs: no trial, its status, or no value of `metric`."""
    rows = trials[(all_cells == mask) & (trials["seed"] == seed)]
    if not rows.empty and is_completed(rows).any():
        return f"no {metric}"
    return "no trial" if rows.empty else ", ".join(sorted(set(rows["status"].astype(str))))


def balance(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str
            ) -> tuple[pd.DataFrame, list[str]]:
    """(completed trials of the seeds measured in every cell, notes on what was left out and why), for views
    that need every seed in every cell; the effects and Shapley fit (`model_design`) does not.

    `trials` may hold any status: only completed rows with a value for `metric` count. ValueError (one line)
    when a cell has no usable trial at all or no seed is complete in every cell.
    """
    check_two_level(factors)
    done = completed(trials, metric)
    cells = cell_index(done, factors)
    n_cells = 2 ** len(factors)
    all_cells = cell_index(trials, factors)
    missing = [m for m in range(n_cells) if not (cells == m).any()]
    if missing:
        labels = ", ".join(cell_label(trials, factors, m, all_cells) for m in missing)
        raise ValueError(f"a balanced subset needs all {n_cells} cells of the 2^{len(factors)} grid; no "
                         f"completed trial in: {labels}")
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
            gone.append(f"{cell_label(trials, factors, m, all_cells)} ({absence(trials, all_cells, m, seed, metric)})")
        notes.append(f"seed {seed} left out of the balanced subset: missing in {'; '.join(gone)}")
    if not keep:
        raise ValueError("a balanced subset needs seeds measured in every cell; none is")
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
        raise ValueError("a cell-by-seed matrix needs a balanced design: every cell measured once for every "
                         "seed (use analysis.stats.model_design.balance first)")
    return values, seeds


def cell_means(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str) -> pd.DataFrame:
    """cell, config, model, factor levels, n (completed runs with `metric`) and mean per cell that has a run,
    in bit-mask order."""
    done = completed(runs) if "status" in runs else runs
    done = done[done[metric].notna()]
    cells = cell_index(done, factors)
    rows = []
    for m in range(2 ** len(factors)):
        mine = done[cells == m]
        if len(mine):
            first = mine.iloc[0]
            rows.append({"cell": m, "config": first.get("config", ""), "model": first.get("model", ""),
                         **{n: first[n] for n in factors}, "n": len(mine), "mean": float(mine[metric].mean())})
    return pd.DataFrame(rows)


def missing_runs(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str,
                 cells: Sequence[int] | None = None) -> list[str]:
    """'<config> seed <s> (<why>)' for every cell and seed of the study (seeds: those in `trials`) that has no
    completed run with a value of `metric`; why: the trials' status, 'no trial' or 'no <metric>'. cells: the
    cells the design runs (default: all 2^k; a fraction passes its own, so the cells it never runs are not
    listed as missing)."""
    done = completed(trials, metric)
    have = set(zip(cell_index(done, factors), done["seed"]))
    all_cells = cell_index(trials, factors)
    out = []
    for seed in sorted(set(trials["seed"])):
        for m in (range(2 ** len(factors)) if cells is None else sorted(int(c) for c in cells)):
            if (m, seed) in have:
                continue
            out.append(f"{cell_label(trials, factors, m, all_cells)} seed {seed} "
                       f"({absence(trials, all_cells, m, seed, metric)})")
    return out


@dataclass(frozen=True)
class ModelDesign:
    """The OLS design of a set of runs: y = X beta + noise, rows in the order of `runs` (metric present).

    X's columns: intercept, one +-1 column per model term (in `model_terms` order), then one dummy per seed but
    the first (seeds sorted). The seed block absorbs what a seed shares across configurations (initialisation,
    data order), as pairing does, so effects are compared within seeds."""
    factors: dict[str, tuple]
    model_terms: list[tuple[str, ...]]
    X: np.ndarray
    y: np.ndarray  # the metric of each run
    cells: np.ndarray  # bit-mask cell of each run
    seeds: np.ndarray  # the distinct seeds, sorted (dummy columns are seeds[1:])
    seed_of_run: np.ndarray  # index into `seeds` of each run
    cell_counts: np.ndarray  # runs per cell, bit-mask order (0: the cell was not measured)

    @property
    def n_runs(self) -> int:
        return int(self.y.size)

    @property
    def n_terms(self) -> int:
        return len(self.model_terms)

    def term_columns(self) -> slice:
        return slice(1, 1 + self.n_terms)

    def cell_rows(self) -> np.ndarray:
        """(2^k cells, columns of X): the row of X that predicts each cell's mean for an average seed."""
        names = list(self.factors)
        masks = np.arange(2 ** len(names))
        coded = term_columns(masks, self.model_terms, names)
        seed_share = np.full((len(masks), len(self.seeds) - 1), 1.0 / len(self.seeds))
        return np.column_stack([np.ones(len(masks)), coded, seed_share])


def model_design(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str,
                 model_terms: Sequence[Sequence[str]] | None = None) -> ModelDesign:
    """The OLS design of every completed run with a value of `metric`.

    runs: one row per run with the factor columns, `seed` and `metric` (a `status` column, where present, keeps
    only completed rows). model_terms: the terms to fit, each a tuple of factor names (default: every main effect
    and interaction of the full 2^k, `terms(factors)`); a fractional design passes only its estimable terms.
    ValueError (one line) when a factor does not have two levels, a run has another level, or the runs cannot
    estimate the terms (for a full model: a cell has no run)."""
    check_two_level(factors)
    model_terms = [tuple(t) for t in (terms(factors) if model_terms is None else model_terms)]
    unknown = sorted({f for t in model_terms for f in t} - set(factors))
    if unknown or any(len(t) == 0 or len(set(t)) != len(t) for t in model_terms):
        raise ValueError(f"model terms must be non-empty tuples of distinct factors; got {model_terms}")
    if "status" in runs:
        runs = runs[is_completed(runs)]
    runs = runs[pd.to_numeric(runs[metric], errors="coerce").notna()]
    cells = cell_index(runs, factors)
    if (cells < 0).any():
        raise ValueError("the runs hold factor levels that are not among the factors' two levels")
    seeds = np.array(sorted(set(runs["seed"])))
    columns = [np.ones(len(runs)), *term_columns(cells, model_terms, list(factors)).T]
    seed_of_run = np.searchsorted(seeds, runs["seed"].to_numpy())
    columns += [(seed_of_run == j).astype(float) for j in range(1, len(seeds))]
    X = np.column_stack(columns) if len(runs) else np.zeros((0, len(columns)))
    counts = np.bincount(cells, minlength=2 ** len(factors))
    if len(runs) == 0 or np.linalg.matrix_rank(X) < X.shape[1]:
        missing = [m for m in range(len(counts)) if counts[m] == 0]
        why = (f"no completed trial in: {', '.join(cell_label(runs, factors, m, cells) for m in missing)}"
               if missing else "the runs alias some of them")
        raise ValueError(f"the {len(model_terms)} model terms are not estimable from the "
                         f"{len(runs)} completed run(s) with {metric}; {why}")
    return ModelDesign(dict(factors), model_terms, X, runs[metric].to_numpy(dtype=float), cells, seeds, seed_of_run,
                       counts)
