"""Build a study's report from its result tables.

    python analysis/report.py RUN_DIR [--metric final_val_acc|best_val_acc] [--compare OTHER_RUN_DIR]
    python -m analysis.report RUN_DIR

writes RUN_DIR/report/: report.html (self-contained, figures embedded), report.md (+ figures/*.png),
configs.csv, effects.csv, shapley.csv, paired.csv, power.csv. From Python: `build_report(run_dir, metric)`.
A bad RUN_DIR or table ends with one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import plots
from analysis.analyse import N_BOOT, Analysis, analyse
from analysis.load import METRICS, ResultsError, load_study
from analysis.paired import NAMED_MODELS
from analysis.power import MAX_SEEDS
from analysis.render import DASH, Document, interval, p_is, pct, pm, pp, pvalue, write_atomic
from analysis.tuning import TuningSection, analyse_tuning

EFFECT_COLUMNS = ["term", "estimate", "ci_low", "ci_high", "p_value", "p_holm", "partial_eta_sq"]
SHAPLEY_COLUMNS = ["component", "value", "ci_low", "ci_high", "share"]
METRIC_TEXT = {
    "final_val_acc": "final validation accuracy (after the last epoch)",
    "best_val_acc": "best validation accuracy over the epochs (optimistic: the epoch is chosen on the "
                    "validation set itself)",
}


def seeds_text(n: float) -> str:
    """Seeds needed: a count, '> 10,000' (or a zero effect: never), '—' where the noise is unknown."""
    if np.isnan(n):
        return DASH
    return f"> {MAX_SEEDS:,}" if np.isinf(n) else f"{int(n)}"


def resolved(low: float, high: float) -> bool:
    """The interval excludes 0 (False where there is no interval)."""
    return bool(low > 0 or high < 0)


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
                  "its n (seeds).")


def _glance(doc: Document, a: Analysis) -> None:
    items = []
    if a.gain is not None and a.cells is not None:
        g, cells = a.gain, a.cells
        items.append(f"Gain from the baseline ({cells['model'].iloc[0]}, {pct(g['baseline'])}%) to the full "
                     f"configuration ({cells['model'].iloc[-1]}, {pct(g['full'])}%): {pp(g['gain'])} pp, 95% CI "
                     f"{interval(g['ci_low'], g['ci_high'])} (n = {g['n_seeds']} seeds).")
        parts = [f"`{r.component}` {pp(r.value)} pp" + (f" ({100 * r.share:.0f}%)" if np.isfinite(r.share) else "")
                 for r in a.shapley.itertuples()]
        items.append("Shapley shares of that gain: " + ", ".join(parts) + ".")
    if a.effects is not None and a.n_balanced < 2:
        items.append("Effects: no intervals, since 1 seed per cell gives no estimate of the noise.")
    elif a.effects is not None:
        e = a.effects
        ok = [f"`{r.term}` {pp(r.estimate)} pp" for r in e.itertuples() if resolved(r.ci_low, r.ci_high)]
        items.append(f"Effects resolved at n = {a.n_balanced} seeds (95% CI excludes 0): "
                     + (", ".join(ok) if ok else "none") + ".")
        not_ok = [f"`{r.term}` ({seeds_text(p.seeds_needed)} seeds)" for r, p
                  in zip(e.itertuples(), a.power.itertuples()) if not resolved(r.ci_low, r.ci_high)]
        if not_ok:
            items.append("Not resolved; seeds needed for 80% power at the observed size: " + ", ".join(not_ok) + ".")
    for r in a.paired.itertuples():
        group = f" [{r.group}]" if r.group else ""
        items.append(f"{r.model} − {r.baseline}{group}: {pp(r.mean_diff)} pp, 95% CI {interval(r.ci_low, r.ci_high)},"
                     f" paired t {p_is(r.p_t)} (n = {r.n} seeds).")
    doc.heading("At a glance")
    doc.bullets(items)


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
        f"Gain vs {ref} (pp)": [pm(m, s, 2) if r != mdl else DASH
                                for m, s, r, mdl in zip(t["gain_mean"], t["gain_std"], t["reference"], t["model"])],
    })
    if not one_ref:  # one Plain per level of another factor (depth): say which
        frame.insert(len(frame.columns) - 1, "Reference", t["reference"])
    doc.heading("The original study's table, over seeds")
    doc.table(frame, f"Mean ± std over n seeds. Train and val acc after the last epoch; gain: `{a.metric}` minus "
                     f"that of {ref} on the same seed. * not one of the original four models.")


def _configs(doc: Document, a: Analysis) -> None:
    c = a.configs
    frame = pd.DataFrame({"Model": c["model"], "Config": c["config"], "n": c["final_val_acc_n"]})
    for m, label in (("final_val_acc", "Final val acc"), ("best_val_acc", "Best val acc (optimistic)")):
        frame[f"{label} (%)"] = [pm(x, s) for x, s in zip(c[f"{m}_mean"], c[f"{m}_std"])]
        frame[f"{label} 95% CI"] = [interval(lo, hi, 1) for lo, hi in zip(c[f"{m}_ci_low"], c[f"{m}_ci_high"])]
    frame["Not completed"] = c["n_failed"]
    doc.heading("Configurations")
    doc.table(frame, "Mean ± std over n completed seeds, with the 95% t interval of the mean.")
    fig = Figure(figsize=(max(11.0, 1.5 * len(c)), 4.6), layout="constrained")
    for ax, m in zip(fig.subplots(1, 2, sharey=True), METRICS):
        summary = c.rename(columns={f"{m}_{k}": k for k in ("n", "mean", "ci_low", "ci_high")})
        title = "Final" if m == "final_val_acc" else "Best (optimistic)"
        plots.per_seed(a.values[m], summary, ax=ax, title=f"{title} val acc: seeds, mean, 95% CI "
                                                            f"(n = {_seed_counts(summary['n'])})")
    doc.figure(fig, "per_seed", "Every seed's accuracy (grey) and each configuration's mean with its 95% CI.")
    if a.curves is not None and len(a.curves):
        fig = Figure(figsize=(12, 4.6), layout="constrained")
        for ax, split in zip(fig.subplots(1, 2), ("train", "val")):
            plots.learning_curves(a.curves, split, ax=ax)
        doc.figure(fig, "learning_curves", "Learning curves: mean ± std over the completed seeds.")


def _effects(doc: Document, a: Analysis) -> None:
    doc.heading(f"Factorial effects on `{a.metric}`")
    if a.effects is None:
        doc.paragraph("Not computed: see Gaps.", note=True)
        return
    n = a.n_balanced
    doc.paragraph(f"OLS on the {n} seeds complete in every cell ({len(a.balanced)} runs), ±1 coding, seed as a "
                  "block. Effect = mean at the second level − mean at the first (Yates), averaged over the other "
                  "factors; an interaction is half the difference of one factor's effect across the other's levels.")
    rows = []
    for r, p in zip(a.effects.itertuples(), a.power.itertuples()):
        verdict = "yes" if resolved(r.ci_low, r.ci_high) else (
            f"not resolved at n = {n} seeds; {seeds_text(p.seeds_needed)} seeds for 80% power at this size")
        if not np.isfinite(r.ci_low):
            verdict = f"no interval at n = {n} seed"
        rows.append({"Term": r.term, "Effect (pp)": pp(r.estimate), "95% CI": interval(r.ci_low, r.ci_high),
                     "p": pvalue(r.p_value), "p (Holm)": pvalue(r.p_holm),
                     "Partial η²": DASH if not np.isfinite(r.partial_eta_sq) else f"{r.partial_eta_sq:.3f}",
                     "Resolved": verdict})
    doc.table(pd.DataFrame(rows), f"Effects in pp, n = {n} seeds per cell; Holm adjusts over all "
                                  f"{len(rows)} terms.")
    doc.figure(plots.effects_forest(a.effects).figure, "effects", f"Effects with 95% CIs (n = {n} seeds).")
    names = list(a.study.factors)
    pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
    cols = max(1, min(3, len(pairs)))
    rows_n = 1 + (len(pairs) + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols + 1, 3.6 * rows_n), layout="constrained")
    grid = fig.add_gridspec(rows_n, cols)
    plots.main_effects(a.marginal, ax=fig.add_subplot(grid[0, :]),
                       title=f"Main effects: mean at each level (n = {n} seeds × {2 ** (len(names) - 1)} cells)")
    for i, (x, y) in enumerate(pairs):
        plots.interaction(a.interactions, x, y, ax=fig.add_subplot(grid[1 + i // cols, i % cols]))
    doc.figure(fig, "main_effects", "Main-effect plot (top) and two-way interaction plots (parallel lines: no "
                                    "interaction), on the balanced seeds.")


def _shapley(doc: Document, a: Analysis) -> None:
    doc.heading("Shapley attribution of the gain")
    if a.shapley is None:
        doc.paragraph("Not computed: see Gaps.", note=True)
        return
    g, cells, s = a.gain, a.cells, a.shapley
    frame = pd.DataFrame({"Component": s["component"], "Shapley value (pp)": s["value"].map(pp),
                          "95% CI": [interval(lo, hi) for lo, hi in zip(s["ci_low"], s["ci_high"])],
                          "Share of gain": [DASH if not np.isfinite(x) else f"{100 * x:.0f}%" for x in s["share"]]})
    total = {"Component": f"total: {cells['model'].iloc[-1]} − {cells['model'].iloc[0]}",
             "Shapley value (pp)": pp(g["gain"]), "95% CI": interval(g["ci_low"], g["ci_high"]),
             "Share of gain": "100%"}
    doc.table(pd.concat([frame, pd.DataFrame([total])], ignore_index=True),
              f"Exact Shapley values over all orders (n = {g['n_seeds']} seeds); they sum to the total. 95% CIs: "
              f"expanded percentile bootstrap, {N_BOOT} resamples of the seeds, jointly across cells.")
    ax = plots.shapley_waterfall(s, g["baseline"], g["full"], baseline_label=cells["model"].iloc[0],
                                 full_label=cells["model"].iloc[-1],
                                 title=f"From {cells['model'].iloc[0]} to {cells['model'].iloc[-1]}: Shapley "
                                       f"steps (pp), n = {g['n_seeds']} seeds")
    doc.figure(ax.figure, "shapley", "Shapley waterfall from the baseline to the full configuration, with 95% CIs.")


def _paired(doc: Document, a: Analysis) -> None:
    doc.heading("Named models, paired by seed")
    p = a.paired
    if p.empty:
        doc.paragraph("No pair of the original study's named models is present in these tables.", note=True)
        return
    frame = pd.DataFrame({
        "Comparison": [f"{r.model} − {r.baseline}" + (f" [{r.group}]" if r.group else "") for r in p.itertuples()],
        "n": p["n"], "Mean diff (pp)": p["mean_diff"].map(pp),
        "95% CI": [interval(lo, hi) for lo, hi in zip(p["ci_low"], p["ci_high"])],
        "p (paired t)": p["p_t"].map(pvalue), "p (Wilcoxon)": p["p_wilcoxon"].map(pvalue),
        "P(improvement)": [f"{x:.2f} {interval(lo, hi, 2, 1.0)}" for x, lo, hi
                           in zip(p["prob_improvement"], p["pi_ci_low"], p["pi_ci_high"])],
        "MDE (pp)": p["mde"].map(lambda x: pp(x).lstrip("+")),
        "Seeds for 80% power": p["seeds_needed"].map(seeds_text),
    })
    doc.table(frame, f"`{a.metric}`, paired by seed (seeds completed in both). Wilcoxon: only with ≥ 6 nonzero "
                     "differences. P(improvement) with its bootstrap 95% CI.")


def _power(doc: Document, a: Analysis) -> None:
    if a.power is None:
        return
    w = a.power
    doc.heading("Power")
    mde = w["mde"].iloc[0] if len(w) else np.nan
    if not np.isfinite(mde):
        doc.paragraph(f"Not computed: {a.n_balanced} seed per cell gives no estimate of the noise.", note=True)
        return
    doc.paragraph(f"At n = {a.n_balanced} seeds per cell and the residual noise observed, an effect must be about "
                  f"{pp(mde).lstrip('+')} pp to be detected with 80% power (two-sided α = 0.05). Seeds needed: "
                  "the seed count at which an effect of the observed size reaches 80% power, noise held fixed.")
    doc.table(pd.DataFrame({"Term": w["term"], "|Effect| (pp)": w["estimate"].abs().map(lambda x: pct(x, 2)),
                            "Power now": w["power"].map(lambda x: DASH if not np.isfinite(x) else f"{x:.2f}"),
                            "Seeds needed": w["seeds_needed"].map(seeds_text)}))


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
        "n: the number of seeds (completed trials) behind a mean. std: sample standard deviation over seeds; "
        "95% CI of a mean: mean ± t(0.975, n − 1) · std / √n.",
        "Effects (Yates): main effect = mean at the factor's second level − mean at its first, averaged over the "
        "other factors; interactions likewise, each half the difference of the lower-order effect across the "
        "levels of the added factor. Estimated by OLS with ±1 coding (estimate = 2 × coefficient) and seed as a "
        "block; 95% CI and p from its t statistic; p (Holm): Holm's step-down adjustment over all terms; partial "
        "η² = SS_term / (SS_term + SS_residual).",
        "Resolved: the 95% CI excludes 0. An effect that is not resolved may still be real; the seeds needed say "
        "how many seeds would detect an effect of the observed size with 80% power.",
        "Shapley value: a factor's contribution to the gain from the baseline (every factor at its first level) to "
        "the full configuration (every factor at its second), averaged over all orders of switching factors on; "
        "the values sum to the gain. For 2^3: φ_i = E_i + E_ABC / 3. 95% CIs of the gain and the Shapley values: "
        "bootstrap resampling seeds jointly across cells (seeded), expanded percentile interval (Hesterberg): the "
        "percentile quantiles widened to Φ(√(n/(n−1)) · t(0.025, n−1)), since the plain percentile interval "
        "is too narrow at few seeds.",
        "Paired comparison: per-seed difference (model − baseline) on the seeds both completed; paired t test; "
        "Wilcoxon signed-rank test where ≥ 6 nonzero differences allow p < 0.05.",
        "P(improvement): probability that a run of the model beats a run of the baseline, ties counting half "
        "(Mann-Whitney), with a percentile bootstrap CI over seeds.",
        "MDE: the smallest effect a two-sided t test at α = 0.05 detects with 80% power at the current n and "
        "noise (noncentral t).",
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
    for part in (_intro, _glance, _study_table, _configs, _effects, _shapley, _paired, _power):
        part(doc, a)
    if extra is not None:  # tuning stage, --compare, fANOVA cross-check (analysis/tuning.py)
        extra.render(doc)
    for part in (_gaps, _definitions, _names):
        part(doc, a)
    doc.heading("Files")
    doc.bullets(["`report.html`, `report.md` (+ `figures/`): this report.",
                 "`configs.csv`: per-configuration n, mean, std, sem, 95% CI of both validation accuracies.",
                 "`effects.csv`: term, estimate, ci_low, ci_high, p_value, p_holm, partial_eta_sq (fractions).",
                 "`shapley.csv`: component, value, ci_low, ci_high, share. `paired.csv`, `power.csv`: the tables "
                 "above, unrounded."]
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


def build_report(run_dir: str | Path, metric: str = "final_val_acc", compare: str | Path | None = None) -> Path:
    """Analyse RUN_DIR's result tables and write RUN_DIR/report/; returns the path of report.html.

    compare: another study's run directory (e.g. the shared-recipe study of the same grid): effects side by side.
    Raises ResultsError (a ValueError, one-line message) for a bad run directory or table."""
    study = load_study(run_dir)
    with warnings.catch_warnings():  # degenerate data (a single seed, no spread) warns; the report says so
        warnings.simplefilter("ignore", RuntimeWarning)
        analysis = analyse(study, metric)
        extra = analyse_tuning(analysis, compare)  # tuning stage, --compare, fANOVA (analysis/tuning.py)
        return write_report(analysis, Path(run_dir) / "report", extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python analysis/report.py",
                                     description="Build RUN_DIR/report/ from RUN_DIR/results/*.csv.")
    parser.add_argument("run_dir", help="the study's run directory (holds results/trials.csv)")
    parser.add_argument("--metric", choices=METRICS, default="final_val_acc",
                        help="metric analysed (default: final_val_acc; best_val_acc is optimistic)")
    parser.add_argument("--compare", metavar="OTHER_RUN_DIR",
                        help="another study of the same grid (e.g. shared recipe vs tuned): effects side by side")
    args = parser.parse_args(argv)
    try:
        path = build_report(args.run_dir, args.metric, compare=args.compare)
    except ResultsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: cannot write the report: {err}", file=sys.stderr)
        return 2
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
