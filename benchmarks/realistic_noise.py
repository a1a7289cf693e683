"""Before -> after error rates of the effect intervals, sd bounds, paired comparisons and configuration intervals
under the realistic noise models of analysis/stats/noise_models.py, at 3, 5 and 10 seeds (markdown tables).

Before: the report's current methods (pooled OLS residual, analysis/stats/effects.py; one sd bound; paired_comparison's
p = 0 for tied differences; the plain t interval per configuration). After: analysis/stats/ (per-seed t, its
moderated variant for comparison, per-term sd bounds, the floored paired t, the near-ceiling interval).

    python benchmarks/realistic_noise.py [--studies 20000] [--seed 0]
"""
from __future__ import annotations

import argparse

import numpy as np

from analysis.stats.descriptive import mean_ci
from analysis.stats.effects import holm
from analysis.stats.paired import COMPARISONS, paired_comparison
from analysis.simulate import DEFAULT_EFFECTS, DEFAULT_FACTORS
from analysis.stats.config_interval import config_intervals
from analysis.stats.noise_models import CEILING_EFFECTS, MODELS, simulate_cells, true_contrast_sd
from analysis.stats.paired_floor import floored_paired_t
from analysis.stats.per_seed_effects import per_seed_effect_arrays
from analysis.stats.pooled_baseline import covers, pooled_effect_intervals
from analysis.stats.seed_diagnostics import failed_runs, seed_interaction
from analysis.stats.term_planning import sd_upper_bounds

F = DEFAULT_FACTORS
SEEDS = (3, 5, 10)
NAMED_CELL = {"Plain-34": 0, "ResNet-34": 1, "SE-ResNet-34": 3, "Mish-ResNet-34": 5}
CEILING_ACCURACIES = (0.97, 0.98, 0.99, 0.995)


def effects_of(model: str) -> dict:
    return CEILING_EFFECTS if model == "ceiling" else DEFAULT_EFFECTS


def span(x: np.ndarray) -> str:
    return f"{np.min(x):.3f}-{np.max(x):.3f}"


def effect_rows(studies: int, rng: np.random.Generator) -> list[str]:
    rows = ["| noise model | seeds | pooled OLS: shortcut / other terms | per-seed t: shortcut / others | "
            "moderated: shortcut / others | pooled sd bound held (one sd) | per-term bound held |",
            "|---|---|---|---|---|---|---|"]
    for model in MODELS:
        truth_sd = true_contrast_sd(model, effects_of(model))
        for n in SEEDS:
            sim = simulate_cells(model, n, studies, effects_of(model), rng)
            pooled = pooled_effect_intervals(sim.values, F)
            old = covers(pooled.ci_low, pooled.ci_high, sim.effect_truth[:, None]).mean(axis=1)
            cov = {}
            for method in ("t", "moderated"):
                a = per_seed_effect_arrays(sim.values, F, method)
                cov[method] = covers(a.ci_low, a.ci_high, sim.effect_truth).mean(axis=0)
            a = per_seed_effect_arrays(sim.values, F)
            per_term = (truth_sd <= sd_upper_bounds(a.sd, a.df)).mean(axis=0)
            # the old plan: one residual sd for every term, i.e. se(effect) sqrt(n) as each term's contrast sd
            df = n * (2 ** len(F) - 1) - len(sim.term_names)
            pooled_sd = pooled.se[0] * np.sqrt(n)
            one = (truth_sd[:, None] <= sd_upper_bounds(pooled_sd, df)[None]).mean(axis=1)
            rows.append(f"| {model} | {n} | {old[0]:.3f} / {span(old[1:])} | {cov['t'][0]:.3f} / "
                        f"{span(cov['t'][1:])} | {cov['moderated'][0]:.3f} / {span(cov['moderated'][1:])} | "
                        f"{span(one)} | {span(per_term)} |")
    return rows


