"""Build a study's report from its result tables.

    python analysis/report.py RUN_DIR [--metric final_val_acc|best_val_acc] [--compare OTHER_RUN_DIR]
                                      [--min-effect PP] [--wandb offline|online|disabled]
                                      [--wandb-project PROJECT]
    python -m analysis.report RUN_DIR

writes RUN_DIR/report/: report.html (self-contained, figures embedded), report.md (+ figures/*.png),
configs.csv, effects.csv, shapley.csv, paired.csv, power.csv. From Python: `build_report(run_dir, metric,
compare, min_effect)` with min_effect a fraction (0.01 = 1 pp); `--min-effect` takes percentage points.
A bad RUN_DIR or table ends with one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.analyse import Analysis, analyse
from analysis.defaults import MIN_EFFECT
from analysis.reporting import figures as plots
from analysis.reporting import sections as report_sections
from analysis.reporting import waves_section as sequential_report
from analysis.reporting.document import DASH, Document, interval, pm
from analysis.reporting.tuning_section import TuningSection, analyse_tuning
from analysis.results.load import METRICS, ResultsError, load_study
from analysis.stats.paired import NAMED_MODELS
from analysis.wandb_summary import WandbSummaryError, log_summary
from runstore import write_atomic

# effects.csv keeps its first columns in their old order; the rest follow
EFFECT_COLUMNS = ["term", "estimate", "ci_low", "ci_high", "p_value", "p_holm", "partial_eta_sq", "resolved", "se",
                  "df", "n_runs", "n_seeds", "aliases"]
SHAPLEY_COLUMNS = ["component", "value", "ci_low", "ci_high", "share", "se", "df", "n_runs", "method"]
METRIC_TEXT = {
    "final_val_acc": "final validation accuracy (after the last epoch)",
    "best_val_acc": "best validation accuracy over the epochs (optimistic: the epoch is chosen on the "
                    "validation set itself)",
}


def _plain(value) -> str:
    """A table cell as written: no '5.0' for a whole number, a dash for a missing one."""
    if isinstance(value, (float, np.floating)):
        return DASH if not np.isfinite(value) else f"{value:g}"
    return DASH if value is None or value is pd.NA else str(value)


def _seed_counts(counts) -> str:
    counts = sorted(set(int(c) for c in counts))
    return DASH if not counts else str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def _intro(doc: Document, a: Analysis) -> None:
    s, c = a.study, a.configs
    levels = "; ".join(f"`{n}`: {' → '.join(map(str, lv))}" for n, lv in s.factors.items()) or "none"
    doc.paragraph(f"Run directory `{s.run_dir}`. Metric analysed: `{a.metric}`, the {METRIC_TEXT[a.metric]}. "
                  f"{int(c['n_completed'].sum())} of {len(s.trials)} trials completed, in {len(c)} configurations "
                  f"with {_seed_counts(c['n_completed'])} completed seeds each. Factors (baseline level first): "
                  f"{levels}. Accuracies are in %, differences in percentage points (pp); every mean carries "
                  "its n (seeds or runs) and every interval its method and level.")


def _study_table(doc: Document, a: Analysis) -> None:
    t = a.table
    one_ref = t["reference"].nunique() == 1
    ref = t["reference"].iloc[0] if one_ref else "the reference"
    frame = pd.DataFrame({
        "Model": t["model"] + np.where(t["named"], "", " *"),
        "n": t["n"],
        "Best epoch": [pm(m, s, 1, 1.0) for m, s in zip(t["best_epoch_mean"], t["best_epoch_std"])],
        "Train acc (%)": [pm(m, s) for m, s in zip(t["final_train_acc_mean"], t["final_train_acc_std"])],
        "Val acc (%)": [pm(m, s) for m, s in zip(t["final_val_acc_mean"], t["final_val_acc_std"])],
        "Best val acc (%), optimistic": [pm(m, s) for m, s in zip(t["best_val_acc_mean"], t["best_val_acc_std"])],
        f"Gain vs {ref} (pp)": [DASH if r == mdl else pm(m, s, 2) + ("" if gn == n else f" (n = {gn})")
                                for m, s, r, mdl, n, gn in zip(t["gain_mean"], t["gain_std"], t["reference"],
                                                               t["model"], t["n"], t["gain_n"])],
    })
    if not one_ref:  # one Plain per level of another factor (depth): say which
        frame.insert(len(frame.columns) - 1, "Reference", t["reference"])
    doc.heading("The original study's table, over seeds")
    doc.table(frame, f"Mean ± std over n seeds (no intervals here: see Configurations). Train and val acc after the "
                     f"last epoch; gain: `{a.metric}` minus that of {ref} on the same seed (over the seeds both "
                     "completed, n given where fewer). * not one of the original four models.")


def _configs(doc: Document, a: Analysis) -> None:
    c = a.configs
    frame = pd.DataFrame({"Model": c["model"], "Config": c["config"], "n": c["final_val_acc_n"]})
    for m, label in (("final_val_acc", "Final val acc"), ("best_val_acc", "Best val acc (optimistic)")):
        frame[f"{label} (%)"] = [pm(x, s) for x, s in zip(c[f"{m}_mean"], c[f"{m}_std"])]
        frame[f"{label} 95% CI (t)"] = [interval(lo, hi, 1) + (" clipped" if cut else "") for lo, hi, cut
                                        in zip(c[f"{m}_ci_low"], c[f"{m}_ci_high"], c[f"{m}_ci_clipped"])]
    frame["Not completed"] = c["n_failed"]
    doc.heading("Configurations")
    doc.table(frame, "Mean ± std over n completed seeds, with the 95% t interval of the mean (n − 1 df), cut to "
                     "[0, 100] and marked clipped where the t interval passed a bound (an accuracy's mean cannot, so "
                     "the cut interval covers as often as the t interval).")
    fig = Figure(figsize=(max(11.0, 1.5 * len(c)), 4.6), layout="constrained")
    for ax, m in zip(fig.subplots(1, 2, sharey=True), METRICS):
        summary = c.rename(columns={f"{m}_{k}": k for k in ("n", "mean", "ci_low", "ci_high")})
        title = "Final" if m == "final_val_acc" else "Best (optimistic)"
        plots.per_seed(a.values[m], summary, ax=ax, title=f"{title} val acc: seeds, mean, 95% CI "
                                                            f"(n = {_seed_counts(summary['n'])})")
    doc.figure(fig, "per_seed", "Every seed's accuracy (grey) and each configuration's mean with its 95% t CI "
                                "(cut to [0, 100]).")
    if a.curves is not None and len(a.curves):
        fig = Figure(figsize=(12, 4.6), layout="constrained")
        for ax, split in zip(fig.subplots(1, 2), ("train", "val")):
            plots.learning_curves(a.curves, split, ax=ax)
        doc.figure(fig, "learning_curves", "Learning curves: mean ± std over the completed seeds.")


def _gaps(doc: Document, a: Analysis) -> None:
    doc.heading("Gaps")
    f = a.failed
    if f.empty and not a.notes and not a.skipped:
        doc.paragraph(f"None: all {len(a.study.trials)} trials completed and every analysis ran.")
        return
    if not f.empty:
        cols = [c for c in ("trial_id", "model", "config", "seed", "status", "epochs_done") if c in f]
        doc.paragraph(f"{len(f)} trial(s) did not complete and are left out of every statistic:", note=True)
        doc.table(f[cols].astype(object).map(_plain))
    doc.bullets(a.notes + [f"Not computed: {s}" for s in a.skipped])


def _definitions(doc: Document, a: Analysis) -> None:
    doc.heading("Definitions")
    doc.bullets([
        "`final_val_acc`: validation accuracy after the last epoch. `best_val_acc`: the highest validation accuracy "
        "over the epochs; optimistic, because the epoch is picked on the validation set itself.",
        "n: the number of seeds (completed trials) behind a mean, or of runs in a cell. std: sample standard "
        "deviation over seeds. 95% CI of a configuration's mean: mean ± t(0.975, n − 1) · std / √n, cut to "
        "[0, 100] and marked clipped where it passed a bound.",
        "Effects (Yates): main effect = mean at the factor's second level − mean at its first, averaged over the "
        "other factors; interactions likewise, each half the difference of the lower-order effect across the "
        "levels of the added factor. Estimated by OLS on every completed run with ±1 coding (estimate = 2 × "
        "coefficient) and seed as a block, so a failed run costs only itself; unadjusted 95% CI and p from the t "
        "statistic on the residual df; p (Holm): Holm's step-down adjustment over all terms; partial η² = "
        "SS_term / (SS_term + SS_residual). The effects keep the pooled residual sd: each effect weighs every cell "
        "by the same ±1/2^(k−1), so its variance depends on the cells' noise only through their average, which "
        "the pooled residual variance estimates.",
        "Resolved: Holm-adjusted p < 0.05 within its family (all factorial terms; all named-model comparisons). "
        "This holds the chance of calling any null term resolved to 5%; an unadjusted CI that excludes 0 does "
        "not (with 6 null terms it errs in about a quarter of studies). Not resolved is not \"no effect\": see "
        "the MDE.",
        "Shapley value: a factor's contribution to the gain from the baseline (every factor at its first level) to "
        "the full configuration (every factor at its second), averaged over all orders of switching factors on; "
        "the values sum to the gain. For 2^3: φ_i = E_i + E_ABC / 3.",
        "Gain and Shapley values on a full grid (per-seed t): each seed with a run in every cell gives its own gain "
        "(full − baseline) and Shapley values (the exact Shapley weights on its cells); the value is their mean "
        "over those m seeds and the 95% CI mean ± t(0.975, m − 1) · sd / √m. The seed block cancels within a seed "
        "and each seed gives one independent value, so the interval is exact for normal noise whatever the noise "
        "of each cell: 0.944-0.956 coverage in 8,000 simulated studies per setting at 3, 5 and 10 seeds, with "
        "equal noise, with the baseline cell twice as noisy as the others, and with plain cells twice as noisy as "
        "residual ones. With no run missing the values equal the contrasts of the effects' cell means; a seed "
        "without a run in every cell is left out of them (not of the effects), so that they still sum exactly to "
        "the gain and each sits at the centre of its interval. The pooled t interval (the effects' residual sd "
        "and df) assumes one noise level in every cell: with the baseline cell alone twice as noisy its gain "
        "interval covers about 0.85 in the same simulations. It is used, with the fit's seed-adjusted cell means, "
        "only where fewer than 2 seeds have a run in every cell, and for a fraction, whose Shapley values are its "
        "fitted model's; `shapley.csv`'s `method` says which: `per-seed t (m seeds)` or `pooled t (df)`. A "
        "bootstrap over 3-5 seeds is not used: it cannot cover (at most 75% at 3 seeds).",
        "Paired comparison: per-seed difference (model − baseline) on the seeds both completed; paired t test "
        "(unadjusted 95% CI), Holm over the comparisons; Wilcoxon signed-rank test only where ≥ 6 nonzero "
        "differences allow p < 0.05.",
        "P(improvement): the share of seeds on which the model beats the baseline (a tie is no improvement), with "
        "the exact Clopper-Pearson 95% interval.",
        "MDE: the smallest effect the family-wise rule detects with 80% power at the current n (two-sided t at "
        "α/m, noncentral t). Seeds needed: per cell, for the smallest effect of interest (`--min-effect`), with the "
        "residual sd at its 80% one-sided upper confidence bound sd · √(df / χ²(0.20, df)).",
        "fANOVA (where shown): a random forest's variance split of the same runs, ignoring the seed block; on a full "
        "two-level grid it estimates the same shares as E² / ΣE² of the main effects, so it is an alternative "
        "estimate, not independent evidence.",
    ])


def _names(doc: Document, a: Analysis) -> None:
    doc.heading("Where the names come from")
    named = ", ".join(f"{n} ({', '.join(f'{k}={v}' for k, v in lv.items())})" for n, lv in NAMED_MODELS.items())
    doc.paragraph("Model names and configuration ids are read from the `model` and `config` columns of "
                  "`results/trials.csv`, which the study writes from its factor definitions; factors are the "
                  "columns between `model` and `seed`, their level order comes from `spec.yaml` where the run "
                  "directory has one, otherwise False before True, numbers ascending, relu before mish. The "
                  f"original study's named models are recognised by their factor levels: {named}.")


def build_document(a: Analysis, extra: TuningSection | None = None) -> Document:
    doc = Document(f"Ablation report: {a.study.run_dir.resolve().name}")
    sections = report_sections
    for part in (_intro, sections.trust, sections.glance, _study_table, _configs, sections.effects,
                 sections.shapley, sections.paired, sections.planning):
        part(doc, a)
    sequential_report.section(doc, a)  # a study run --until-settled: results/waves.csv
    if extra is not None:  # tuning stage, --compare, fANOVA (analysis/reporting/tuning_section.py)
        extra.render(doc)
    for part in (_gaps, _definitions, _names):
        part(doc, a)
    doc.heading("Files")
    doc.bullets(["`report.html`, `report.md` (+ `figures/`): this report.",
                 "`configs.csv`: per-configuration n, mean, std, sem, 95% t CI (cut to [0, 1]) and whether it was "
                 "clipped, for both validation accuracies.",
                 f"`effects.csv`: {', '.join(EFFECT_COLUMNS)} (fractions; resolved: Holm p < 0.05; aliases: in a "
                 "fractional design, the term's alias chain to order 3, empty for a full grid).",
                 f"`shapley.csv`: {', '.join(SHAPLEY_COLUMNS)}; one row per factor, then `total` (the gain).",
                 "`paired.csv`: the named-model comparisons with Holm, P(improvement) and planning. `power.csv`: per "
                 "term, the MDE at this n (observed sd and its upper bound) and the seeds per cell for the smallest "
                 "effect of interest. All unrounded."]
                + (extra.file_bullets() if extra is not None else []))
    return doc


def _csv(frame: pd.DataFrame | None, columns: list[str] | None = None) -> str:
    frame = pd.DataFrame(columns=columns) if frame is None else frame
    return (frame[columns] if columns else frame).to_csv(index=False)


def write_report(a: Analysis, out_dir: Path, extra: TuningSection | None = None) -> Path:
    """Write every report file atomically under out_dir; the path of report.html."""
    doc = build_document(a, extra)
    if extra is not None:  # tuning stage, --compare, fANOVA tables; a table this build did not make is removed
        tables = extra.tables()
        for name in TuningSection.FILES:
            if name in tables:
                write_atomic(out_dir / name, _csv(tables[name]))
            else:
                (out_dir / name).unlink(missing_ok=True)
    figures = out_dir / "figures"
    for name, png in doc.figures.items():
        write_atomic(figures / f"{name}.png", png)
    for stale in figures.glob("*.png"):  # figures of an earlier build that this one did not draw
        if stale.stem not in doc.figures:
            stale.unlink()
    write_atomic(out_dir / "configs.csv", _csv(a.configs))
    write_atomic(out_dir / "effects.csv", _csv(a.effects, EFFECT_COLUMNS))
    write_atomic(out_dir / "shapley.csv", _csv(a.shapley, SHAPLEY_COLUMNS))
    write_atomic(out_dir / "paired.csv", _csv(a.paired))
    write_atomic(out_dir / "power.csv", _csv(a.power))
    write_atomic(out_dir / "report.md", doc.to_markdown("figures"))
    html_path = out_dir / "report.html"
    write_atomic(html_path, doc.to_html())
    return html_path


def build_report(run_dir: str | Path, metric: str = "final_val_acc", compare: str | Path | None = None,
                 min_effect: float = MIN_EFFECT) -> Path:
    """Analyse RUN_DIR's result tables and write RUN_DIR/report/; returns the path of report.html.

    compare: another study's run directory (e.g. the shared-recipe study of the same grid): effects side by side.
    min_effect: the smallest effect of interest for planning, as a FRACTION (0.01 = 1 percentage point).
    Raises ResultsError (a ValueError, one-line message) for a bad run directory or table."""
    study = load_study(run_dir)
    with warnings.catch_warnings():  # degenerate data (a single seed, no spread) warns; the report says so
        warnings.simplefilter("ignore", RuntimeWarning)
        analysis = analyse(study, metric, min_effect)
        extra = analyse_tuning(analysis, compare)  # tuning stage, --compare, fANOVA (analysis/reporting/tuning_section.py)
        return write_report(analysis, Path(run_dir) / "report", extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python analysis/report.py",
                                     description="Build RUN_DIR/report/ from RUN_DIR/results/*.csv.")
    parser.add_argument("run_dir", help="the study's run directory (holds results/trials.csv)")
    parser.add_argument("--metric", choices=METRICS, default="final_val_acc",
                        help="metric analysed (default: final_val_acc; best_val_acc is optimistic)")
    parser.add_argument("--compare", metavar="OTHER_RUN_DIR",
                        help="another study of the same grid (e.g. shared recipe vs tuned): effects side by side")
    parser.add_argument("--min-effect", metavar="PP", type=float, default=100 * MIN_EFFECT,
                        help="smallest effect of interest in percentage points, for planning the seeds "
                             f"(default: {100 * MIN_EFFECT:g})")
    parser.add_argument("--wandb", choices=["offline", "online", "disabled"], default="disabled",
                        help="also write the study's W&B summary run (tables, figures, artifacts): offline files "
                             "under RUN_DIR/wandb/ (wandb sync later), online, or disabled (the default)")
    parser.add_argument("--wandb-project", metavar="PROJECT",
                        help="W&B project of the summary run (default: the study's, from spec.yaml)")
    args = parser.parse_args(argv)
    try:
        path = build_report(args.run_dir, args.metric, compare=args.compare, min_effect=args.min_effect / 100)
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: cannot write the report: {err}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    if args.wandb != "disabled":
        try:
            run_id = log_summary(args.run_dir, mode=args.wandb, project=args.wandb_project)
        except WandbSummaryError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"W&B summary run: {run_id} ({args.wandb})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
