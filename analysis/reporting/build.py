"""The report's document and files from one Analysis: the sections in order, report.html, report.md, the CSVs."""
from __future__ import annotations

import pandas as pd

from analysis.study_analysis import Analysis
from analysis.reporting.document import Document
from analysis.reporting.latex_tables import latex_tables
from analysis.results.schema import RESPONSES

from pathlib import Path
from runstore import write_atomic
from analysis.reporting.sections import (best, budget, claims, configs, cost, definitions, dispersion, effects, gaps,
                                        glance, intro, names, paired, planning, responses, shapley, study_table,
                                        trust)
from analysis.reporting.tuning_section import TuningSection
from analysis.reporting import waves_section as sequential_report


# effects.csv keeps its first columns in their old order; the rest follow
EFFECT_COLUMNS = ["term", "estimate", "ci_low", "ci_high", "p_value", "p_holm", "partial_eta_sq", "resolved", "se",
                  "df", "n_runs", "n_seeds", "aliases", "method"]


SHAPLEY_COLUMNS = ["component", "value", "ci_low", "ci_high", "share", "se", "df", "n_runs", "method"]


def build_document(a: Analysis, extra: TuningSection | None = None) -> Document:
    doc = Document(f"Ablation report: {a.study.run_dir.resolve().name}")
    for part in (intro, trust, glance, claims, study_table, configs, effects, responses, dispersion, shapley, paired,
                 best, budget, cost, planning):
        part.section(doc, a)
    sequential_report.section(doc, a)  # a study run --until-settled: results/waves.csv
    if extra is not None:  # tuning stage, --compare, fANOVA (analysis/reporting/tuning_section.py)
        extra.render(doc)
    for part in (gaps, definitions, names):
        part.section(doc, a)
    doc.heading("Files")
    doc.bullets(["`report.html`, `report.md` (+ `figures/`): this report.",
                 "`configs.csv`: per-configuration n, mean, std, sem, 95% t CI (cut to [0, 1]) and whether it was "
                 "clipped, for both validation accuracies.",
                 f"`effects.csv`: {', '.join(EFFECT_COLUMNS)} (fractions; resolved: Holm p < 0.05; aliases: in a "
                 "fractional design, the term's alias chain to order 3, empty for a full grid).",
                 f"`shapley.csv`: {', '.join(SHAPLEY_COLUMNS)}; one row per factor, then `total` (the gain).",
                 "`paired.csv`: the named-model comparisons with Holm, P(improvement) and planning. `power.csv`: per "
                 "term, the MDE at this n (observed sd and its upper bound) and the seeds per cell for the smallest "
                 "effect of interest. All unrounded.",
                 "`responses.csv` (every term on every response), `best_config.csv` (the confidence set for the "
                 "best configuration), `effects_by_epoch.csv`, `late_slopes.csv`, `cost_effects.csv`, `pareto.csv`: "
                 "the sections above, unrounded. `dispersion.csv`: each term's sd ratio; `claims.csv`: each claim's "
                 "test and verdict.",
                 "`tables.tex`: the configurations, effects, Shapley values and named-model comparisons as booktabs "
                 "tables for a paper (`\\usepackage{booktabs}`), each caption with its n and method."]
                + (extra.file_bullets() if extra is not None else []))
    return doc


def _csv(frame: pd.DataFrame | None, columns: list[str] | None = None) -> str:
    frame = pd.DataFrame(columns=columns) if frame is None else frame
    return (frame[columns] if columns else frame).to_csv(index=False)


def more_tables(a: Analysis) -> dict[str, pd.DataFrame | None]:
    """The CSVs of the responses beyond the headline: every response's effects, the best configuration, the
    effects over the epochs, the late slopes, the costs and the Pareto front."""
    m = a.more
    costs = (pd.concat([c.table.assign(cost=name) for name, c in m.costs.items()], ignore_index=True)
             if m is not None and m.costs else None)
    return {"responses.csv": m and m.responses, "best_config.csv": m and m.best and m.best.table,
            "effects_by_epoch.csv": m and m.by_epoch, "late_slopes.csv": m and m.slopes, "cost_effects.csv": costs,
            "pareto.csv": m and m.pareto, "dispersion.csv": a.dispersion, "claims.csv": a.claims}


def seeds_per_cell(a: Analysis) -> int:
    """The fewest completed seeds of a configuration: the n a table's caption states."""
    return a.n_per_cell[0] if a.design is not None else int(a.configs["n_completed"].min())


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
    for name, frame in more_tables(a).items():  # absent where the analysis could not make them
        if frame is None:
            (out_dir / name).unlink(missing_ok=True)
        else:
            write_atomic(out_dir / name, _csv(frame))
    write_atomic(out_dir / "tables.tex", latex_tables(a.configs, a.effects, a.shapley, a.paired,
                                                      n_seeds=seeds_per_cell(a), metric_label=RESPONSES[a.metric].label))
    write_atomic(out_dir / "report.md", doc.to_markdown("figures"))
    html_path = out_dir / "report.html"
    write_atomic(html_path, doc.to_html())
    return html_path
