"""The one codec between a design and spec.yaml's `design:` mapping, for the study that writes it
(search_spaces/designs.py) and the analysis and driver that read it back:

    design:
      kind: fractional
      fraction: 1/8                 # of the full grid, after any fold-overs
      resolution: 4
      generators: {depth: "shortcut:se:activation", ...}   # generated factor -> word, '-' for a negative sign
      defining_relation: ["shortcut:se:activation:depth", ...]
      cells: [0, 7, 11, ...]        # bit masks (bit i = factor i at its second level) of every cell to run
      fold_overs: [null]            # each fold-over done: null = every factor's signs, or one factor's name
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from analysis.doe.coding import mask_term
from analysis.doe.fractions import (
    Fraction,
    Generator,
    defining_relation,
    design_cells,
    fold_over,
    fraction_from_cells,
    resolution,
    word_name,
)

FRACTIONAL = "fractional"


def design_record(fraction: Fraction, cells: Sequence[int], fold_overs: Sequence[str | None]) -> dict[str, Any]:
    """The spec's `design:` entry of a fraction (see the module docstring)."""
    names = fraction.factors
    res = resolution(fraction)
    return {
        "kind": FRACTIONAL,
        "fraction": fraction.fraction,
        "resolution": None if math.isinf(res) else int(res),
        "generators": {names[g.factor]: word_text(g.word, g.sign, names) for g in fraction.generators},
        "defining_relation": [word_name(w, names) for w in defining_relation(fraction)],
        "cells": sorted(int(c) for c in set(cells)),
        "fold_overs": list(fold_overs),
    }


def word_text(mask: int, sign: int, names: Sequence[str]) -> str:
    """'-shortcut:se' of a signed word: the form `parse_word` reads."""
    return ("-" if sign < 0 else "") + ":".join(mask_term(mask, names))


def parse_word(word: str, names: Sequence[str]) -> tuple[int, int]:
    """(bit mask, sign) of 'shortcut:se' or '-shortcut:se'."""
    text = str(word).strip()
    sign = -1 if text.startswith("-") else 1
    members = [m.strip() for m in text.lstrip("+-").split(":")]
    unknown = [m for m in members if m not in names]
    if unknown:
        raise ValueError(f"word {word!r} names {unknown}, not among the factors")
    return sum(1 << names.index(m) for m in members), sign


def design_record_cells(spec_design: Mapping[str, Any], factors: Mapping[str, Sequence]) -> np.ndarray:
    """The cells the spec's design runs: its `cells` list, else its generators and fold-overs. ValueError (one
    line) where neither can be read."""
    names = tuple(factors)
    if spec_design.get("cells") is not None:
        cells = np.unique(np.asarray([int(c) for c in spec_design["cells"]], dtype=np.int64))
        if len(cells) and (cells.min() < 0 or cells.max() >= 2 ** len(names)):
            raise ValueError(f"cells outside 0 .. {2 ** len(names) - 1}")
        return cells
    generators = spec_design.get("generators") or {}
    if not isinstance(generators, Mapping) or not generators:
        raise ValueError("it lists neither cells nor generators")
    gens = []
    for factor, word in generators.items():
        if factor not in names:
            raise ValueError(f"generator of {factor!r}, not among the factors")
        mask, sign = parse_word(word, names)
        gens.append(Generator(names.index(factor), mask, sign))
    design = Fraction(names, tuple(gens))
    parts = [design] + [fold_over(design, None if f is None else str(f)) for f in spec_design.get("fold_overs") or []]
    return np.unique(np.concatenate([design_cells(d) for d in parts]))


def record_fraction(spec_design: Mapping[str, Any], names: Sequence[str]) -> Fraction:
    """The regular fraction the record's cells form (fold-overs included)."""
    return fraction_from_cells(list(names), design_record_cells(spec_design, dict.fromkeys(names)))
