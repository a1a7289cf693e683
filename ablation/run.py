"""Run the ResNet-34 component ablation: every configuration x seed as Ray Tune trials, then the report.

    python ablation/run.py                         # quick profile on the embedded digits
    python ablation/run.py --profile paper --data labels.csv --images imgs/ --gpus-per-trial 0.25
    python ablation/run.py --name NAME --resume    # continue an interrupted study
"""
from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # run as a file: import the packages from the repository, not this folder
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import time
from datetime import datetime

from ablation import storage
from ablation.spec import SPEC_FILE, StudySpec
from search_spaces.factors import FACTORS
from search_spaces.profiles import DEFAULT_PROFILE, PROFILES, get_profile


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python ablation/run.py", description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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
    return p.parse_args(argv)


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
        # Where and how it runs may change on resume; what it runs may not.
        profile = saved.profile.with_overrides(cpus_per_trial=args.cpus_per_trial,
                                               gpus_per_trial=args.gpus_per_trial)
        return StudySpec(**{**saved.__dict__, "profile": profile, "storage": location,
                            "address": args.address, "wandb": args.wandb})
    profile = get_profile(args.profile).with_overrides(
        epochs=args.epochs, factors=tuple(args.factors) if args.factors else None, image_size=args.image_size,
        width=args.width, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial)
    seeds = profile.seeds if args.seeds is None else args.seeds
    name = args.name or f"{profile.name}-{datetime.now():%Y%m%d-%H%M%S}"
    if "/" in name or name.startswith("."):
        raise UsageError(f"--name {name!r} must be a plain folder name")
    if storage.exists(f"{location}/{name}/{SPEC_FILE}"):
        raise UsageError(f"study {name!r} already exists under {location}; use --resume or another --name")
    return StudySpec(name=name, storage=location, profile=profile, seeds=tuple(range(seeds)), data=args.data,
                     images=args.images, address=args.address, wandb=args.wandb, max_failures=args.max_failures)


def run(spec: StudySpec, args: argparse.Namespace) -> int:
    import ray

    from ablation.export import write_tables
    from ablation.study import concurrent_slots, connect, run_study
    from trainables.data import load_data

    storage.check_writable(spec.run_dir)
    if not args.resume:
        storage.write_text(f"{spec.run_dir}/{SPEC_FILE}", spec.to_yaml())
    p = spec.profile
    data = load_data(spec.data, spec.images, size=p.image_size, split_seed=p.split_seed,
                     val_fraction=p.val_fraction)
    print(f"data: {data.source}: {len(data.train_labels)} train / {len(data.val_labels)} val images, "
          f"{data.num_classes} classes, {data.image_size}x{data.image_size}", flush=True)
    started_ray = not ray.is_initialized()
    began = time.perf_counter()
    connect(spec)
    try:
        slots = concurrent_slots(spec)
        results = run_study(spec, data, resume=args.resume)
        wall = time.perf_counter() - began
        trials, _ = write_tables(spec, results)
    finally:
        if started_ray:
            ray.shutdown()
    busy = trials["train_seconds"].fillna(0).sum()
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
        for table in ("trials.csv", "epochs.csv"):
            (local / "results").mkdir(parents=True, exist_ok=True)
            (local / "results" / table).write_text(storage.read_text(f"{spec.run_dir}/results/{table}"))
        (local / SPEC_FILE).write_text(spec.to_yaml())
    path = build_report(local)
    if remote:
        storage.upload_folder(local / "report", f"{spec.run_dir}/report")
        return f"{spec.run_dir}/report/report.html"
    return str(path)


def main(argv: list[str] | None = None) -> int:
    from ablation.study import ClusterError
    from trainables.data import DataError

    args = parse_args(argv)
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
