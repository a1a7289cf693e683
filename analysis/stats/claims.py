"""Claims as data: a study's conclusions, one row each, checked against the effects the analysis estimated.

A claims file (CSV, `--claims FILE`; the original study's are analysis/claims/original_study.csv) has the
columns id, text (one line), response (a response column: final_val_acc, final_train_acc, val_jumpiness, ...),
kind, term, config_a, config_b, direction. Kinds:
  location    the location effect of `term` (a factor or an interaction, 'shortcut:se') on `response`;
              direction '+' claims it raises the response, '-' lowers it.
  dispersion  the dispersion effect of `term` (analysis/stats/dispersion.py): '-' claims the second level
              shrinks the seed-to-seed spread (sd ratio < 1), '+' widens it.
  comparison  config_a against config_b (model names or config ids) on `response`: '+' claims a > b.
  best        config_a is the best configuration on `response` (direction '+' or empty).
A claim is supported when its test is resolved (the family-wise rule of the table it comes from) with the
claimed sign, contradicted when resolved with the other sign, not resolved otherwise (also when the analysis has
no estimate for it). A best-configuration claim is supported when config_a is the only member of the set of
configurations that may be best, contradicted when the set excludes it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

ORIGINAL_STUDY = Path(__file__).resolve().parent.parent / "claims" / "original_study.csv"
COLUMNS = ("id", "text", "response", "kind", "term", "config_a", "config_b", "direction")
KINDS = ("location", "dispersion", "comparison", "best")
DIRECTIONS = ("+", "-")
SUPPORTED, CONTRADICTED, NOT_RESOLVED = "supported", "contradicted", "not resolved"
RESULT_COLUMNS = ("claim", "test", "estimate", "ci_low", "ci_high", "verdict", "seeds_needed", "text", "response",
                  "kind")


class ClaimsError(ValueError):
    """A claims file that cannot be used; the message is one line."""


def _fail(path, line: int | None, why: str) -> None:
    where = f"claims file {path}" + (f" row {line}" if line is not None else "")
    raise ClaimsError(f"{where}: {why}")


def read_claims(path: str | Path) -> pd.DataFrame:
    """The claims of a CSV file (module docstring), one row each, every value a stripped string ('' if empty).

    ClaimsError (one line) on an unreadable or empty file, a missing column, a duplicate or empty id, an unknown
    kind, a direction other than + or -, or a row that lacks what its kind needs."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        _fail(path, None, "no such file")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        _fail(path, None, f"not a readable CSV ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        _fail(path, None, f"missing column(s) {', '.join(missing)} (needs {', '.join(COLUMNS)})")
    table = table[list(COLUMNS)].apply(lambda column: column.str.strip())
    if table.empty:
        _fail(path, None, "no claims")
    seen = set()
    for i, row in enumerate(table.itertuples(index=False), start=2):  # row 1 is the header
        if not row.id or row.id in seen:
            _fail(path, i, f"{'empty' if not row.id else 'duplicate'} id {row.id!r}")
        seen.add(row.id)
        if row.kind not in KINDS:
            _fail(path, i, f"unknown kind {row.kind!r} (one of {', '.join(KINDS)})")
        if row.direction not in DIRECTIONS and not (row.kind == "best" and row.direction == ""):
            _fail(path, i, f"direction must be + or -; got {row.direction!r}")
        if not row.response:
            _fail(path, i, "empty response")
        if row.kind in ("location", "dispersion") and not row.term:
            _fail(path, i, f"a {row.kind} claim needs a term")
        if row.kind in ("comparison", "best") and not row.config_a:
            _fail(path, i, f"a {row.kind} claim needs config_a")
        if row.kind == "comparison" and not row.config_b:
            _fail(path, i, "a comparison claim needs config_b")
    return table.reset_index(drop=True)


def _frame(tables) -> pd.DataFrame:
    """One frame with a `response` column from a frame that has one or a mapping response -> frame."""
    if tables is None:
        return pd.DataFrame(columns=["response"])
    if isinstance(tables, Mapping):
        parts = [t.assign(response=r) for r, t in tables.items()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["response"])
    if "response" not in tables and len(tables):
        raise ValueError("an effects table for the claims needs a `response` column (or pass a mapping "
                         "response -> table)")
    return tables


def _same_term(a: str, b: str) -> bool:
    return frozenset(str(a).split(":")) == frozenset(str(b).split(":"))


