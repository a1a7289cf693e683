"""The tuning stage in the report, the tuned-vs-shared-recipe comparison, and fANOVA as a cross-check.

- `results/tuning.csv` (a study run with `--tune-first`; one row per tuning trial: config, model, factor columns,
  tuning_trial, lr, weight_decay, label_smoothing, inner_val_acc, epochs_done, ...): the tuned values per
  configuration, each configuration's best-so-far curve over its tuning trials, and the expected best inner
  validation accuracy against the budget (Dodge et al. 2019, "Show your work").
- `--compare OTHER_RUN_DIR`: the factorial effects of this study and of another study of the same grid (e.g. a
  tuned study against a shared-recipe one), side by side.
- For every study: Optuna's fANOVA importance of the factors (analysis/fanova.py), next to the ANOVA main
  effects (a cross-check of the factorial attribution by a model-free method).

Pure functions on frames, plus the report section. Never imports torch or ray; optuna only where fANOVA runs.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis.design import balance
from analysis.effects import factorial_effects
from analysis.fanova import fanova_importance, fanova_vs_anova
from analysis.load import ResultsError, level_key, load_study, read_table
from analysis.render import DASH, Document, interval, pct, pp

TUNING_TABLE = Path("results") / "tuning.csv"
TUNED = ("lr", "weight_decay", "label_smoothing")
TUNING_COLUMNS = ("config", "model", "tuning_trial", *TUNED, "inner_val_acc", "epochs_done")
SCALE = 100.0


# --- expected best validation accuracy against the budget (Dodge et al. 2019) ------------------------------------


def expected_max(scores: Sequence[float], n: int) -> float:
    """E[max of n draws] from the empirical distribution of `scores` (NaNs ignored).

    With the scores sorted, v_(1) <= ... <= v_(N): E[max_n] = sum_i v_(i) [(i/N)^n - ((i-1)/N)^n], the estimator of
    Dodge et al. (2019), i.e. n independent draws from the observed scores (the empirical CDF raised to n).
    """
    return float(expected_max_curve(scores, [n])[0])


def expected_max_curve(scores: Sequence[float], budgets: Sequence[int] | None = None) -> np.ndarray:
    """E[max_n] for each n in `budgets` (default 1..N)."""
    v = np.sort(np.asarray(scores, dtype=float)[np.isfinite(np.asarray(scores, dtype=float))])
    total = len(v)
    budgets = np.arange(1, total + 1) if budgets is None else np.asarray(budgets, dtype=int)
    if total == 0:
        return np.full(len(budgets), np.nan)
    if (budgets < 1).any():
        raise ValueError(f"budgets must be >= 1, got {budgets.tolist()}")
    i = np.arange(1, total + 1)
    weights = (i[None, :] / total) ** budgets[:, None] - ((i[None, :] - 1) / total) ** budgets[:, None]
    return weights @ v


# --- tables from results/tuning.csv ------------------------------------------------------------------------------


def load_tuning(run_dir: str | Path) -> pd.DataFrame | None:
    """RUN_DIR/results/tuning.csv, or None where the study had no tuning stage."""
    path = Path(run_dir) / TUNING_TABLE
    if not path.is_file():
        return None
    table = read_table(path, TUNING_COLUMNS)
    for column in ("inner_val_acc", *TUNED):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    bad = table["inner_val_acc"].dropna()
    if ((bad < 0) | (bad > 1)).any():
        raise ResultsError(f"{path}: inner_val_acc has values outside [0, 1]; accuracies must be fractions")
    order = {config: i for i, config in enumerate(dict.fromkeys(table["config"]))}  # as the study wrote them
    table["_order"] = table["config"].map(order)
    return table.sort_values(["_order", "tuning_trial"], kind="stable").drop(columns="_order").reset_index(drop=True)


def chosen_rows(tuning: pd.DataFrame) -> pd.DataFrame:
    """Each configuration's winner: the `chosen` column where present, else the best inner_val_acc (ties: the
    earlier trial), which is the rule the study applies."""
    rows = []
    for _, group in tuning.groupby("config", sort=False):
        if "chosen" in group and group["chosen"].astype(str).str.lower().eq("true").any():
            rows.append(group[group["chosen"].astype(str).str.lower().eq("true")].iloc[0])
            continue
        scored = group[group["inner_val_acc"].notna()]
        if "status" in scored:  # a trial that failed never wins
            scored = scored[scored["status"].astype(str).str.lower() == "completed"]
        if scored.empty:
            continue
        rows.append(scored.sort_values(["inner_val_acc", "tuning_trial"], ascending=[False, True]).iloc[0])
    return pd.DataFrame(rows).reset_index(drop=True)


def tuned_table(tuning: pd.DataFrame, trials: pd.DataFrame | None = None) -> pd.DataFrame:
    """config, model, the tuned values, the winner's inner_val_acc and epochs, the budget (trials run), how many
    trials ASHA stopped early, and (with the ablation's trials) whether the ablation ran with these values."""
    best = chosen_rows(tuning)
    budget = tuning.groupby("config", sort=False)["tuning_trial"].count()
    early = (tuning["epochs_done"] < _max_epochs(tuning)).groupby(tuning["config"], sort=False).sum()
    out = best[["config", "model", *TUNED, "inner_val_acc", "epochs_done", "tuning_trial"]].copy()
    out["n_trials"] = out["config"].map(budget).astype(int)
    out["stopped_early"] = out["config"].map(early).astype(int)
    if trials is not None and all(h in trials for h in TUNED):
        ran = trials.groupby("config")[list(TUNED)]  # every seed of a configuration must have run with them
        lo, hi = ran.min(), ran.max()
        out["used_by_ablation"] = [
            config in lo.index and all(np.isclose(lo.loc[config, h], value, rtol=1e-9, atol=0)
                                       and np.isclose(hi.loc[config, h], value, rtol=1e-9, atol=0)
                                       for h, value in zip(TUNED, values))
            for config, values in zip(out["config"], out[list(TUNED)].to_numpy(dtype=float))]
    return out


def _max_epochs(tuning: pd.DataFrame) -> pd.Series:
    """Per row: the epochs a tuning trial was allowed (`max_epochs`, else the most any trial of its config ran)."""
    column = "max_epochs" if "max_epochs" in tuning else "epochs_done"
    return tuning["config"].map(tuning.groupby("config", sort=False)[column].max())


def best_so_far(tuning: pd.DataFrame) -> pd.DataFrame:
    """config, model, tuning_trial, inner_val_acc, stopped_early, best_so_far (the running maximum over the trials
    in order)."""
    frame = tuning[["config", "model", "tuning_trial", "inner_val_acc"]].copy()  # load_tuning's order
    frame["stopped_early"] = tuning["epochs_done"] < _max_epochs(tuning)
    running = frame.groupby("config", sort=False)["inner_val_acc"].cummax()
    frame["best_so_far"] = running.groupby(frame["config"], sort=False).ffill()  # a failed trial keeps the best
    return frame.reset_index(drop=True)


def expected_max_table(tuning: pd.DataFrame) -> pd.DataFrame:
    """config, model, n, expected_max: E[best inner val acc] with a budget of n trials, n = 1..N per config."""
    rows = []
    for config, group in tuning.groupby("config", sort=False):
        scores = group["inner_val_acc"].to_numpy(dtype=float)
        curve = expected_max_curve(scores)
        rows += [{"config": config, "model": group["model"].iloc[0], "n": n + 1, "expected_max": value}
                 for n, value in enumerate(curve)]
    return pd.DataFrame(rows, columns=["config", "model", "n", "expected_max"])


# --- the effects of two studies side by side ---------------------------------------------------------------------


def study_effects(trials: pd.DataFrame, factors: Mapping[str, Sequence], metric: str) -> pd.DataFrame | None:
    """The factorial effects of a study's trials (None where the design does not allow them)."""
    try:
        balanced, _ = balance(trials, factors, metric)
    except ValueError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return factorial_effects(balanced, factors, metric)


def compare_effects(this: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """term, estimate, ci_low, ci_high, n_seeds, other_estimate, other_ci_low, other_ci_high, other_n_seeds,
    difference (this - other), in this study's term order."""
    cols = ["term", "estimate", "ci_low", "ci_high", "n_seeds"]
    merged = this[cols].merge(other[cols].rename(columns={c: f"other_{c}" for c in cols[1:]}), on="term", how="left")
    merged["difference"] = merged["estimate"] - merged["other_estimate"]
    return merged


def _same_factors(a: Mapping[str, Sequence], b: Mapping[str, Sequence]) -> bool:
    return list(a) == list(b) and all([level_key(x) for x in a[f]] == [level_key(x) for x in b[f]] for f in a)


# --- figures (finished frames in, Axes out) ----------------------------------------------------------------------


def _colors(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def plot_best_so_far(frame: pd.DataFrame, ax: Axes, scale: float = SCALE) -> Axes:
    """Step curves of `best_so_far` over tuning trials, one per configuration (dots: each trial's score)."""
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


def plot_expected_max(frame: pd.DataFrame, ax: Axes, scale: float = SCALE) -> Axes:
    """Expected best inner validation accuracy against the budget n, one curve per configuration."""
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


# --- the report section ------------------------------------------------------------------------------------------


@dataclass
class TuningSection:
    FILES: ClassVar[tuple[str, ...]] = ("tuned.csv", "tuning_expected_max.csv", "compare_effects.csv", "fanova.csv")

    metric: str = "final_val_acc"
    tuning: pd.DataFrame | None = None
    tuned: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None  # best_so_far
    expected: pd.DataFrame | None = None  # expected_max_table
    compare: pd.DataFrame | None = None  # compare_effects
    compare_dir: Path | None = None
    labels: tuple[str, str] = ("this study", "other study")
    fanova: pd.DataFrame | None = None  # fanova_vs_anova
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Report files: name -> frame (only those computed)."""
        found = dict(zip(self.FILES, (self.tuned, self.expected, self.compare, self.fanova)))
        return {name: frame for name, frame in found.items() if frame is not None}

    def file_bullets(self) -> list[str]:
        text = {"tuned.csv": "the tuned values per configuration, with the winner's inner val acc",
                "tuning_expected_max.csv": "config, model, n, expected_max (the expected best inner val acc "
                                           "with a budget of n tuning trials)",
                "compare_effects.csv": "the effects of both studies and their difference (fractions)",
                "fanova.csv": "factor, fanova_importance, main_effect, anova_share, partial_eta_sq"}
        return [f"`{name}`: {text[name]}." for name in self.tables()]

    def render(self, doc: Document) -> None:
        if self.tuning is not None:
            self._render_tuning(doc)
        if self.compare_dir is not None:
            self._render_compare(doc)
        self._render_fanova(doc)

    def _render_tuning(self, doc: Document) -> None:
        t, tuning = self.tuned, self.tuning
        budgets = sorted(set(t["n_trials"]))
        doc.heading("Hyperparameter tuning (before the ablation)")
        doc.paragraph(
            f"Every configuration had its own search over lr, weight decay and label smoothing with the same budget "
            f"({', '.join(map(str, budgets))} trials each; Optuna TPE, ASHA stopping poor trials early), scored on "
            "an inner validation split carved from the TRAINING set: the study's validation set was not used. The "
            "ablation then trained each configuration with its winner (best inner val acc, ties to the earlier "
            "trial).")
        if len(budgets) > 1:
            doc.paragraph(f"The budget differs between configurations ({budgets}): the comparison is not even.",
                          note=True)
        frame = pd.DataFrame({
            "Model": t["model"], "Config": t["config"], "lr": t["lr"].map(lambda x: f"{x:.3g}"),
            "Weight decay": t["weight_decay"].map(lambda x: f"{x:.3g}"),
            "Label smoothing": t["label_smoothing"].map(lambda x: f"{x:.3f}"),
            "Inner val acc (%)": t["inner_val_acc"].map(pct),
            "Winning trial": t["tuning_trial"].astype(int).astype(str) + " of " + t["n_trials"].astype(str),
            "Epochs (winner)": t["epochs_done"].astype(int),
            "Trials stopped early (ASHA)": t["stopped_early"].astype(int)})
        if "used_by_ablation" in t:
            frame["Used by the ablation"] = t["used_by_ablation"].map({True: "yes", False: "NO"})
        doc.table(frame, "Tuned values per configuration (the ablation's trials.csv has them in its lr, "
                         "weight_decay and label_smoothing columns).")
        fig = Figure(figsize=(12, 4.6), layout="constrained")
        left, right = fig.subplots(1, 2, sharey=True)
        plot_best_so_far(self.curves, left)
        plot_expected_max(self.expected, right)
        doc.figure(fig, "tuning", "Left: best inner validation accuracy found after each tuning trial. Right: the "
                                  "expected best with a budget of n trials, from the observed scores.")
        shown = _budget_points(int(tuning.groupby("config")["tuning_trial"].count().max()))
        wide = self.expected[self.expected["n"].isin(shown)].pivot(index="config", columns="n", values="expected_max")
        order = list(dict.fromkeys(self.expected["config"]))
        wide = wide.reindex(order)
        models = self.expected.drop_duplicates("config").set_index("config")["model"]
        table = pd.DataFrame({"Model": models.reindex(order).to_numpy()})
        for n in shown:
            table[f"n = {n}"] = wide[n].map(pct).to_numpy() if n in wide else DASH
        doc.table(table, "Expected best inner validation accuracy (%) with a budget of n tuning trials: "
                         "E[max_n] = Σ v₍ᵢ₎ [(i/N)ⁿ − ((i−1)/N)ⁿ] over the N observed scores sorted ascending "
                         "(Dodge et al. 2019: n independent draws, with replacement, from the observed scores). A "
                         "curve still rising at n = N says a larger budget would likely find better values.")

    def _render_compare(self, doc: Document) -> None:
        this, other = self.labels
        doc.heading(f"Effects side by side: {this} vs {other}")
        if self.compare is None:
            doc.paragraph("Not computed: " + "; ".join(self.notes or ["effects are missing in one of the studies"]),
                          note=True)
            return
        c = self.compare
        doc.paragraph(f"`{self.metric}` effects of this study ({this}) and of `{self.compare_dir}` ({other}), each "
                      "from its own balanced seeds. Where an effect is smaller under tuning than under a shared "
                      "recipe, part of it came from the recipe suiting one level of the factor better than the other.")
        doc.table(pd.DataFrame({
            "Term": c["term"],
            f"{this} (pp)": c["estimate"].map(pp), f"{this} 95% CI": [interval(lo, hi) for lo, hi
                                                                     in zip(c["ci_low"], c["ci_high"])],
            f"{other} (pp)": c["other_estimate"].map(pp),
            f"{other} 95% CI": [interval(lo, hi) for lo, hi in zip(c["other_ci_low"], c["other_ci_high"])],
            "Difference (pp)": c["difference"].map(pp),
            "n seeds": [f"{_count(a)} / {_count(b)}" for a, b in zip(c["n_seeds"], c["other_n_seeds"])]}),
            f"Effects in pp; difference = {this} − {other}.")

    def _render_fanova(self, doc: Document) -> None:
        doc.heading("Cross-check: fANOVA importance of the factors")
        if self.fanova is None:
            reason = next((n for n in self.notes if n.startswith("fANOVA")), "fANOVA: not computed")
            doc.paragraph(reason, note=True)
            return
        f = self.fanova
        doc.paragraph(f"Optuna's fANOVA evaluator (random forest of `{self.metric}` on the factor levels of the "
                      "ablation's completed trials, seed 0) splits the variance into per-factor parts, normalised to "
                      "sum to 1. The ANOVA share is the same normalisation of the factorial main effects (E²/ΣE² over "
                      "the main effects). Agreement of the two rankings supports the attribution above; fANOVA has "
                      "no intervals, so it does not say whether an effect is resolved.")
        doc.table(pd.DataFrame({
            "Factor": f["factor"], "fANOVA importance": f["fanova_importance"].map(_fraction),
            "Main effect (pp)": f["main_effect"].map(pp), "ANOVA share": f["anova_share"].map(_fraction),
            "Partial η²": f["partial_eta_sq"].map(_fraction)}))


def _fraction(x: float) -> str:
    return DASH if not np.isfinite(x) else f"{x:.3f}"


def _count(x: float) -> str:
    return DASH if not np.isfinite(x) else str(int(x))


def _budget_points(n_max: int) -> list[int]:
    """1, 2, 4, 8, ... up to and including n_max."""
    points, n = [], 1
    while n < n_max:
        points.append(n)
        n *= 2
    return points + [n_max] if n_max >= 1 else points


def _label(run_dir: Path) -> str:
    return "tuned" if (Path(run_dir) / TUNING_TABLE).is_file() else "shared recipe"


def analyse_tuning(a, compare_dir: str | Path | None = None) -> TuningSection:
    """The section's frames for an `analysis.analyse.Analysis` (and, optionally, a second study to compare)."""
    study = a.study
    section = TuningSection(metric=a.metric)
    tuning = load_tuning(study.run_dir)
    if tuning is not None:
        section.tuning = tuning
        section.tuned = tuned_table(tuning, study.trials)
        section.curves = best_so_far(tuning)
        section.expected = expected_max_table(tuning)
    if compare_dir is not None:
        other = load_study(compare_dir)
        section.compare_dir = Path(compare_dir)
        this_label, other_label = _label(study.run_dir), _label(other.run_dir)
        if this_label == other_label:
            this_label, other_label = f"this study ({this_label})", f"other study ({other_label})"
        section.labels = (this_label, other_label)
        if not _same_factors(study.factors, other.factors):
            section.notes.append(f"the two studies vary different factors or levels ({dict(study.factors)} vs "
                                 f"{dict(other.factors)})")
        else:
            other_effects = study_effects(other.trials, other.factors, a.metric)
            if a.effects is None or other_effects is None:
                which = "this study" if a.effects is None else str(compare_dir)
                section.notes.append(f"{which} has no factorial effects (see its Gaps)")
            else:
                section.compare = compare_effects(a.effects, other_effects)
    try:
        importance = fanova_importance(study.trials, study.factors, a.metric)
        section.fanova = fanova_vs_anova(importance, a.effects)
    except ValueError as err:
        section.notes.append(f"fANOVA: not computed ({err})")
    return section
