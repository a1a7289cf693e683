"""Run the ResNet-34 component ablation: every configuration x seed as Ray Tune trials, then the report.

    python ablation/run.py                         # quick profile on the embedded digits
    python ablation/run.py --profile paper --data labels.csv --images imgs/ --gpus-per-trial 0.25
    python ablation/run.py --name NAME --resume    # continue an interrupted study
    python ablation/run.py --tune-first            # tune lr, weight decay, label smoothing per configuration first
"""
from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # run as a file: import the packages from the repository, not this folder
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import json
import os
import time
from datetime import datetime

from ablation import storage
from ablation.spec import SPEC_FILE, StudySpec
from search_spaces.factors import FACTORS
from search_spaces.profiles import DEFAULT_PROFILE, PROFILES, get_profile
from search_spaces.tuning import DEFAULT_CONCURRENCY, DEFAULT_TRIALS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python ablation/run.py", description=__doc__.split("\n")[0],
        formatter_class=_DefaultsShown)
    p.add_argument("--profile", default=DEFAULT_PROFILE,
                   help=f"defaults for everything below: {', '.join(PROFILES)} (smoke: seconds, for tests; "
                        "quick: digits on a laptop; paper: the original study's recipe, for GPUs)")
    p.add_argument("--data", help="an image folder (root/<class>/*.jpg or root/train|val/<class>) or a CSV of "
                                  "filename,label; default: the embedded scikit-learn digits")
    p.add_argument("--images", help="folder the CSV's filenames are relative to (default: the CSV's folder)")
    p.add_argument("--seeds", type=int, help="seeds per configuration (0..N-1); default: the profile's")
    p.add_argument("--epochs", type=int, help="epochs per trial; default: the profile's")
    p.add_argument("--factors", nargs="+", help=f"factors to vary, of {list(FACTORS)}; default: shortcut se "
                                                "activation (2^3 = 8 configurations)")
    p.add_argument("--vary-split", action="store_true", help="give seed k its own stratified train/val split "
                                                             "(split seed 42 + k) instead of one split for all")
    p.add_argument("--image-size", type=int, help="stored and trained image size; default: the profile's")
    p.add_argument("--width", type=int, help="width of the first stage (64 = ResNet-34); default: the profile's")
    p.add_argument("--name", help="study name (folder under --storage); default: <profile>-<date-time>")
    p.add_argument("--storage", default="runs", help="folder or URI (s3://, gs://, file://) every node can reach")
    p.add_argument("--resume", action="store_true", help="continue the study --name without re-running "
                                                         "finished trials")
    p.add_argument("--cpus-per-trial", type=float, help="CPUs per trial (also its torch threads)")
    p.add_argument("--gpus-per-trial", type=float, help="GPUs per trial; 0.25 packs four trials on one GPU")
    p.add_argument("--max-failures", type=int, default=3, help="retries of a failing trial from its checkpoint")
    p.add_argument("--address", help="join a running Ray cluster (e.g. auto or HOST:6379) instead of starting one")
    p.add_argument("--wandb", default="offline", choices=["offline", "online", "disabled"],
                   help="W&B logging: offline files under the run folder (wandb sync later), online, or none")
    p.add_argument("--no-report", action="store_true", help="write the result tables only, no report")
    # The tuning stage (ablation/tune_first.py)
    p.add_argument("--tune-first", action="store_true",
                   help="before the ablation, tune lr, weight decay and label smoothing for EVERY configuration "
                        "(Optuna TPE + ASHA, the same budget each, scored on an inner split of the training set); "
                        "each configuration then runs with its own tuned values")
    p.add_argument("--tune-trials", type=int, help=f"tuning trials per configuration (default "
                                                   f"{DEFAULT_TRIALS}; TPE samples at random for "
                                                   "its first 10)")
    p.add_argument("--tune-epochs", type=int, help="epochs of a tuning trial, ASHA's maximum (default: --epochs)")
    p.add_argument("--tune-concurrency", type=int,
                   help=f"tuning trials run at once per configuration (default {DEFAULT_CONCURRENCY}"
                        ": sequential, reproducible; more is faster but TPE and ASHA then depend on timing)")
    return p.parse_args(argv)


