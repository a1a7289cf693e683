"""Which cells of the 2^k grid a study runs: the full grid, or a regular fractional factorial and its fold-overs.

A fraction is chosen from the minimum-aberration tables (analysis/doe/fractions.py) by `--fraction 1/8` or
`--resolution IV`, and recorded in spec.yaml's `design:` mapping (its format and codec: analysis/doe/spec_codec.py).

`--resume --fold-over [FACTOR]` adds the complementary fraction's cells (never re-running a finished trial) and
records the combined design, whose defining relation keeps only the words both fractions share with one sign.
"""
from __future__ import annotations

from typing import Any, Sequence

from analysis.doe.spec_codec import FRACTIONAL, design_record
from analysis.doe.fractions import (choose_design, design_cells, fold_over, fraction_from_cells, parse_fraction,
                                 roman)



def fractional_design(factors: Sequence[str], fraction: str | None = None,
                      resolution_wanted: str | None = None) -> dict[str, Any]:
    """The design entry for `--fraction` or `--resolution` ({} when that is the full grid). ValueError (one line)
    for a malformed fraction or one whose resolution would be below III."""
    flag = f"--fraction {fraction}" if fraction is not None else f"--resolution {resolution_wanted}"
    if len(factors) < 3:
        raise ValueError(f"{flag}: a fractional design needs at least 3 factors; --factors gives {len(factors)}")
    try:
        p = parse_fraction(fraction) if fraction is not None else None
        chosen = choose_design(list(factors), p=p, resolution=resolution_wanted)
    except ValueError as err:
        raise ValueError(f"{flag}: {err}") from None
    if chosen.p == 0:
        return {}
    return design_record(chosen, design_cells(chosen).tolist(), [])


def folded_design(design: dict[str, Any], factors: Sequence[str], factor: str | None = None) -> dict[str, Any]:
    """The design after a fold-over of the current fraction (every factor's signs, or one factor's)."""
    if not design:
        raise ValueError("--fold-over needs a fractional study; this one runs the full grid")
    current = fraction_from_cells(list(factors), design["cells"])
    if current.p == 0:
        raise ValueError("--fold-over: the study already runs every cell of the grid")
    if factor is not None and factor not in factors:
        raise ValueError(f"--fold-over {factor!r}: not one of the study's factors {list(factors)}")
    added = design_cells(fold_over(current, factor)).tolist()
    cells = sorted(set(design["cells"]) | set(added))
    if len(cells) == len(design["cells"]):
        raise ValueError(f"--fold-over {factor or '(all factors)'} adds no cell: the complementary fraction is "
                         "already run; fold over another factor")
    combined = fraction_from_cells(list(factors), cells)
    folded = design_record(combined, cells, [*design.get("fold_overs", []), factor])
    return folded if combined.p > 0 else {**folded, "kind": FRACTIONAL, "resolution": None}


def describe_choice(design: dict[str, Any]) -> str:
    """One line for the driver's log."""
    if not design:
        return "full grid"
    res = design.get("resolution")
    if res is None:  # fold-overs completed the grid
        return f"the full grid ({len(design['cells'])} cells), reached by fold-over(s) of a fraction"
    return (f"a {design['fraction']} fraction ({len(design['cells'])} cells), resolution "
            f"{roman(res) if res else 'full'}, generators "
            + ", ".join(f"{k} = {v}" for k, v in design["generators"].items()))
