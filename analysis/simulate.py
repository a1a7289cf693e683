"""Simulated studies with known truth: result tables (results/trials.csv, results/epochs.csv) for checking the
methods (tests, simulations of error rates) and for the benchmarks.

The per-seed final validation accuracy of a cell is
    mu + sum over terms T of (E_T / 2) * prod_{f in T} x_f + block[seed] + noise,   x_f = -1 / +1,
so E_T is exactly the term's Yates effect (analysis/stats/effects.py).
"""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

DEFAULT_FACTORS = {"shortcut": (False, True), "se": (False, True), "activation": ("relu", "mish")}
DEFAULT_EFFECTS = {"shortcut": 0.06, "se": 0.012, "activation": 0.004, "shortcut:se": -0.008,
                   "shortcut:activation": 0.0, "se:activation": 0.003, "shortcut:se:activation": 0.009}
ID_KEYS = {"activation": "act"}


def config_id(levels: Mapping[str, object]) -> str:
    return "-".join(f"{ID_KEYS.get(k, k)}={int(v) if isinstance(v, bool) else v}" for k, v in levels.items())


def model_name(levels: Mapping[str, object]) -> str:
    depth = levels.get("depth", 34)
    extras = (["SE"] if levels.get("se") else []) + ([str(levels["activation"]).capitalize()]
                                                      if levels.get("activation", "relu") != "relu" else [])
    if levels.get("shortcut", True):
        return "-".join(extras + [f"ResNet-{depth}"])
    return f"Plain-{depth}" + "".join(f"+{e}" for e in extras)


def cells(factors: Mapping[str, Sequence]) -> list[dict]:
    """Every level combination, first factor slowest (the runner's grid order)."""
    return [dict(zip(factors, combo)) for combo in itertools.product(*factors.values())]


def cells_outside(factors: Mapping[str, Sequence], keep: Sequence[int]) -> list[str]:
    """Config ids of every cell not in `keep` (bit masks: bit i set = factor i at its second level), for
    make_study's drop_cells: the study then runs only the fraction `keep`."""
    keep, names = {int(c) for c in keep}, list(factors)
    return [config_id({n: factors[n][m >> i & 1] for i, n in enumerate(names)})
            for m in range(2 ** len(names)) if m not in keep]


def true_value(levels: Mapping[str, object], factors: Mapping[str, Sequence], effects: Mapping[str, float],
               mu: float) -> float:
    code = {f: (1.0 if levels[f] == factors[f][1] else -1.0) for f in factors}
    return mu + sum(e / 2 * np.prod([code[f] for f in term.split(":")]) for term, e in effects.items())


def simulate(factors: Mapping[str, Sequence] = DEFAULT_FACTORS, effects: Mapping[str, float] = DEFAULT_EFFECTS,
             n_seeds: int = 10, mu: float = 0.8, noise: float = 0.01, seed_sd: float = 0.01,
             rng: np.random.Generator | int = 0) -> pd.DataFrame:
    """Long frame: config, model, factor columns, seed, final_val_acc (balanced, one row per cell and seed)."""
    rng = np.random.default_rng(rng)
    block = rng.normal(0, seed_sd, n_seeds)
    rows = []
    for levels in cells(factors):
        base = true_value(levels, factors, effects, mu)
        for seed in range(n_seeds):
            rows.append({"config": config_id(levels), "model": model_name(levels), **levels, "seed": seed,
                         "final_val_acc": base + block[seed] + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def make_study(root: Path, factors: Mapping[str, Sequence] = DEFAULT_FACTORS,
               effects: Mapping[str, float] = DEFAULT_EFFECTS, n_seeds: int = 10, epochs: int = 10,
               mu: float = 0.8, noise: float = 0.01, seed_sd: float = 0.01, rng: int = 0,
               failed: Sequence[tuple[str, int]] = (), drop_cells: Sequence[str] = (),
               spec: str | None = None, extra_columns: bool = True) -> Path:
    """Write root/results/{trials,epochs}.csv (and spec.yaml when given); returns root.

    failed: (config id, seed) pairs whose trial failed half-way; drop_cells: config ids with no rows at all."""
    gen = np.random.default_rng(rng)
    values = simulate(factors, effects, n_seeds, mu, noise, seed_sd, gen)
    trial_rows, epoch_rows = [], []
    for i, row in values.iterrows():
        if row["config"] in drop_cells:
            continue
        identity = {"trial_id": f"t{i:04d}", "config": row["config"], "model": row["model"],
                    **{f: row[f] for f in factors}, "seed": int(row["seed"])}
        final = float(np.clip(row["final_val_acc"], 0, 1))
        fails = (row["config"], int(row["seed"])) in set(failed)
        done = epochs // 2 if fails else epochs
        curve = final - 0.5 * (final - 0.2) * np.exp(-np.arange(1, epochs + 1) / 2.0)
        curve = np.clip(curve + gen.normal(0, 0.01, epochs), 0, 1)
        curve[-1] = final
        train = np.clip(curve + 0.05 + gen.normal(0, 0.005, epochs), 0, 1)
        for e in range(done):
            epoch_rows.append({**identity, "epoch": e + 1, "train_loss": 1 - train[e], "train_acc": train[e],
                               "val_loss": 1 - curve[e], "val_acc": curve[e], "lr": 1e-3, "seconds": 1.0})
        best = int(np.argmax(curve[:done]))
        summary = {"status": "failed" if fails else "completed", "epochs_done": done,
                   "final_train_acc": train[done - 1], "final_val_acc": curve[done - 1],
                   "best_val_acc": curve[best], "best_epoch": best + 1, "final_train_loss": 1 - train[done - 1],
                   "final_val_loss": 1 - curve[done - 1], "params": 21_000_000, "train_seconds": float(done)}
        if fails:
            summary.update({k: np.nan for k in ("final_train_acc", "final_val_acc", "best_val_acc", "best_epoch")})
        extra = {"node_id": "n0", "hostname": "localhost", "lr": 1e-3, "weight_decay": 1e-4} if extra_columns else {}
        trial_rows.append({**identity, **summary, **extra})
    results = Path(root) / "results"
    results.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(trial_rows).to_csv(results / "trials.csv", index=False)
    pd.DataFrame(epoch_rows).to_csv(results / "epochs.csv", index=False)
    if spec is not None:
        (Path(root) / "spec.yaml").write_text(spec)
    return Path(root)