def fwer_rows(studies: int, rng: np.random.Generator) -> list[str]:
    rows = ["| noise model | seeds | per-seed t: P(any of 6 null terms resolved) | seed x term test: P(any flagged) "
            "under additive / P(shortcut flagged) under seed x shortcut |", "|---|---|---|---|"]
    for model in MODELS[:4]:
        for n in SEEDS:
            effects = {"shortcut": 0.01 if model == "ceiling" else 0.03}
            sim = simulate_cells(model, n, studies, effects, rng)
            fw = per_seed_effect_arrays(sim.values, F).resolved[:, 1:].any(axis=1).mean()
            extra = ""
            if model == "additive":
                extra = f"{seed_interaction(sim.values, F).interaction.any(axis=1).mean():.4f}"
            if model == "seed_x_shortcut":
                extra = f"{seed_interaction(sim.values, F).interaction[:, 0].mean():.3f}"
            rows.append(f"| {model} | {n} | {fw:.4f} | {extra} |")
    return rows


def ceiling_rows(studies: int, rng: np.random.Generator) -> list[str]:
    rows = ["| seeds | true accuracy | paired, old: FWER of resolved (5 comparisons) | paired, floored: FWER | "
            "config interval, plain t: coverage / zero-width share | config interval, floored: coverage / "
            "min width |", "|---|---|---|---|---|---|"]
    for n in SEEDS:
        for mu in CEILING_ACCURACIES:
            v = simulate_cells("ceiling", n, studies, {}, rng, mu=mu).values
            new = np.array([floored_paired_t(v[:, :, NAMED_CELL[x]], v[:, :, NAMED_CELL[y]])["p_t"]
                            for x, y in COMPARISONS])
            few = v[: min(studies, 1000)]  # the old rule one study at a time, through analysis/stats/paired.py
            old = np.array([[paired_comparison(s[:, NAMED_CELL[x]], s[:, NAMED_CELL[y]])["p_t"]
                             for x, y in COMPARISONS] for s in few]).T
            x = v[:, :, 0]
            plain = [mean_ci(row) for row in x[:2000]]
            plain_cov = np.mean([p["ci_low"] <= mu <= p["ci_high"] for p in plain])
            zero = np.mean([p["ci_high"] == p["ci_low"] for p in plain])
            ci = config_intervals(x)
            rows.append(f"| {n} | {mu} | {(holm(old) < 0.05).any(axis=0).mean():.4f} | "
                        f"{(holm(new) < 0.05).any(axis=0).mean():.4f} | {plain_cov:.3f} / {zero:.4f} | "
                        f"{covers(ci.ci_low, ci.ci_high, mu).mean():.3f} / {(ci.ci_high - ci.ci_low).min():.4f} |")
    return rows


def failure_rows(studies: int, rng: np.random.Generator) -> list[str]:
    rows = ["| seeds | false flags per run (additive) | false flags per run (heteroscedastic) | failures found "
            "(failures) | false flags per run (failures) |", "|---|---|---|---|---|"]
    for n in SEEDS:
        clean = failed_runs(simulate_cells("additive", n, studies, DEFAULT_EFFECTS, rng).values).mean()
        het = failed_runs(simulate_cells("heteroscedastic", n, studies, DEFAULT_EFFECTS, rng).values).mean()
        sim = simulate_cells("failures", n, studies, DEFAULT_EFFECTS, rng)
        flags = failed_runs(sim.values)
        rows.append(f"| {n} | {clean:.5f} | {het:.4f} | {flags[sim.failed].mean():.3f} | "
                    f"{flags[~sim.failed].mean():.5f} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.studies < 100:
        parser.error("--studies must be at least 100")
    rng = np.random.default_rng(args.seed)
    print(f"Coverage of 95% effect intervals and P(true sd <= 80% bound), {args.studies} studies per row\n")
    print("\n".join(effect_rows(args.studies, rng)))
    print(f"\nFamily-wise error of resolved (shortcut non-null, 6 null terms) and the seed x term test\n")
    print("\n".join(fwer_rows(args.studies, rng)))
    print(f"\nNear the ceiling (binomial errors on 359 images, no true difference)\n")
    print("\n".join(ceiling_rows(args.studies, rng)))
    print(f"\nFailed-training flags\n")
    print("\n".join(failure_rows(args.studies // 4, rng)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