def _verdict(resolved, estimate: float, direction: str, null: float) -> str:
    if not (bool(resolved) and np.isfinite(estimate)) or estimate == null:
        return NOT_RESOLVED
    return SUPPORTED if (estimate > null) == (direction == "+") else CONTRADICTED


def _term_row(table: pd.DataFrame, response: str, term: str):
    mine = table[(table["response"] == response) & table["term"].map(lambda t: _same_term(t, term))] \
        if len(table) else table
    return mine.iloc[0] if len(mine) else None


def _names(row: pd.Series, role: str) -> set:
    keys = {"model": ("model", "named_model", "config_model"),
            "baseline": ("baseline", "named_baseline", "config_baseline")}[role]
    return {str(row[k]) for k in keys if k in row.index}


def _comparison(table: pd.DataFrame, response: str, a: str, b: str):
    """(estimate of a - b, ci_low, ci_high, resolved, seeds_needed) from a paired-comparisons row, or None."""
    for _, row in (table[table["response"] == response] if len(table) else table).iterrows():
        need = row.get("seeds_needed", np.nan)
        if a in _names(row, "model") and b in _names(row, "baseline"):
            return row["mean_diff"], row["ci_low"], row["ci_high"], row["resolved"], need
        if b in _names(row, "model") and a in _names(row, "baseline"):
            return -row["mean_diff"], -row["ci_high"], -row["ci_low"], row["resolved"], need
    return None


def evaluate_claims(claims: pd.DataFrame, location_effects, dispersion_effects, best_set=None,
                    seeds_needed: Mapping[str, float] | None = None, comparisons=None) -> pd.DataFrame:
    """One row per claim: RESULT_COLUMNS.

    location_effects: analysis.stats.effects.factorial_effects rows with a `response` column (or a mapping response ->
    table); dispersion_effects: analysis.stats.dispersion.dispersion_effects rows, the same way; comparisons:
    analysis.stats.paired.paired_comparisons rows, the same way; best_set: the configurations that may be best on the
    claims' response (None: not computed). seeds_needed: claim id -> seeds per cell that would resolve it, for
    claims not resolved (default: the matched row's own `seeds_needed` column where it has one). estimate: a
    Yates effect (location), an sd ratio (dispersion), a difference a - b (comparison); NaN for best."""
    location, dispersion, paired = _frame(location_effects), _frame(dispersion_effects), _frame(comparisons)
    seeds_needed = dict(seeds_needed or {})
    rows = []
    for claim in claims.itertuples(index=False):
        estimate = low = high = need = np.nan
        verdict = NOT_RESOLVED
        sign = ">" if claim.direction == "+" else "<"
        if claim.kind in ("location", "dispersion"):
            table = location if claim.kind == "location" else dispersion
            null, value = (0.0, "estimate") if claim.kind == "location" else (1.0, "sd_ratio")
            test = f"{claim.kind} effect of {claim.term} on {claim.response} {sign} {null:g}"
            row = _term_row(table, claim.response, claim.term)
            if row is not None:
                estimate, low, high = float(row[value]), float(row["ci_low"]), float(row["ci_high"])
                verdict = _verdict(row["resolved"], estimate, claim.direction, null)
                need = row.get("seeds_needed", np.nan)
        elif claim.kind == "comparison":
            test = f"{claim.config_a} - {claim.config_b} on {claim.response} {sign} 0"
            found = _comparison(paired, claim.response, claim.config_a, claim.config_b)
            if found is not None:
                estimate, low, high, is_resolved, need = found
                verdict = _verdict(is_resolved, float(estimate), claim.direction, 0.0)
        else:
            test = f"{claim.config_a} alone in the best set on {claim.response}"
            if best_set is not None:
                members = {str(m) for m in best_set}
                verdict = (SUPPORTED if members == {claim.config_a} else
                           CONTRADICTED if claim.config_a not in members else NOT_RESOLVED)
        if verdict != NOT_RESOLVED:
            need = np.nan
        need = seeds_needed.get(claim.id, need) if verdict == NOT_RESOLVED else need
        rows.append({"claim": claim.id, "test": test, "estimate": float(estimate), "ci_low": float(low),
                     "ci_high": float(high), "verdict": verdict, "seeds_needed": float(need), "text": claim.text,
                     "response": claim.response, "kind": claim.kind})
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