class _DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one to show (None means 'the profile decides')."""

    def _get_help_string(self, action):
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


class UsageError(ValueError):
    """A problem with what the user asked for: one line, exit code 2."""


def resolve_spec(args: argparse.Namespace) -> StudySpec:
    location = storage.normalise(args.storage)
    if args.resume:
        if not args.name:
            raise UsageError("--resume needs the --name of the study to continue")
        spec_path = f"{location}/{args.name}/{SPEC_FILE}"
        if not storage.exists(spec_path):
            raise UsageError(f"nothing to resume: no study {args.name!r} under {location} (no {SPEC_FILE})")
        saved = StudySpec.from_yaml(storage.read_text(spec_path))
        if args.tune_first and not saved.tuning:
            raise UsageError(f"study {args.name!r} was started without --tune-first; tuning now would change what "
                             "its trials run: resume it without --tune-first or start a new study")
        # Where it runs may change on resume; what it runs may not, nor its W&B mode (Ray Tune restores the
        # study's callbacks as they were).
        profile = saved.profile.with_overrides(cpus_per_trial=args.cpus_per_trial,
                                               gpus_per_trial=args.gpus_per_trial)
        return StudySpec(**{**saved.__dict__, "profile": profile, "storage": location,
                            "address": args.address})
    profile = get_profile(args.profile).with_overrides(
        epochs=args.epochs, factors=tuple(args.factors) if args.factors else None, image_size=args.image_size,
        vary_split=args.vary_split or None,
        width=args.width, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial)
    seeds = profile.seeds if args.seeds is None else args.seeds
    name = args.name or f"{profile.name}-{datetime.now():%Y%m%d-%H%M%S}"
    if "/" in name or name.startswith("."):
        raise UsageError(f"--name {name!r} must be a plain folder name")
    if storage.exists(f"{location}/{name}/{SPEC_FILE}"):
        raise UsageError(f"study {name!r} already exists under {location}; use --resume or another --name")
    return StudySpec(name=name, storage=location, profile=profile, seeds=tuple(range(seeds)), data=args.data,
                     images=args.images, address=args.address, wandb=args.wandb, max_failures=args.max_failures,
                     tuning=_tuning_budget(args, profile))


def _tuning_budget(args: argparse.Namespace, profile) -> dict[str, int]:
    """--tune-first's budget for the spec; {} without --tune-first."""
    given = [f"--{k.replace('_', '-')}" for k in ("tune_trials", "tune_epochs", "tune_concurrency")
             if getattr(args, k) is not None]
    if not args.tune_first:
        if given:
            raise UsageError(f"{' and '.join(given)} need --tune-first")
        return {}
    pick = lambda value, default: default if value is None else value  # noqa: E731
    return {"trials": pick(args.tune_trials, DEFAULT_TRIALS),
            "epochs": pick(args.tune_epochs, profile.epochs),
            "concurrency": pick(args.tune_concurrency, DEFAULT_CONCURRENCY)}


def run(spec: StudySpec, args: argparse.Namespace) -> int:
    import ray

    from ablation.export import write_tables
    from ablation.study import concurrent_slots, connect, run_study, study_data
    from ablation.tune_first import TuningError, needs_tuning, run_tuning

    storage.check_writable(spec.run_dir)
    p = spec.profile
    per_seed = study_data(spec)
    data = per_seed[spec.seeds[0]]  # seed 0 has the profile's split either way; tuning carves its inner split from it
    splits = "a split per seed (--vary-split)" if p.vary_split else f"split seed {p.split_seed}"
    print(f"data: {data.source}: {len(data.train_labels)} train / {len(data.val_labels)} val images, "
          f"{data.num_classes} classes, {data.image_size}x{data.image_size}, {splits}", flush=True)
    started_ray = not ray.is_initialized()
    began = time.perf_counter()
    connect(spec)
    if not args.resume:  # only now: a study refused by the cluster leaves no spec behind to block its name
        storage.write_text(f"{spec.run_dir}/{SPEC_FILE}", spec.to_yaml())
    try:
        if needs_tuning(spec):  # --tune-first: every configuration's own hyperparameters, saved in spec.yaml
            tuning_began = time.perf_counter()
            try:
                spec = run_tuning(spec, data)
            except TuningError as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
            began += time.perf_counter() - tuning_began  # the wall time and efficiency below are the ablation's
        slots = concurrent_slots(spec)
        results = run_study(spec, per_seed, resume=args.resume)
        wall = time.perf_counter() - began
        trials, _ = write_tables(spec, results)
    finally:
        if started_ray:
            ray.shutdown()
    busy = trials["train_seconds"].fillna(0).sum()
    timing = {"wall_seconds": wall, "trial_seconds": float(busy), "concurrent_slots": slots,
              "orchestration_efficiency": busy / (wall * slots)}
    storage.write_text(f"{spec.run_dir}/results/timing.json", json.dumps(timing, indent=1))
    print(f"study {spec.name}: {int((trials.status == 'completed').sum())}/{len(trials)} trials completed in "
          f"{wall:.1f} s wall; orchestration efficiency {busy / (wall * slots):.2f} "
          f"(sum of trial training seconds {busy:.1f} / ({wall:.1f} s x {slots} concurrent slots))")
    print(f"tables: {spec.run_dir}/results/trials.csv, {spec.run_dir}/results/epochs.csv")
    if not args.no_report:
        print(f"report: {_report(spec)}")
    failed = int((trials.status != "completed").sum())
    if failed:
        print(f"{failed} trial(s) did not complete; run again with --name {spec.name} --resume", file=sys.stderr)
        return 1
    return 0


def _report(spec: StudySpec) -> str:
    from analysis.report import build_report

    local, remote = storage.local_mirror(spec.run_dir)
    if remote:  # the analysis reads local files: fetch the tables, build, upload the report folder
        for table in ("trials.csv", "epochs.csv", "tuning.csv"):
            if table == "tuning.csv" and not storage.exists(f"{spec.run_dir}/results/{table}"):
                continue  # only a study run with --tune-first has one
            (local / "results").mkdir(parents=True, exist_ok=True)
            (local / "results" / table).write_text(storage.read_text(f"{spec.run_dir}/results/{table}"))
        (local / SPEC_FILE).write_text(spec.to_yaml())
    path = build_report(local)
    if remote:
        storage.upload_folder(local / "report", f"{spec.run_dir}/report")
        return f"{spec.run_dir}/report/report.html"
    return str(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.address and "ray" not in sys.modules:
        # Ray 2.60 clusters use token authentication by default, and a client joining one by address must say
        # so (the token comes from RAY_AUTH_TOKEN or ~/.ray/auth_token). Ray reads this once, at import.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    from ablation.study import ClusterError
    from trainables.data import DataError

    try:
        spec = resolve_spec(args)  # any ValueError here is about the arguments
    except ValueError as err:
        return _usage_error(err)
    try:
        return run(spec, args)
    except (DataError, storage.StorageError, ClusterError) as err:
        return _usage_error(err)


def _usage_error(err: Exception) -> int:
    print(f"error: {err}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
