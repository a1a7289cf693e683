"""The report's document and files from one Analysis: the sections in order, report.html, report.md, the CSVs."""
from __future__ import annotations

import pandas as pd

from analysis.analyse import Analysis
from analysis.reporting.document import Document

from pathlib import Path
from runstore import write_atomic
from analysis.reporting.sections import (configs, definitions, effects, gaps, glance, intro, names, paired,
                                        planning, shapley, study_table, trust)
from analysis.reporting.tuning_section import TuningSection
from analysis.reporting import waves_section as sequential_report


# effects.csv keeps its first columns in their old order; the rest follow
EFFECT_COLUMNS = ["term", "estimate", "ci_low", "ci_high", "p_value", "p_holm", "partial_eta_sq", "resolved", "se",
                  "df", "n_runs", "n_seeds", "aliases"]


SHAPLEY_COLUMNS = ["component", "value", "ci_low", "ci_high", "share", "se", "df", "n_runs", "method"]


def build_document(a: Analysis, extra: TuningSection | None = None) -> Document:
    doc = Document(f"Ablation report: {a.study.run_dir.resolve().name}")
    for part in (intro, trust, glance, study_table, configs, effects, shapley, paired, planning):
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
