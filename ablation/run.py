"""Run the ResNet-34 component ablation: every configuration x seed as Ray Tune trials, then the report.

    python ablation/run.py                         # quick profile on the embedded digits
    python ablation/run.py --profile paper --data labels.csv --images imgs/ --gpus-per-trial 0.25
    python ablation/run.py --name NAME --resume    # continue an interrupted study
    python ablation/run.py --name NAME --resume --seeds 5   # grow a study to 5 seeds
    python ablation/run.py --tune-first            # tune lr, weight decay, label smoothing per configuration first

The order of work: resolve the request (no data, no Ray) -> check the storage -> lock the run folder -> decode the
data -> start or join Ray -> write spec.yaml -> train what the ledger does not hold -> tables -> report. A user
error at any step ends with one line and exit code 2; a new study that fails before training leaves no folder.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace

import runstore
from ablation import console
from ablation import interrupt
from ablation.cli import fail, parse_args
from ablation.plan import local_copy, plan
from ablation.request import Request, resolve
from ablation.spec import SPEC_FILE, SpecError, StudySpec


def run(request: Request, args) -> int:
    import ray

    from ablation.component_check import check_user_components
    from ablation.study import concurrent_slots, connect, shared_settings, study_data, trial_entries
    from ablation.tune_first import TuningError, needs_tuning, run_tuning
    from ablation.waves import fit_pending, run_waves
    from search_spaces.designs import describe_choice
    from trainables.data import DataError

    spec = request.spec
    p = spec.profile
    # Every seed the study may reach (--until-settled grows it): with --vary-split each has its own split.
    reach = spec.sequential.get("max_seeds", len(spec.seeds)) if spec.sequential else len(spec.seeds)
    per_seed = study_data(replace(spec, seeds=tuple(range(max(reach, len(spec.seeds))))))
    data = per_seed[spec.seeds[0]]  # seed 0 has the profile's split either way; tuning carves its inner split from it
    splits = "a split per seed (--vary-split)" if p.vary_split else f"split seed {p.split_seed}"
    print(f"data: {data.source}: {len(data.train_labels)} train / {len(data.val_labels)} val images, "
          f"{data.num_classes} classes, {data.image_size}x{data.image_size}, {splits}", flush=True)
    for note in data.notes:
        print(f"data: {note}", flush=True)
    if spec.data_fingerprint and spec.data_fingerprint != data.content_fingerprint:
        raise DataError(f"the data of study {spec.name!r} changed since it started (fingerprint "
                        f"{spec.data_fingerprint[:12]}, now {data.content_fingerprint[:12]}); resume with the "
                        "original data, or start a new study")
    spec = replace(spec, data_fingerprint=data.content_fingerprint)
    check_user_components(spec, trial_entries(spec), shared_settings(spec), data.num_classes)
    started_ray = not ray.is_initialized()
    began = time.perf_counter()
    connect(spec)
    interrupt.install()  # again: ray.init replaced the SIGTERM handler
    # Only now: a study refused by the cluster leaves no spec behind (its folder is removed by main).
    runstore.write_atomic(runstore.join(spec.run_dir, SPEC_FILE), spec.to_yaml())
    print(f"design: {describe_choice(spec.design)}"
          + (f"; grown from {request.grown_from} to {len(spec.seeds)} seeds" if request.grown_from else ""),
          flush=True)
    try:
        if needs_tuning(spec):  # --tune-first: every configuration's own hyperparameters, saved in spec.yaml
            tuning_began = time.perf_counter()
            try:
                spec = run_tuning(spec, data, request.components)
            except TuningError as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
            began += time.perf_counter() - tuning_began  # the wall time and efficiency below are the ablation's
        slots = concurrent_slots(spec)
        if spec.sequential:
            spec, trials, trained = run_waves(spec, per_seed, request.components)
        else:
            trials, trained = fit_pending(spec, per_seed, request.components)
        wall = time.perf_counter() - began
    finally:
        if started_ray:
            ray.shutdown()
    _timing(spec, trials, trained, wall, slots)
    print(f"tables: {runstore.redact(runstore.join(spec.run_dir, 'results', 'trials.csv'))}, "
          ".../results/epochs.csv")
    if not args.no_report:
        print(f"report: {_report(spec, args)}")
    failed = int((trials.status != "completed").sum())
    if failed:
        print(f"{failed} trial(s) did not complete; run again with --name {spec.name} --resume", file=sys.stderr)
        return 1
    return 0


def _timing(spec: StudySpec, trials, trained: list[dict], wall: float, slots: int) -> None:
    """results/timing.json and the summary line: wall time, trial seconds and the orchestration efficiency of
    the trials trained by this command (sum of their training seconds / (wall x concurrent slots))."""
    keys = {f"{e['config_id']}-s{e['seed']}" for e in trained}
    ran = trials[(trials["config"] + "-s" + trials["seed"].astype(str)).isin(keys)]
    busy = float(ran["train_seconds"].fillna(0).sum())
    used = max(1, min(slots, len(trained)))
    efficiency = busy / (wall * used) if trained else None
    timing = {"wall_seconds": wall, "trial_seconds": busy, "concurrent_slots": slots, "slots_used": used,
              "trials_run": len(trained), "orchestration_efficiency": efficiency}
    runstore.write_atomic(runstore.join(spec.run_dir, "results", "timing.json"), json.dumps(timing, indent=1))
    done = int((trials.status == "completed").sum())
    line = (f"study {spec.name}: {done}/{len(trials)} trials completed, {len(trained)} trained now in {wall:.1f} s "
            "wall")
    if trained:
        line += (f"; orchestration efficiency {efficiency:.2f} (sum of trial training seconds {busy:.1f} / "
                 f"({wall:.1f} s x {used} concurrent slots))")
    print(line, flush=True)


def _report(spec: StudySpec, args) -> str:
    """Build the report from the tables and, with W&B on, the study's summary run; for a study on a URI, in a
    local copy whose report folder is then uploaded."""
    from analysis.defaults import MIN_EFFECT, min_effect_fraction
    from analysis.report import build_report
    from analysis.stats.claims import ORIGINAL_STUDY

    min_effect = (min_effect_fraction(args.min_effect) if args.min_effect is not None
                  else spec.sequential.get("min_effect", MIN_EFFECT))
    local = local_copy(spec.run_dir)
    if not runstore.is_local(spec.run_dir):
        (local / SPEC_FILE).write_text(spec.to_yaml())
    path = build_report(local, metric=args.metric, min_effect=min_effect,
                        claims=ORIGINAL_STUDY if args.claims is None else args.claims)
    _summary_run(spec, local)
    if runstore.is_local(spec.run_dir):
        return str(path)
    runstore.upload_folder(local / "report", runstore.join(spec.run_dir, "report"))
    return runstore.redact(runstore.join(spec.run_dir, "report", "report.html"))


def _summary_run(spec: StudySpec, local) -> None:
    """The study's W&B summary run (effects, Shapley, tables, figures, artifacts); a W&B problem is a warning,
    never a failed study."""
    if spec.wandb == "disabled":
        return
    from analysis.wandb_summary import WandbSummaryError, log_summary

    try:
        run_id = log_summary(local, mode=spec.wandb, project=spec.wandb_project, study_name=spec.name,
                             profile=spec.profile.name)
        print(f"W&B summary run: {run_id} ({spec.wandb})")
    except WandbSummaryError as err:
        print(f"warning: {err}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console.set_verbose(args.verbose)
    if args.address and "ray" not in sys.modules:
        # Ray 2.60 clusters use token authentication by default, and a client joining one by address must say
        # so (the token comes from RAY_AUTH_TOKEN or ~/.ray/auth_token). Ray reads this once, at import.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    from ablation.study import ClusterError
    from analysis.results.load import ResultsError
    from trainables.data import DataError

    if args.plan:
        try:
            print(plan(args))
            return 0
        except (ValueError, ResultsError) as err:
            return fail(runstore.redact(str(err)))
    try:
        request = resolve(args)  # any ValueError here is about the request
        lock = runstore.RunLock(request.spec.run_dir).acquire()
    except (ValueError, runstore.LockError) as err:
        return fail(runstore.redact(str(err)))
    if lock.replaced:
        print(f"note: replaced the stale lock of pid {lock.replaced.get('pid')} (that driver is no longer running)",
              flush=True)
    finished = False
    interrupt.install()
    try:
        code = run(request, args)
        finished = True
        return code
    except (DataError, runstore.StorageError, ClusterError, SpecError) as err:
        return fail(runstore.redact(str(err)))
    except OSError as err:
        if err.errno not in runstore.files.FULL:
            raise
        return fail(f"cannot write {err.filename or 'a file'}: {err.strerror} (the disk or quota is full); free "
                    f"some space, then continue with: {_resume_command(request, args)}")
    except KeyboardInterrupt:  # interrupt.StudyInterrupted, or what Ray raises in its place
        kept = set(runstore.list_names(request.spec.run_dir)) - {SPEC_FILE, runstore.lock.LOCK_FILE}
        signame = interrupt.describe()
        if request.resume or kept:
            print(f"interrupted ({signame}): finished trials are kept; continue with: "
                  f"{_resume_command(request, args)}", file=sys.stderr)
        else:
            print(f"interrupted ({signame}) before any trial started; nothing was kept: run the same command again",
                  file=sys.stderr)
        return interrupt.exit_code()
    finally:
        lock.release()
        if not request.resume and not finished:
            _remove_unstarted(request.spec)


def _resume_command(request: Request, args) -> str:
    command = f"python ablation/run.py --name {request.spec.name} --resume"
    if args.storage != "runs":  # the default
        command += f" --storage {runstore.redact(args.storage)}"
    return command


def _remove_unstarted(spec: StudySpec) -> None:
    """A new study that failed before its trials started leaves nothing behind, so its name stays free. Only a
    folder holding nothing but our spec (and the lock) is removed: anything a trial wrote stays."""
    if set(runstore.list_names(spec.run_dir)) <= {SPEC_FILE, runstore.lock.LOCK_FILE}:
        runstore.remove_tree(spec.run_dir)


def _main_in_a_pipe() -> int:
    """main, where a reader that went away (`| head`) ends the output quietly instead of with a traceback."""
    try:
        return main()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that flush cannot fail too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


if __name__ == "__main__":
    sys.exit(_main_in_a_pipe())
