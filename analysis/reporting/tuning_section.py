"""The report's sections after the planning: the tuning stage, `--compare`, and fANOVA as a cross-check.

- The tuning stage (only for a study run with `--tune-first`): the tuned values per configuration, the best-so-far
  curves and the expected best inner validation accuracy against the budget (analysis/stats/tuning.py).
- `--compare OTHER_RUN_DIR`: this study's effects next to another study's of the same grid (analysis/stats/compare.py).
- For every study: Optuna's fANOVA importance of the factors next to the ANOVA main effects (analysis/stats/fanova.py).

analysis/report.py calls `analyse_tuning` once and hands the section to the document and the file writer. Never
imports torch or ray; optuna only where fANOVA runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.reporting import figures as plots
from analysis.reporting.formats import DASH, interval, pct, pp
from analysis.reporting.document import Document
from analysis.stats.compare import Comparison, compare_studies
from analysis.stats.fanova import fanova_importance, fanova_vs_anova
from analysis.stats.tuning import best_so_far, expected_max_table, tuned_table

if TYPE_CHECKING:
    from analysis.study_analysis import Analysis


@dataclass
class TuningSection:
    FILES: ClassVar[tuple[str, ...]] = ("tuned.csv", "tuning_expected_max.csv", "compare_effects.csv", "fanova.csv")

    metric: str = "final_val_acc"
    tuning: pd.DataFrame | None = None
    tuned: pd.DataFrame | None = None
    curves: pd.DataFrame | None = None  # best_so_far
    expected: pd.DataFrame | None = None  # expected_max_table
    comparison: Comparison | None = None  # only with --compare
    fanova: pd.DataFrame | None = None  # fanova_vs_anova
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Report files: name -> frame (only those computed)."""
        compare = self.comparison.effects if self.comparison is not None else None
        found = dict(zip(self.FILES, (self.tuned, self.expected, compare, self.fanova)))
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
        if self.comparison is not None:
            self._render_compare(doc, self.comparison)
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
        plots.tuning_best_so_far(self.curves, left)
        plots.tuning_expected_max(self.expected, right)
        doc.figure(fig, "tuning", "Left: best inner validation accuracy found after each tuning trial. Right: the "
                                  "expected best with a budget of n trials, from the observed scores.")
        shown = _budget_points(int(tuning.groupby("config")["tuning_trial"].count().max()))
        wide = self.expected[self.expected["n"].isin(shown)].pivot(index="config", columns="n",
                                                                   values="expected_max")
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

    def _render_compare(self, doc: Document, comparison: Comparison) -> None:
        this, other = comparison.labels
        doc.heading(f"Effects side by side: {this} vs {other}")
        if comparison.effects is None:
            doc.paragraph("Not computed: " + "; ".join(comparison.notes
                                                       or ["effects are missing in one of the studies"]), note=True)
            return
        c = comparison.effects
        doc.paragraph(f"`{self.metric}` effects of this study ({this}) and of `{comparison.other_dir}` ({other}), "
                      "each fitted the same way on every completed run of its own study. Where an effect is smaller "
                      "under tuning than under a shared recipe, part of it came from the recipe suiting one level of "
                      "the factor better than the other.")
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
        doc.heading("fANOVA importance of the factors: another estimate of the same shares")
        if self.fanova is None:
            reason = next((n for n in self.notes if n.startswith("fANOVA")), "fANOVA: not computed")
            doc.paragraph(reason, note=True)
            return
        f = self.fanova
        doc.paragraph(f"Optuna's fANOVA evaluator (random forest of `{self.metric}` on the factor levels, seed 0) "
                      "splits the variance into per-factor parts, normalised to sum to 1. It is fitted on the same "
                      "completed runs as the effects and ignores the seed block. The ANOVA share is E²/ΣE² over the "
                      "main effects. On a full two-level grid both estimate the same shares from the same cell "
                      "means, so agreement is expected and confirms nothing; a difference is one between two "
                      "estimators of the same quantity. Neither column has an interval: whether an effect is "
                      "resolved is said only in the effects table.")
        doc.table(pd.DataFrame({
            "Factor": f["factor"], "fANOVA importance": f["fanova_importance"].map(_fraction),
            "Main effect (pp)": f["main_effect"].map(pp), "ANOVA share": f["anova_share"].map(_fraction),
            "Partial η²": f["partial_eta_sq"].map(_fraction)}), "Point estimates only, no intervals.")


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


def analyse_tuning(a: Analysis, compare_dir: str | Path | None = None) -> TuningSection:
    """The section's frames for an `analysis.study_analysis.Analysis` (and, optionally, a second study to compare)."""
    study = a.study
    section = TuningSection(metric=a.metric)
    tuning = study.tuning
    if tuning is not None:
        section.tuning = tuning
        section.tuned = tuned_table(tuning, study.trials)
        section.curves = best_so_far(tuning)
        section.expected = expected_max_table(tuning)
    if compare_dir is not None:
        section.comparison = compare_studies(a, compare_dir)
    try:
        importance = fanova_importance(study.trials, study.factors, a.metric)
        section.fanova = fanova_vs_anova(importance, a.effects)
    except ValueError as err:
        section.notes.append(f"fANOVA: not computed ({err})")
    return section
