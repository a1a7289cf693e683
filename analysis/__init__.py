"""What a study means: read its result tables, estimate what each component is worth, write the report.

From Python:

    from analysis import load_study, analyse, build_report
    study = load_study("runs/quick-default")            # results/*.csv, spec.yaml and the side files, checked
    result = analyse(study, metric="final_val_acc")     # every statistic, computed once (no file is read again)
    print(result.effects[["term", "estimate", "ci_low", "ci_high", "resolved"]])   # fractions, not percent
    build_report("runs/quick-default")                  # report/report.html, report.md and the CSVs

The layout, by role (each layer imports only those above it; tests/test_layering.py checks):
    defaults.py   the study's defaults (alpha, power, min effect, waves, W&B project) and the pp -> fraction boundary
    results/      every file the analysis reads: the table contract (schema), trials/epochs (load), spec.yaml
                  (spec_file), timing/waves/tuning and the report's CSVs read back (side_files)
    doe/          design algebra, pure numpy: cells and +-1 coding (coding), regular fractions and aliases
                  (fractions), the generator catalogue, the codec of spec.yaml's `design:` (spec_codec)
    stats/        inference, numbers and typed results only: OLS, multiplicity, effects, Shapley, paired, power and
                  planning, the sequential rule, fractions' fit, the observed design, descriptive summaries, tuning,
                  fANOVA, the best configuration, cost, over the budget, Pareto
    study_analysis.py  the Analysis: every statistic of one study, computed once (`analyse`)
    reporting/    words and pictures: number formats, the document, figures, the sections, --plan's text
    report.py     build_report and the command line (`python analysis/report.py RUN_DIR`)
    wandb_identity.py, wandb_summary.py   the study's W&B summary run (wandb imported only there)
    simulate.py   simulated studies with known truth, for tests and benchmarks

Never imports torch or Ray (a test checks), so a report can be rebuilt anywhere. The names below are imported on
first use, so `import analysis.results.schema` (the driver's table writer) stays light.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "load_study": "analysis.results.load", "Study": "analysis.results.load", "ResultsError": "analysis.results.load",
    "analyse": "analysis.study_analysis", "Analysis": "analysis.study_analysis",
    "build_report": "analysis.report", "log_summary": "analysis.wandb_summary",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
