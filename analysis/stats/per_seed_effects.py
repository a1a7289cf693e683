"""Factorial effects from per-seed contrasts: each seed's own Yates contrast of every term, a t interval over seeds.

Each seed with a run in every cell gives one value of every term's effect from its own cells (the seed block
cancels: each contrast's weights sum to 0). The estimate is their mean over the m complete seeds, the interval
mean +- t(0.975, m - 1) sd_T / sqrt(m) with the term's OWN sd over seeds, the p-value two-sided on m - 1 df, and
a term is resolved when its Holm-adjusted p (over the terms) is below alpha. Unlike the pooled residual of the
OLS fit (analysis/stats/effects.py), this stays honest when a seed moves some cells together (seed x configuration
interaction: only the terms it touches get wider) and whatever the noise of each cell. Seeds missing a cell are
left out (n_seeds says how many seeds the table rests on); under 2 complete seeds the intervals are NaN, and so
are the se, interval and p of a term whose per-seed contrasts are all equal (no spread is no evidence: it is never
"resolved" from zero observed spread).

Moderated alternative (method="moderated"): limma's empirical Bayes (Smyth 2004) shrinks each term's variance
towards a prior fitted to the m terms' variances, s~^2 = (d0 s0^2 + d s^2) / (d0 + d), on d0 + d df (capped at the
pooled df m d). Measured (python benchmarks/realistic_noise.py --studies 20000; coverage of the 95% interval,
minimum over the 7 terms, at 3 / 5 / 10 seeds; docs/statistics.md):
    per-term t:  additive 0.948 / 0.949 / 0.948, heteroscedastic 0.947 / 0.949 / 0.948,
                 seed x shortcut 0.948 / 0.947 / 0.947, ceiling 0.947 / 0.947 / 0.947
    moderated:   additive 0.950 / 0.947 / 0.950, heteroscedastic 0.936 / 0.944 / 0.946,
                 seed x shortcut 0.781 / 0.883 / 0.920 (shortcut), ceiling 0.919 / 0.914 / 0.913 (shortcut)
Moderation borrows the other terms' variance, which is wrong exactly where a seed moves the plain cells: the
default is the per-term t ("t").
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, fields
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from analysis.doe.coding import term_name, terms
from analysis.stats.model_design import model_design
from analysis.stats.effects import ALPHA, holm, resolved
from analysis.stats.shapley import MIN_SEEDS, per_seed_method, seed_cell_values
from analysis.stats.noise_models import yates_weights

METHODS = ("t", "moderated")


@dataclass(frozen=True)
class EffectArrays:
    """Per-seed effect estimates of R studies at once: arrays (R, terms); n_seeds (R,)."""
    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    p_holm: np.ndarray
    resolved: np.ndarray
    n_seeds: np.ndarray
    sd: np.ndarray  # each term's own sd over seeds of its per-seed contrast (before any moderation)


@dataclass(frozen=True)
class PerSeedEffects:
    """One study's effects table (one entry per term); `frame()` gives it as a DataFrame."""
    term: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    df: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    p_holm: np.ndarray
    resolved: np.ndarray
    n_seeds: int
    method: str

    def frame(self) -> pd.DataFrame:
        columns = {f.name: getattr(self, f.name) for f in fields(self)}
        columns["term"] = list(self.term)
        return pd.DataFrame({**columns, "n_seeds": self.n_seeds, "method": self.method})


def seed_contrasts(values: np.ndarray, factors: Mapping[str, Sequence]) -> np.ndarray:
    """(studies, seeds, terms): each seed's Yates contrast of every term; NaN for a seed missing any cell."""
    return np.asarray(values, dtype=float) @ yates_weights(factors).T


def trigamma_inverse(x: np.ndarray) -> np.ndarray:
    """y with trigamma(y) = x (x > 0), by Smyth's Newton iteration from y = 0.5 + 1 / x."""
    x = np.asarray(x, dtype=float)
    y = 0.5 + 1.0 / x
    for _ in range(50):
        tri = special.polygamma(1, y)
        step = tri * (1 - tri / x) / special.polygamma(2, y)
        y = y + step
        if np.all(np.abs(step) < 1e-8 * y):
            break
    return y


