"""Ordinary least squares and t intervals for linear contrasts of its coefficients.

One design matrix X may carry many responses at once (Y of shape (runs, R)): the R fits share X, so a simulation
of R studies with the same design is one QR decomposition. Every interval the report gives for an effect, a
Shapley value or the gain is a contrast L beta of one such fit, with se = sigma sqrt(L (X'X)^-1 L') and a
Student t on the residual degrees of freedom (exact when the noise is normal with one variance).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class LinearFit:
    coef: np.ndarray  # (p,) or (p, R)
    xtx_inv: np.ndarray  # (p, p): (X'X)^-1
    sse: np.ndarray  # residual sum of squares: () or (R,)
    df: int  # residual degrees of freedom: runs - p
    n_obs: int

    @property
    def sigma(self) -> np.ndarray:
        """Residual standard deviation sqrt(SSE / df); NaN without residual degrees of freedom."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sqrt(self.sse / self.df) if self.df >= 1 else np.full_like(self.sse, np.nan, dtype=float)


def fit_ols(X: np.ndarray, Y: np.ndarray) -> LinearFit:
    """OLS of Y (n,) or (n, R) on X (n, p) of full column rank; ValueError (one line) otherwise."""
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float)
    n, p = X.shape
    if n < p or np.linalg.matrix_rank(X) < p:
        raise ValueError(f"the design matrix ({n} runs, {p} columns) is rank deficient: not every column is "
                         "estimable")
    q, r = np.linalg.qr(X)
    coef = np.linalg.solve(r, q.T @ Y)
    resid = Y - X @ coef
    r_inv = np.linalg.solve(r, np.eye(p))
    return LinearFit(coef, r_inv @ r_inv.T, (resid ** 2).sum(axis=0), n - p, n)


@dataclass(frozen=True)
class Contrasts:
    """Estimates of L beta, each with its se, t interval and two-sided p (arrays (m,) or (m, R))."""
    estimate: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    t: np.ndarray
    p_value: np.ndarray
    df: int


def contrasts(fit: LinearFit, L: np.ndarray, confidence: float = 0.95) -> Contrasts:
    """t intervals at `confidence` and p-values (H0: L beta = 0) of the rows of L (m, p); NaN without df."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    estimate = L @ fit.coef
    scale = np.sqrt(np.einsum("ij,jk,ik->i", L, fit.xtx_inv, L))
    sigma = fit.sigma
    se = scale[:, None] * sigma[None, :] if np.ndim(sigma) else scale * sigma
    with np.errstate(invalid="ignore", divide="ignore"):
        t = estimate / se
        if fit.df >= 1:
            half = stats.t.ppf(0.5 + confidence / 2, fit.df) * se
            p = 2 * stats.t.sf(np.abs(t), fit.df)
        else:
            half = p = np.full_like(estimate, np.nan)
    return Contrasts(estimate, se, estimate - half, estimate + half, t, p, fit.df)
