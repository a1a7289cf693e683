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

from analysis.study_analysis import analyse
from analysis.defaults import MIN_EFFECT, MIN_EFFECT_PP, min_effect_fraction
from analysis.reporting.build import EFFECT_COLUMNS, SHAPLEY_COLUMNS, build_document, write_report
from analysis.reporting.tuning_section import analyse_tuning
from analysis.results.load import load_study
from analysis.results.schema import HEADLINE_METRICS
from analysis.stats.claims import ORIGINAL_STUDY, read_claims
from analysis.wandb_summary import WandbSummaryError, log_summary

__all__ = ["EFFECT_COLUMNS", "SHAPLEY_COLUMNS", "build_document", "build_report", "main", "write_report"]


def build_report(run_dir: str | Path, metric: str = "final_val_acc", compare: str | Path | None = None,
                 min_effect: float = MIN_EFFECT, claims: str | Path | None = ORIGINAL_STUDY) -> Path:
    """Analyse RUN_DIR's result tables and write RUN_DIR/report/; returns the path of report.html.

    compare: another study's run directory (e.g. the shared-recipe study of the same grid): effects side by side.
    min_effect: the smallest effect of interest for planning, as a FRACTION (0.01 = 1 percentage point).
    Raises ResultsError (a ValueError, one-line message) for a bad run directory or table."""
    study = load_study(run_dir)
    with warnings.catch_warnings():  # degenerate data (a single seed, no spread) warns; the report says so
        warnings.simplefilter("ignore", RuntimeWarning)
        analysis = analyse(study, metric, min_effect, read_claims(claims) if claims is not None else None)
        extra = analyse_tuning(analysis, compare)  # tuning stage, --compare, fANOVA (analysis/reporting/tuning_section.py)
        return write_report(analysis, Path(run_dir) / "report", extra)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python analysis/report.py",
                                     description="Build RUN_DIR/report/ from RUN_DIR/results/*.csv.")
    parser.add_argument("run_dir", help="the study's run directory (holds results/trials.csv)")
    parser.add_argument("--metric", choices=HEADLINE_METRICS, default="final_val_acc",
                        help="metric analysed (default: final_val_acc; best_val_acc is optimistic)")
    parser.add_argument("--compare", metavar="OTHER_RUN_DIR",
                        help="another study of the same grid (e.g. shared recipe vs tuned): effects side by side")
    parser.add_argument("--min-effect", metavar="PP", type=float,
                        help="smallest effect of interest in percentage points, for planning the seeds "
                             f"(default: {MIN_EFFECT_PP:g})")
    parser.add_argument("--wandb", choices=["offline", "online", "disabled"], default="disabled",
                        help="also write the study's W&B summary run (tables, figures, artifacts): offline files "
                             "under RUN_DIR/wandb/ (wandb sync later), online, or disabled (the default)")
    parser.add_argument("--claims", metavar="FILE", default=ORIGINAL_STUDY,
                        help="a CSV of claims to check (id,text,response,kind,term,config_a,config_b,direction; "
                             "default: the original study's, analysis/claims/original_study.csv)")
    parser.add_argument("--wandb-project", metavar="PROJECT",
                        help="W&B project of the summary run (default: the study's, from spec.yaml)")
    args = parser.parse_args(argv)
    try:
        path = build_report(args.run_dir, args.metric, compare=args.compare,
                            min_effect=min_effect_fraction(args.min_effect), claims=args.claims)
    except ValueError as err:  # ResultsError (a bad run folder or table) or a bad flag value
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
