"""Effects, Shapley values and the gain of a regular fractional factorial 2^(k-p), from one OLS fit.

In a fraction the contrast of a term's column estimates the signed sum of the term's alias chain, not the term
alone (Box, Hunter & Hunter, Statistics for Experimenters, 2nd ed. 2005, ch. 6; Wu & Hamada, Experiments,
2nd ed. 2009, ch. 5). So the fit has one column per alias chain, named by its representative (the chain's
lowest-order term, first in factor order), and it rests on an assumption that says where the chains stop:

- resolution III (and below): main effects only, every interaction assumed zero. Each main effect is aliased
  with two-factor interactions; a nonzero one biases it by exactly its (signed) size.
- resolution IV: main effects and one representative per chain of two-factor interactions; interactions of
  three or more factors assumed zero. A chain's estimate is the sum of its 2fis, reported once, never as
  separate findings.
- resolution V and above: main effects and every two-factor interaction, each clear of the others;
  interactions of three or more factors assumed zero.

The fit is `analysis.stats.effects`' (seed block, +-1 coding, Holm over the table's terms), so the intervals and the
`resolved` rule are those of the full grid. The contrasts the model leaves out (chains of higher order) pool
into the residual with the seed-to-seed noise: under the assumption they hold noise only. A failed seed in one
cell costs only that run: the estimates stay unbiased under the assumption, but with unequal runs per cell an
alias the assumption sets to zero would no longer enter its chain with weight exactly +-1.

Shapley values and the gain come from the FITTED model's predicted mean of every one of the 2^k cells, run or
not (`analysis.stats.shapley`'s contrasts on this model), with the same t intervals. A two-factor interaction takes
the same value at the baseline (every code -1) and the full configuration (every code +1), and its Shapley
shares cancel (in 2^3, phi_i = E_i + E_ABC / 3: the 2fis drop out), so under the assumption each factor's
Shapley value is its main-effect estimate and the gain is their sum. How a resolution IV chain is split among
its members therefore changes no Shapley value; the fit carries it on the representative.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from analysis.doe.fractions import FULL, Fraction, alias_chains, describe, estimable_terms, resolution, roman
from analysis.stats.effects import effects_table
from analysis.stats.model_design import ModelDesign, model_design
from analysis.stats.ols import LinearFit, fit_ols
from analysis.stats.shapley import attribution_table, gain_summary

ALIAS_ORDER = 3  # alias chains are listed up to three-factor interactions, as the textbook tables do
ALIASES = "aliases"  # the effects table's column: the chain in textbook form, '' for a full grid


def assumed_order(fraction: Fraction) -> int:
    """The highest interaction order the model fits: 1 (main effects only) below resolution IV, else 2."""
    return 1 if resolution(fraction) <= 3 else 2


def model_terms(fraction: Fraction) -> list[tuple[str, ...]]:
    """One representative per alias set up to `assumed_order`: mains (III), mains + one per 2fi chain (IV),
    mains + every 2fi (V and above)."""
    return estimable_terms(fraction, assumed_order(fraction))


def assumption(fraction: Fraction) -> str:
    """The clause the estimates rest on, to follow 'under the assumption that'."""
    if resolution(fraction) == FULL:
        return "nothing beyond the seed block and one noise level (the full grid estimates every term)"
    if assumed_order(fraction) == 1:
        return "every interaction is zero"
    return "every interaction of three or more factors is zero"


def assumption_sentence(fraction: Fraction) -> str:
    """What the model fits and assumes, in one sentence, for the report."""
    res = resolution(fraction)
    if res == FULL:
        what = "every main effect and interaction"
    elif res >= 5:
        what = "main effects and every two-factor interaction"
    elif res == 4:
        what = ("main effects and one term per alias chain of two-factor interactions (its estimate is the signed "
                "sum of the chain)")
    else:
        what = "main effects only" if res == 3 else "one term per alias chain of main effects"
    return (f"Model fitted: {what}, under the assumption that {assumption(fraction)}; the other contrasts of the "
            f"{fraction.runs} cells pool into the residual.")


def alias_labels(fraction: Fraction, terms: Sequence[Sequence[str]], max_order: int = ALIAS_ORDER) -> list[str]:
    """Each term's alias chain in textbook form up to `max_order` ('se = shortcut:activation:depth'); the term
    alone where nothing of that order is aliased with it."""
    chains = {c.term: str(c) for c in alias_chains(fraction, max_order)}
    return [chains.get(tuple(t), ":".join(t)) for t in terms]


@dataclass(frozen=True)
class FractionFit:
    """The analysis of a fraction: the design, its model (`design`, `fit`) and the tables the report shows."""
    fraction: Fraction
    design: ModelDesign
    fit: LinearFit
    effects: pd.DataFrame  # effects_table with an `aliases` column after `term`
    shapley: pd.DataFrame | None  # attribution_table of the fitted model; None below resolution III
    gain: dict | None  # gain_summary of the fitted model (n_baseline, n_full may be 0: not run)
    description: str  # `describe`: what the fraction separates and what it cannot, one sentence
    assumption: str  # the clause the estimates and the Shapley values rest on
    model: str  # `assumption_sentence`
    skipped: tuple[str, ...] = ()


def with_aliases(effects: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """`effects` with the `aliases` column right after `term`."""
    out = effects.copy()
    out.insert(out.columns.get_loc("term") + 1, ALIASES, list(labels))
    return out


def fraction_effects(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str, fraction: Fraction,
                     confidence: float = 0.95) -> FractionFit:
    """Effects (one row per alias chain), Shapley values and the gain of the completed `runs` of `fraction`.

    runs: one row per completed run (factor columns, `seed`, `metric`); ValueError (one line) when the runs
    cannot estimate the model (as `analysis.stats.model_design.model_design`)."""
    if tuple(factors) != fraction.factors:
        raise ValueError(f"the fraction's factors {list(fraction.factors)} are not the study's {list(factors)}")
    terms = model_terms(fraction)
    design = model_design(runs, factors, metric, terms)
    fit = fit_ols(design.X, design.y)
    with warnings.catch_warnings():  # a noiseless study divides by zero; the NaNs say so
        warnings.simplefilter("ignore", RuntimeWarning)
        effects = with_aliases(effects_table(design, fit, confidence), alias_labels(fraction, terms))
        shapley = gain = None
        skipped = []
        if resolution(fraction) >= 3:
            shapley = attribution_table(design, fit, confidence)
            gain = gain_summary(design, fit, confidence)
        else:
            skipped.append(f"Shapley attribution: in a resolution {roman(resolution(fraction))} fraction some "
                           "main effects are aliased with each other, so no factor's share can be told apart")
    return FractionFit(fraction, design, fit, effects, shapley, gain, describe(fraction), assumption(fraction),
                       assumption_sentence(fraction), tuple(skipped))


def shapley_label(fit: FractionFit) -> str:
    """The label the Shapley values carry in a fraction."""
    return (f"Shapley values of the fitted model (its predictions for all {2 ** fit.fraction.k} cells, "
            f"{fit.fraction.runs} of them run), under the assumption that {fit.assumption}")
