"""`python ablation/run.py --name NAME --plan`: what a finished study (the pilot) says the next one needs.

Reads the study's tables and timing, prints the residual sd with its upper confidence bound, the seeds per cell
needed to detect --min-effect with --power under the report's family-wise rule, the trials that adds and the
compute and wall time they cost at the pilot's measured trial seconds and concurrent slots. Trains nothing,
starts no Ray, takes no lock: it only reads.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import runstore
from ablation.spec import SPEC_FILE, check_name

RESULT_FILES = ("trials.csv", "epochs.csv", "tuning.csv", "timing.json", "waves.csv")


def local_copy(run_dir: str) -> Path:
    """The run folder itself when local; else a temporary folder holding its spec and result tables."""
    if runstore.is_local(run_dir):
        return Path(run_dir)
    local = Path(tempfile.mkdtemp(prefix="ablation-"))
    for name in RESULT_FILES:
        remote = runstore.join(run_dir, "results", name)
        if runstore.exists(remote):
            (local / "results").mkdir(parents=True, exist_ok=True)
            (local / "results" / name).write_bytes(runstore.read_bytes(remote))
    spec = runstore.join(run_dir, SPEC_FILE)
    if runstore.exists(spec):
        (local / SPEC_FILE).write_bytes(runstore.read_bytes(spec))
    return local


def plan(args: argparse.Namespace) -> str:
    """The plan's text; ValueError (one line) for a missing study or one that cannot be planned from."""
    from analysis.study_analysis import analyse
    from analysis.results.load import load_study
    from analysis.defaults import check_power, min_effect_fraction
    from analysis.results.side_files import read_timing
    from analysis.reporting.plan_text import format_plan
    from analysis.stats.planning import plan_table

    from ablation.request import check_planning_numbers

    check_planning_numbers(args)
    if not args.name:
        raise ValueError("--plan needs the --name of a finished study (the pilot)")
    if args.resume or args.until_settled or args.fold_over is not None:
        raise ValueError("--plan only reads a study; run it without --resume, --until-settled or --fold-over")
    location, _ = runstore.split_credentials(args.storage)
    run_dir = runstore.join(runstore.normalise(location), check_name(args.name))
    if not runstore.exists(runstore.join(run_dir, SPEC_FILE)):
        raise ValueError(f"nothing to plan from: no study {args.name!r} under {runstore.redact(location)}")
    local = local_copy(run_dir)
    min_effect, power = min_effect_fraction(args.min_effect), check_power(args.power)
    analysis = analyse(load_study(local), min_effect=min_effect)
    return format_plan(plan_table(analysis, min_effect, power, read_timing(local)))
