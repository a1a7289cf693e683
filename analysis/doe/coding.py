"""The 2^k coding every design and model in this project shares: cells, terms and +-1 columns.

A cell is a bit mask: bit i is set when factor i (in column order) is at its second level, so cell 0 is the
baseline (all first levels) and cell 2^k - 1 the full configuration; Yates' standard order (the first factor
changes fastest). Factor i's first level is coded -1 and its second +1; a term (or a defining word) is a bit mask
of factors, and its column is the product of its factors' codes: (-1) ** (its factors at their first level).
Pure numpy: used by the fractional algebra, the observed design, the model matrices and search_spaces.
"""
from __future__ import annotations

import itertools
from typing import Mapping, Sequence

import numpy as np


def check_two_level(factors: Mapping[str, Sequence]) -> None:
    """ValueError (one line) unless there is at least one factor and each has exactly two levels."""
    if not factors:
        raise ValueError("effects and Shapley attribution need factor columns between `model` and `seed`; "
                         "trials.csv has none")
    for name, levels in factors.items():
        if len(levels) != 2:
            raise ValueError(f"effects and Shapley attribution need two-level factors; {name!r} has "
                             f"{len(levels)} level(s) in the data: {list(levels)}")


def terms(factors: Mapping[str, Sequence] | Sequence[str]) -> list[tuple[str, ...]]:
    """Main effects, then two-way, three-way ... interactions; factors in column order within a term."""
    names = list(factors)
    return [t for size in range(1, len(names) + 1) for t in itertools.combinations(names, size)]


def term_name(term: Sequence[str]) -> str:
    return ":".join(term)


def term_mask(term: Sequence[str], names: Sequence[str]) -> int:
    return sum(1 << list(names).index(n) for n in term)


def mask_term(mask: int, names: Sequence[str]) -> tuple[str, ...]:
    return tuple(names[i] for i in range(len(names)) if mask >> i & 1)


def cell_levels(factors: Mapping[str, Sequence]) -> list[dict]:
    """The level of every factor in each cell, cells in bit-mask order."""
    names = list(factors)
    return [{n: factors[n][(mask >> i) & 1] for i, n in enumerate(names)} for mask in range(2 ** len(names))]


def cell_name(factors: Mapping[str, Sequence], mask: int) -> str:
    """'name=level-...' of a cell: its label where no run names it."""
    return "-".join(f"{n}={v}" for n, v in cell_levels(factors)[mask].items())


def signs(cells: np.ndarray | Sequence[int], masks: np.ndarray | Sequence[int]) -> np.ndarray:
    """(len(cells), len(masks)) matrix of +-1: each word's (term's) product of codes at each cell."""
    cells = np.asarray(cells, dtype=np.int64).reshape(-1)
    masks = np.asarray(masks, dtype=np.int64).reshape(-1)
    low = np.bitwise_count(masks)[None, :] - np.bitwise_count(cells[:, None] & masks[None, :])
    return np.where(low % 2 == 0, 1.0, -1.0)


def term_columns(cells: np.ndarray | Sequence[int], model_terms: Sequence[Sequence[str]],
                 names: Sequence[str]) -> np.ndarray:
    """(len(cells), len(model_terms)) +-1 columns of the terms at the given cells."""
    return signs(cells, [term_mask(t, names) for t in model_terms])


def coded_columns(factors: Mapping[str, Sequence]) -> np.ndarray:
    """(2^k cells, 2^k - 1 terms) matrix of +-1 over every cell and term of the full factorial."""
    names = list(factors)
    return term_columns(np.arange(2 ** len(names)), terms(names), names)
