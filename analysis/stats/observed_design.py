"""Which design the completed runs form: the full 2^k grid, a regular fraction of it, or neither.

The analysis decides this from the data, not from spec.yaml: the cells (bit masks, numbered as in
`analysis.stats.model_design`) that hold at least one completed run with the metric. A regular 2^(k-p) fraction is exactly
the set of cells on which every word of its defining relation is constant (Box, Hunter & Hunter, Statistics for
Experimenters, 2nd ed. 2005, ch. 6; Wu & Hamada, Experiments, 2nd ed. 2009, ch. 5), and the union of a fraction
and its fold-overs is again one (the words all parts share), so a fold-over needs no special case: the union of
the cells is analysed as one fraction. A fraction with a failed cell is neither; the note names the missing cells
of the smallest regular design that holds the others.

spec.yaml's `design` (what the study meant to run) is only cross-checked: where it disagrees with the data, a
note says how, and the data decide.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.doe.fractions import Fraction, fraction_from_cells, relation_from_cells
from analysis.doe.spec_codec import design_record_cells
from analysis.stats.model_design import cell_index, cell_label

FULL_GRID, FRACTION, IRREGULAR = "full grid", "fraction", "irregular"
MAX_LISTED = 6  # cells named in a note before "and N more"


@dataclass(frozen=True)
class ObservedDesign:
    """kind: FULL_GRID, FRACTION or IRREGULAR; cells: the distinct cells with a completed run, ascending;
    fraction: the regular fraction they form (p = 0 for the full grid), None when IRREGULAR; enclosing: when
    IRREGULAR, the smallest regular design holding the cells (None where a factor has one level only); notes: one
    line each (the irregular cells, disagreements with spec.yaml)."""
    kind: str
    cells: tuple[int, ...]
    fraction: Fraction | None
    enclosing: Fraction | None = None
    notes: tuple[str, ...] = ()


def _listed(trials: pd.DataFrame, factors: Mapping[str, Sequence], masks: Sequence[int]) -> str:
    names = [cell_label(trials, factors, int(m)) for m in masks[:MAX_LISTED]]
    more = len(masks) - MAX_LISTED
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def enclosing_cells(cells: Sequence[int], k: int) -> np.ndarray:
    """The cells of the smallest regular fraction holding `cells`: those on which every word that is constant
    over `cells` takes the same sign (any regular fraction holding them has only such words)."""
    words = relation_from_cells(cells, k)
    every = np.arange(2 ** k, dtype=np.int64)
    keep = np.ones(len(every), dtype=bool)
    for w in words:  # the product of +-1 codes over a word is (-1)^(its factors at their first level)
        low = w.mask.bit_count() - np.bitwise_count(every & w.mask)
        keep &= np.where(low % 2 == 0, 1, -1) == w.sign
    return every[keep]


def observe_design(trials: pd.DataFrame, runs: pd.DataFrame, factors: Mapping[str, Sequence],
                   spec_design: Mapping[str, Any] | None = None) -> ObservedDesign:
    """The design the completed `runs` form (two-level factors; `trials`, of any status, only name cells);
    spec_design: spec.yaml's `design` mapping, cross-checked where given."""
    names, k = tuple(factors), len(factors)
    cells = np.unique(cell_index(runs, factors))
    cells = cells[cells >= 0]
    notes, enclosing = [], None
    if len(cells) == 2 ** k:
        kind, fraction = FULL_GRID, Fraction(names)
    else:
        try:
            kind, fraction = FRACTION, fraction_from_cells(names, cells)
        except ValueError:
            kind, fraction = IRREGULAR, None
    if kind == IRREGULAR and len(cells):
        note, enclosing = irregular_note(trials, factors, cells)
        notes.append(note)
    if spec_design:
        notes += spec_disagreement(trials, factors, cells, spec_design)
    return ObservedDesign(kind, tuple(int(c) for c in cells), fraction, enclosing, tuple(notes))


def irregular_note(trials: pd.DataFrame, factors: Mapping[str, Sequence], cells: np.ndarray
                   ) -> tuple[str, Fraction | None]:
    """(one line, the smallest regular design holding the cells) for cells that are neither the full grid nor a
    regular fraction: the line names the cells of that design with no completed run, or the factor with runs
    at one level only (then no design of all the factors holds them: None)."""
    names, k = tuple(factors), len(factors)
    constant = [n for i, n in enumerate(names) if len({int(c) >> i & 1 for c in cells}) == 1]
    if constant:
        return (f"the completed runs hold {', '.join(map(repr, constant))} at one level only, so no design of all "
                f"{k} factors can estimate {'its' if len(constant) == 1 else 'their'} effect"), None
    held = enclosing_cells(cells, k)
    around = fraction_from_cells(names, held)
    which = f"the full 2^{k} grid" if around.p == 0 else f"a 2^({k}-{around.p}) fraction of {around.runs} cells"
    absent = np.setdiff1d(held, cells)
    return (f"the {len(cells)} cells with a completed run are neither the full 2^{k} grid nor a regular fraction: "
            f"the smallest regular design holding them ({which}) also has {len(absent)} cell(s) with no "
            f"completed run: {_listed(trials, factors, absent)}"), around


# --- spec.yaml's `design`, for the cross-check --------------------------------------------------------------

def spec_disagreement(trials: pd.DataFrame, factors: Mapping[str, Sequence], cells: np.ndarray,
                      spec_design: Mapping[str, Any]) -> list[str]:
    """A note where spec.yaml's design and the completed cells differ; [] where they agree."""
    k = len(factors)
    if str(spec_design.get("kind", "fractional")).strip().lower() not in ("fractional", "fraction"):
        planned = np.arange(2 ** k)
    else:
        try:
            planned = design_record_cells(spec_design, factors)
        except (ValueError, TypeError) as err:
            return [f"spec.yaml's design could not be read ({str(err).splitlines()[0]}); the design is taken "
                    "from the completed runs alone"]
    missing, extra = np.setdiff1d(planned, cells), np.setdiff1d(cells, planned)
    if not len(missing) and not len(extra):
        return []
    what = f"spec.yaml's design runs {len(planned)} of the {2 ** k} cells; the completed runs cover {len(cells)}"
    if len(missing):
        what += f"; {len(missing)} of its cells have no completed run ({_listed(trials, factors, missing)})"
    if len(extra):
        what += f"; {len(extra)} completed cell(s) are not in it ({_listed(trials, factors, extra)})"
    return [what + "; the analysis follows the completed runs"]
