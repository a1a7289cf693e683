"""Figures from finished frames; nothing here computes a statistic.

Every function takes the frame(s) the statistics modules return and an optional `ax`, and returns the Axes.
Without an `ax` it draws on a new `matplotlib.figure.Figure` (rendered with Agg when saved; no pyplot state).
Accuracies arrive as fractions and are drawn in percent (`scale`); effects in percentage points.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

SCALE = 100.0  # fractions -> percent
ACC_LABEL = "validation accuracy (%)"
GREY = "0.6"


def new_axes(figsize: tuple[float, float] = (6.4, 4.0)) -> Axes:
    """One Axes on a fresh Figure with a constrained layout."""
    return Figure(figsize=figsize, layout="constrained").subplots()


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def _n_text(counts: Sequence[int]) -> str:
    counts = sorted(set(int(c) for c in counts))
    if not counts:
        return "n = 0"
    return f"n = {counts[0]}" if len(counts) == 1 else f"n = {counts[0]}-{counts[-1]}"


def learning_curves(curves: pd.DataFrame, split: str = "val", ax: Axes | None = None,
                    scale: float = SCALE, title: str | None = None) -> Axes:
    """Mean +- std band per configuration over epochs.

    curves: `analysis.stats.descriptive.curve_summary` (config, model, split, epoch, n, mean, std)."""
    ax = ax or new_axes()
    part = curves[curves["split"] == split]
    models = list(dict.fromkeys(part["model"]))
    for color, model in zip(_colors(len(models)), models):
        c = part[part["model"] == model].sort_values("epoch")
        mean, std = c["mean"].to_numpy() * scale, c["std"].fillna(0).to_numpy() * scale
        ax.plot(c["epoch"], mean, color=color, lw=1.6, label=f"{model} (n={int(c['n'].min())})")
        ax.fill_between(c["epoch"], mean - std, mean + std, color=color, alpha=0.15, lw=0)
    name = {"train": "training", "val": "validation"}.get(split, split)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{name} accuracy (%)")
    ax.set_title(title or f"{name.capitalize()} accuracy per epoch: mean ± std over seeds ({_n_text(part['n'])})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return ax


def per_seed(values: pd.DataFrame, summary: pd.DataFrame, ax: Axes | None = None, scale: float = SCALE,
             ylabel: str = ACC_LABEL, title: str | None = None) -> Axes:
    """Every seed's value as a point, with the mean and its CI, per configuration.

    values: model, seed, value (`per_seed_values`); summary: model, n, mean, ci_low, ci_high (one row per
    model, in the order to draw)."""
    ax = ax or new_axes((max(6.4, 0.9 * len(summary) + 2), 4.2))
    for x, (_, s) in enumerate(summary.iterrows()):
        pts = values[values["model"] == s["model"]].sort_values("seed")["value"].to_numpy() * scale
        offsets = np.linspace(-0.18, 0.18, len(pts)) if len(pts) > 1 else np.zeros(len(pts))
        ax.scatter(x + offsets, pts, s=14, color=GREY, zorder=2)
        low, high = s["ci_low"] * scale, s["ci_high"] * scale
        mean = s["mean"] * scale
        if np.isfinite(low) and np.isfinite(high):
            ax.errorbar(x + 0.3, mean, yerr=[[mean - low], [high - mean]], fmt="o", color="C0", capsize=4,
                        zorder=3)
        else:
            ax.plot(x + 0.3, mean, "o", color="C0", zorder=3)
    ax.set_xticks(range(len(summary)))
    ax.set_xticklabels([f"{m}\n(n={int(n)})" for m, n in zip(summary["model"], summary["n"])],
                       rotation=30, ha="right", fontsize="small")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"Per-seed values (grey), mean and 95% CI (blue), {_n_text(summary['n'])} seeds")
    ax.grid(axis="y", alpha=0.3)
    return ax


def effects_forest(effects: pd.DataFrame, ax: Axes | None = None, scale: float = SCALE,
                   title: str | None = None) -> Axes:
    """Each term's estimate with its unadjusted CI; terms not resolved (Holm, the `resolved` column) are drawn
    hollow and grey, so the markers follow the same rule as the tables.

    effects: term, estimate, ci_low, ci_high, resolved, n_runs (`analysis.stats.effects.factorial_effects`)."""
    ax = ax or new_axes((6.4, 0.4 * len(effects) + 1.6))
    y = np.arange(len(effects))[::-1]
    for yi, (_, e) in zip(y, effects.iterrows()):
        est, low, high = e["estimate"] * scale, e["ci_low"] * scale, e["ci_high"] * scale
        unresolved = not bool(e["resolved"])
        color = GREY if unresolved else "C0"
        if np.isfinite(low) and np.isfinite(high):
            ax.plot([low, high], [yi, yi], color=color, lw=2)
        ax.plot(est, yi, "o", color=color, mfc="white" if unresolved else color)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(effects["term"])
    ax.set_xlabel("effect (percentage points), unadjusted 95% t CI")
    n = f" ({_n_text(effects['n_runs'])} runs)" if "n_runs" in effects else ""
    ax.set_title(title or f"Factorial effects{n}; hollow: not resolved (Holm p ≥ 0.05)")
    ax.grid(axis="x", alpha=0.3)
    return ax


def main_effects(marginal: pd.DataFrame, ax: Axes | None = None, scale: float = SCALE, ylabel: str = ACC_LABEL,
                 title: str | None = None) -> Axes:
    """Mean at each level of each factor, a line per factor (its slope is the main effect).

    marginal: factor, level, n, mean (`analysis.stats.descriptive.marginal_means`), levels in order."""
    ax = ax or new_axes()
    ticks, labels = [], []
    factors = list(dict.fromkeys(marginal["factor"]))
    for j, (color, name) in enumerate(zip(_colors(len(factors)), factors)):
        m = marginal[marginal["factor"] == name]
        x = 3 * j + np.arange(len(m))
        ax.plot(x, m["mean"] * scale, "o-", color=color, lw=2)
        ticks += list(x)
        labels += [f"{name}\n{level}" for level in m["level"]]
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize="small")
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"Main effects: mean at each level ({_n_text(marginal['n'])} runs per level)")
    ax.grid(axis="y", alpha=0.3)
    return ax


def interaction(means: pd.DataFrame, factor_a: str, factor_b: str, ax: Axes | None = None,
                scale: float = SCALE, ylabel: str = ACC_LABEL, title: str | None = None) -> Axes:
    """Mean over the levels of `factor_a`, one line per level of `factor_b` (parallel lines: no interaction).

    means: factor_a, level_a, factor_b, level_b, n, mean (`analysis.stats.descriptive.interaction_means`)."""
    ax = ax or new_axes((4.0, 3.4))
    part = means[(means["factor_a"] == factor_a) & (means["factor_b"] == factor_b)]
    levels_a = list(dict.fromkeys(part["level_a"]))
    for color, (level_b, rows) in zip(_colors(10), part.groupby("level_b", sort=False)):
        ax.plot(range(len(rows)), rows["mean"] * scale, "o-", color=color, label=f"{factor_b}={level_b}")
    ax.set_xticks(range(len(levels_a)))
    ax.set_xticklabels([str(level) for level in levels_a])
    ax.set_xlim(-0.3, len(levels_a) - 0.7)
    ax.set_xlabel(factor_a)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{factor_a} × {factor_b} ({_n_text(part['n'])} runs per point)", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def shapley_waterfall(shapley: pd.DataFrame, baseline: float, full: float, ax: Axes | None = None,
                      scale: float = SCALE, baseline_label: str = "baseline", full_label: str = "full",
                      ylabel: str = ACC_LABEL, title: str | None = None) -> Axes:
    """Baseline bar, one step per component's Shapley value (with its CI), full bar.

    shapley: component, value, ci_low, ci_high (`analysis.stats.shapley.shapley_attribution`); baseline and full: the
    two cells' means (fractions)."""
    ax = ax or new_axes((max(6.4, 1.1 * len(shapley) + 3), 4.2))
    level = baseline * scale
    tops = [level, full * scale]
    for x, (_, s) in enumerate(shapley.iterrows(), start=1):
        step = s["value"] * scale
        color = "C2" if step >= 0 else "C3"
        ax.bar(x, step, bottom=level, color=color, width=0.6)
        if np.isfinite(s["ci_low"]) and np.isfinite(s["ci_high"]):
            ax.errorbar(x, level + step, yerr=[[step - s["ci_low"] * scale], [s["ci_high"] * scale - step]],
                        color="k", capsize=4)
            tops += [level + s["ci_low"] * scale, level + s["ci_high"] * scale]
        ax.annotate(f"{step:+.2f}", (x + 0.3, level + step), textcoords="offset points", xytext=(3, 0),
                    fontsize="small", va="center")
        ax.plot([x - 0.3, x + 1.3], [level + step] * 2, color="k", lw=0.6, ls=":")
        level += step
        tops.append(level)
    low, high = min(tops), max(tops)
    pad = max(high - low, 0.5) * 0.25
    bottom = low - pad
    last = len(shapley) + 1
    ax.bar([0, last], [baseline * scale - bottom, full * scale - bottom], bottom=bottom, color="C0", width=0.6)
    ax.set_ylim(bottom, high + pad)
    ax.set_xticks(range(last + 1))
    ax.set_xticklabels([baseline_label, *shapley["component"], full_label], rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Shapley attribution of the gain, baseline → full (steps in percentage points)")
    ax.grid(axis="y", alpha=0.3)
    return ax


def tuning_best_so_far(frame: pd.DataFrame, ax: Axes | None = None, scale: float = SCALE) -> Axes:
    """Step curves of `best_so_far` over tuning trials, one per configuration (dots: each trial's score).

    frame: config, model, tuning_trial, inner_val_acc, stopped_early, best_so_far
    (`analysis.stats.tuning.best_so_far`)."""
    ax = ax or new_axes()
    models = list(dict.fromkeys(frame["model"]))
    for color, model in zip(_colors(len(models)), models):
        part = frame[frame["model"] == model]
        ax.step(part["tuning_trial"], part["best_so_far"] * scale, where="post", color=color, lw=1.6, label=model)
        full, early = part[~part["stopped_early"]], part[part["stopped_early"]]
        ax.plot(full["tuning_trial"], full["inner_val_acc"] * scale, "o", color=color, ms=4, alpha=0.7)
        ax.plot(early["tuning_trial"], early["inner_val_acc"] * scale, "o", mfc="none", color=color, ms=4,
                alpha=0.7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("tuning trial")
    ax.set_ylabel("inner validation accuracy (%)")
    ax.set_title("Best so far over the tuning trials (dots: each trial; hollow: stopped early by ASHA)",
                 fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return ax


def tuning_expected_max(frame: pd.DataFrame, ax: Axes | None = None, scale: float = SCALE) -> Axes:
    """Expected best inner validation accuracy against the budget n, one curve per configuration.

    frame: config, model, n, expected_max (`analysis.stats.tuning.expected_max_table`)."""
    ax = ax or new_axes()
    models = list(dict.fromkeys(frame["model"]))
    for color, model in zip(_colors(len(models)), models):
        part = frame[frame["model"] == model]
        ax.plot(part["n"], part["expected_max"] * scale, "-o", color=color, lw=1.6, ms=3, label=model)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("budget n (tuning trials)")
    ax.set_ylabel("expected best inner val accuracy (%)")
    ax.set_title("Expected best validation accuracy vs budget (Dodge et al. 2019)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return ax


def effects_over_epochs(by_epoch: pd.DataFrame, ax: Axes | None = None, scale: float = SCALE) -> Axes:
    """Each term's effect (pp) against the epoch, with its interval as a band."""
    ax = ax or new_axes()
    names = list(dict.fromkeys(by_epoch["term"]))
    for color, term in zip(_colors(len(names)), names):
        d = by_epoch[by_epoch["term"] == term].sort_values("epoch")
        ax.plot(d["epoch"], scale * d["estimate"], color=color, label=term, marker="o", ms=3)
        ax.fill_between(d["epoch"], scale * d["ci_low"], scale * d["ci_high"], color=color, alpha=0.15, lw=0)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("effect on validation accuracy (pp)")
    ax.legend(fontsize=7, ncol=2)
    return ax


def pareto(front: pd.DataFrame, configs: pd.DataFrame, metric: str = "final_val_acc", ax: Axes | None = None,
           scale: float = SCALE) -> Axes:
    """Mean accuracy (with its interval) against training FLOPs per image; the Pareto front filled and joined."""
    ax = ax or new_axes()
    table = front.merge(configs[["config", f"{metric}_ci_low", f"{metric}_ci_high"]], on="config", how="left")
    for row in table.itertuples():
        low, high = getattr(row, f"{metric}_ci_low"), getattr(row, f"{metric}_ci_high")
        ax.errorbar(row.cost, scale * row.mean, yerr=[[scale * (row.mean - low)], [scale * (high - row.mean)]],
                    fmt="o", color="C0", mfc="C0" if row.on_front else "white", capsize=3)
        ax.annotate(str(row.model), (row.cost, scale * row.mean), fontsize=7, xytext=(4, 2),
                    textcoords="offset points")
    on = table[table["on_front"]].sort_values("cost")
    ax.plot(on["cost"], scale * on["mean"], color="C0", lw=0.8)
    ax.set_xlabel("training FLOPs per image")
    ax.set_ylabel(ACC_LABEL)
    return ax
