"""Simulated per-seed cell values of a 2^k factorial under the noise that real trainings show, with known truth.

Values are an array (studies, seeds, cells) of accuracies (fractions in [0, 1]); cells in bit-mask order
(analysis/stats/model_design.py: bit i set = factor i at its second level). The true value of a cell is simulate.py's
`true_value`: mu + sum_T (E_T / 2) prod_{f in T} x_f, x = -1 / +1, so E_T is the term's Yates effect.

Noise models (MODELS), each one seed-block study after another:
  additive         normal run noise `noise` plus a seed block `seed_sd` shared by every cell of a seed
  heteroscedastic  as additive, the plain cells (shortcut at its first level) `plain_ratio` times noisier
  seed_x_shortcut  as additive, plus a shift `plain_shift_sd` per seed shared by the plain cells only
  ceiling          discrete accuracies near 100%: errors ~ Binomial(n_val, (1 - true) * f_seed) on an n_val-image
                   validation set, f_seed a lognormal factor with mean 1 (sd of its log `error_factor_sd`) shared
                   by the cells of a seed; the truth is then the expected accuracy, exactly `true_value`
  failures         as additive, and each plain run independently fails with probability `fail_rate`, losing
                   `fail_drop`; the truth stays the designed one (a failure is not part of the effect)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from analysis.doe.coding import cell_levels, coded_columns, term_name, terms
from analysis.simulate import DEFAULT_FACTORS, true_value

MODELS = ("additive", "heteroscedastic", "seed_x_shortcut", "ceiling", "failures")
PLAIN_FACTOR = "shortcut"  # the factor whose first level is the noisy "plain" network
N_VAL = 359  # validation images of the study's data set
# near-ceiling truth: every cell's accuracy between 97% and 99.5% (sum of |E_T| / 2 = 1.25 pp around 98.25%)
CEILING_MU = 0.9825
CEILING_EFFECTS = {"shortcut": 0.012, "se": 0.005, "activation": 0.003, "shortcut:se": -0.002,
                   "shortcut:activation": 0.0, "se:activation": 0.002, "shortcut:se:activation": 0.001}


@dataclass(frozen=True)
class NoiseSettings:
    noise: float = 0.01  # per-run sd (fractions: 0.01 = 1 pp)
    seed_sd: float = 0.01  # seed block shared by all cells
    plain_ratio: float = 10.0  # heteroscedastic: plain cells' sd / the others'
    plain_shift_sd: float = 0.05  # seed_x_shortcut: sd of the shift a seed gives all plain cells
    n_val: int = N_VAL  # ceiling: validation images
    error_factor_sd: float = 0.3  # ceiling: sd of log of the seed's factor on the error rate
    fail_rate: float = 0.2  # failures: probability a plain run fails
    fail_drop: float = 0.30  # failures: what a failed run loses


@dataclass(frozen=True)
class SimulatedStudies:
    values: np.ndarray  # (studies, seeds, cells), bit-mask cell order
    cell_truth: np.ndarray  # (cells,) true (expected, failure-free) value of each cell
    effect_truth: np.ndarray  # (terms,) true Yates effect of each term, `term_names` order
    term_names: tuple[str, ...]
    plain: np.ndarray  # (cells,) bool: the plain cells
    failed: np.ndarray  # (studies, seeds, cells) bool: runs made to fail (all False outside `failures`)


def yates_weights(factors: Mapping[str, Sequence]) -> np.ndarray:
    """(terms, cells): row T gives the Yates effect of T from cell values (mean at +1 minus mean at -1)."""
    return coded_columns(factors).T * (2.0 / 2 ** len(factors))


def plain_cells(factors: Mapping[str, Sequence], plain_factor: str = PLAIN_FACTOR) -> np.ndarray:
    return np.array([levels[plain_factor] == factors[plain_factor][0] for levels in cell_levels(factors)])


def simulate_cells(model: str, n_seeds: int, studies: int, effects: Mapping[str, float],
                   rng: np.random.Generator | int = 0, mu: float | None = None,
                   factors: Mapping[str, Sequence] = DEFAULT_FACTORS,
                   settings: NoiseSettings = NoiseSettings()) -> SimulatedStudies:
    """`studies` independent studies of the 2^k grid with `n_seeds` seeds under noise model `model` (MODELS).
    mu: the mean accuracy (default 0.8, CEILING_MU for `ceiling`). Values are clipped to [0, 1]."""
    if model not in MODELS:
        raise ValueError(f"unknown noise model {model!r}; one of {', '.join(MODELS)}")
    rng = np.random.default_rng(rng)
    mu = (CEILING_MU if model == "ceiling" else 0.8) if mu is None else mu
    truth = np.array([true_value(levels, factors, effects, mu) for levels in cell_levels(factors)])
    plain = plain_cells(factors)
    n_cells = len(truth)
    shape = (studies, n_seeds, n_cells)
    failed = np.zeros(shape, dtype=bool)
    s = settings
    if model == "ceiling":
        log_f = rng.normal(-s.error_factor_sd ** 2 / 2, s.error_factor_sd, (studies, n_seeds, 1))
        rate = np.clip((1 - truth) * np.exp(log_f), 0, 1)
        values = 1 - rng.binomial(s.n_val, rate) / s.n_val
    else:
        sd = np.where(plain, s.plain_ratio, 1.0) * s.noise if model == "heteroscedastic" else s.noise
        values = truth + rng.normal(0, s.seed_sd, (studies, n_seeds, 1)) + rng.normal(0, 1, shape) * sd
        if model == "seed_x_shortcut":
            values = values + rng.normal(0, s.plain_shift_sd, (studies, n_seeds, 1)) * plain
        if model == "failures":
            failed = (rng.random(shape) < s.fail_rate) & plain
            values = values - s.fail_drop * failed
    names = tuple(term_name(t) for t in terms(factors))
    return SimulatedStudies(np.clip(values, 0, 1), truth, yates_weights(factors) @ truth, names, plain, failed)


def true_contrast_sd(model: str, effects: Mapping[str, float], mu: float | None = None,
                     factors: Mapping[str, Sequence] = DEFAULT_FACTORS, settings: NoiseSettings = NoiseSettings(),
                     draws: int = 400_000, rng: int = 12345) -> np.ndarray:
    """(terms,) the sd of one seed's Yates contrast of each term under `model`, from `draws` simulated seeds
    (the truth that a per-term noise estimate and its upper bound aim at)."""
    sim = simulate_cells(model, draws, 1, effects, rng, mu, factors, settings)
    return (sim.values[0] @ yates_weights(factors).T).std(axis=0, ddof=1)