def moderated_variance(s2: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(posterior variances (R, m), their df (R, 1)) from per-term variances s2 (R, m) on d (R, 1) df each:
    limma's prior (d0, s0^2) fitted by moments of log s2 across the m terms of each study."""
    s2 = np.maximum(s2, 1e-300)  # a tied term (s2 = 0) would give log 0
    m = s2.shape[1]
    half = d / 2
    e = np.log(s2) - special.digamma(half) + np.log(half)
    excess = e.var(axis=1, ddof=1, keepdims=True) - special.polygamma(1, half)
    with np.errstate(invalid="ignore", divide="ignore"):
        d0 = np.where(excess > 0, 2 * trigamma_inverse(np.where(excess > 0, excess, 1.0)), np.inf)
        s0 = np.exp(e.mean(axis=1, keepdims=True) + special.digamma(d0 / 2) - np.log(d0 / 2))
        s0 = np.where(np.isfinite(d0), s0, np.exp(e.mean(axis=1, keepdims=True)))
        post = np.where(np.isfinite(d0), (d0 * s0 + d * s2) / (d0 + d), s0)
    return post, np.minimum(d + d0, m * d)


def per_seed_effect_arrays(values: np.ndarray, factors: Mapping[str, Sequence], method: str = "t",
                           confidence: float = 0.95, alpha: float = ALPHA) -> EffectArrays:
    """Effects of R studies from values (R, seeds, cells) (NaN: no run); see the module docstring."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    c = seed_contrasts(values, factors)
    complete = np.isfinite(c).all(axis=2)  # (R, seeds)
    n = complete.sum(axis=1)
    c = np.where(complete[..., None], c, np.nan)
    with warnings.catch_warnings():  # a study under 2 complete seeds has no interval: NaN, silently
        warnings.simplefilter("ignore", RuntimeWarning)
        estimate = np.nanmean(c, axis=1)
        sd = np.where(n[:, None] >= MIN_SEEDS, np.nanstd(c, axis=1, ddof=1), np.nan)
        d = np.where(n >= MIN_SEEDS, n - 1, np.nan).astype(float)[:, None]
        var, df = (sd ** 2, d) if method == "t" else moderated_variance(sd ** 2, d)
        df = np.broadcast_to(df, sd.shape)
        se = np.sqrt(var / n[:, None])
        se = np.where(se > 0, se, np.nan)  # every seed gave the same contrast: no spread, so "cannot tell"
        half = stats.t.ppf(0.5 + confidence / 2, df) * se
        p = 2 * stats.t.sf(np.abs(estimate / se), df)
    p_holm = holm(p.T).T
    return EffectArrays(estimate, se, df, estimate - half, estimate + half, p, p_holm, resolved(p_holm, alpha), n,
                        sd)


def method_label(method: str, n_seeds: int) -> str:
    return per_seed_method(n_seeds) if method == "t" else f"moderated {per_seed_method(n_seeds)}"


def per_seed_effects(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str = "final_val_acc",
                     method: str = "t", confidence: float = 0.95, alpha: float = ALPHA) -> PerSeedEffects:
    """Every term's effect of a full 2^k study from per-seed contrasts over the seeds with a run in every cell.

    runs: one row per run (factor columns, seed, metric; a status column keeps completed rows), as for
    analysis.stats.effects.factorial_effects; ValueError (one line) when a cell has no run at all."""
    design = model_design(runs, factors, metric)
    values = seed_cell_values(design).T[None]  # (1, seeds, cells)
    a = per_seed_effect_arrays(values, factors, method, confidence, alpha)
    n = int(a.n_seeds[0])
    return PerSeedEffects(tuple(term_name(t) for t in terms(factors)), a.estimate[0], a.se[0], a.df[0],
                          a.ci_low[0], a.ci_high[0], a.p_value[0], a.p_holm[0], a.resolved[0], n,
                          method_label(method, n))
