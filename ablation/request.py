"""From the command line to a resolved study: the spec, the storage credentials, the user's components.

Everything here runs before any data is decoded or Ray is started, so a bad request costs nothing and leaves
nothing behind. A user error raises ValueError (one line).
"""
from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import runstore
from ablation.cli import ALL_FACTORS, FIXED_ON_RESUME, given
from ablation.spec import SPEC_FILE, SpecError, StudySpec, check_name
from analysis.defaults import MAX_FAILURES, MAX_SEEDS, WANDB_PROJECT, WAVE, check_power, min_effect_fraction
from search_spaces.designs import folded_design, fractional_design
from search_spaces.profiles import DEFAULT_PROFILE, get_profile
from search_spaces.tuning import DEFAULT_CONCURRENCY, DEFAULT_TRIALS
from trainables.components import load_source, read_components_file


@dataclass
class Request:
    spec: StudySpec
    resume: bool
    secrets: dict[str, str] = field(default_factory=dict)  # storage credentials -> environment variables
    components: dict[str, str] = field(default_factory=dict)  # component file path -> its source
    grown_from: int | None = None  # seeds before a --resume --seeds N that adds seeds


def _storage(args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    location, secrets = runstore.split_credentials(args.storage)
    return runstore.normalise(location), secrets


def _load_components(paths, digests: dict[str, str] | None = None
                     ) -> tuple[dict[str, str], tuple[dict[str, str], ...]]:
    """(path -> source, spec records {path, sha256}) for the user's component files, registered now.

    paths: ALWAYS the user's own command line (--components), never a path read from the storage folder.
    digests: sha256 -> the path a resumed study recorded; on resume every file given must hold a source the study
    started with, and every recorded one must be given, each checked before it runs."""
    sources, records, seen = {}, [], set()
    for path in paths:
        absolute = str(Path(path).expanduser().resolve())
        source = read_components_file(absolute)
        digest = hashlib.sha256(source.encode()).hexdigest()
        if digests is not None and digest not in digests:
            raise ValueError(f"component file {path} is not one study started with (its sha256 {digest[:12]} is "
                             "not recorded in spec.yaml); give the files it started with, unchanged, or start a "
                             "new study")
        seen.add(digest)
        try:
            added = load_source(source, absolute)
        except (Exception, SystemExit) as err:  # the user's code: where it failed, in one line (sys.exit too)
            what = f"it called sys.exit({err.code!r})" if isinstance(err, SystemExit) else (
                f"{type(err).__name__}: {' '.join(str(err).split())}")
            raise ValueError(f"--components {path}: loading it failed: {what[:200]}") from None
        if not added:
            raise ValueError(f"--components {path}: the file registered no component (call "
                             "trainables.components.register(Component(...)))")
        sources[absolute] = source
        records.append({"path": absolute, "sha256": digest})
    missing = sorted(path for digest, path in (digests or {}).items() if digest not in seen)
    if missing:
        raise ValueError(f"this study uses the component file(s) {', '.join(missing)}: give them again with "
                         "--components (the study never imports code named by its storage folder; each file is "
                         "checked against the sha256 it started with)")
    return sources, tuple(records)


MAX_FRACTION_TEXT = 40  # longer than any fraction of the tables (1/2 ... 1/2^k), so never echoed whole


def check_planning_numbers(args: argparse.Namespace) -> None:
    """--min-effect (percentage points, as typed) and --power, for a study and for --plan alike."""
    min_effect_fraction(args.min_effect)
    check_power(args.power)
    if getattr(args, "claims", None) is not None:  # a bad claims file is refused before anything trains
        from analysis.stats.claims import read_claims

        read_claims(args.claims)


def _check_numbers(args: argparse.Namespace) -> None:
    """Numbers the spec cannot see as given (a negative --seeds becomes an empty range)."""
    check_planning_numbers(args)
    if args.fraction is not None and len(args.fraction) > MAX_FRACTION_TEXT:
        raise ValueError(f"--fraction {args.fraction[:20]}... ({len(args.fraction)} characters) is not a fraction "
                         "of the tables; give 1/2, 1/4, 1/8, ... (or --resolution III, IV, V)")
    for flag in ("seeds", "epochs", "tune_trials", "tune_epochs", "tune_concurrency", "wave", "max_seeds"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    if not args.until_settled and not args.resume and (args.wave is not None or args.max_seeds is not None):
        raise ValueError(f"{' and '.join(given(args, ('wave', 'max_seeds')))} need --until-settled")
    if args.fraction is not None and args.resolution is not None:
        raise ValueError("give --fraction or --resolution, not both")
    if args.fold_over is not None and not args.resume:
        raise ValueError("--fold-over adds the complementary fraction to a study: use it with --resume --name NAME")


def resolve(args: argparse.Namespace) -> Request:
    _check_numbers(args)
    check_wandb_online(args.wandb)
    location, secrets = _storage(args)
    export_secrets(secrets)
    # First, with a time limit: everything below reads the storage, and a dead network would hang there.
    runstore.check_writable(location)
    if args.address:
        from ablation.study import check_address

        check_address(args.address)
    return _resume(args, location, secrets) if args.resume else _new(args, location, secrets)


def _new(args: argparse.Namespace, location: str, secrets: dict[str, str]) -> Request:
    sources, records = _load_components(args.components or [])
    profile = get_profile(args.profile or DEFAULT_PROFILE).with_overrides(
        epochs=args.epochs, factors=tuple(args.factors) if args.factors else None, image_size=args.image_size,
        vary_split=args.vary_split or None, width=args.width, cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial)
    seeds = profile.seeds if args.seeds is None else args.seeds
    name = check_name(args.name if args.name is not None else f"{profile.name}-{datetime.now():%Y%m%d-%H%M%S}")
    run_dir = runstore.join(location, name)
    if runstore.exists(runstore.join(run_dir, SPEC_FILE)):
        raise ValueError(f"study {name!r} already exists under {runstore.redact(location)}; use --resume or "
                         "another --name")
    if set(runstore.list_names(run_dir)) - {runstore.lock.LOCK_FILE}:  # a lock alone: RunLock says whose
        raise ValueError(f"{runstore.redact(run_dir)} exists and is not a study (no {SPEC_FILE}); choose another "
                         "--name or remove the folder")
    design = fractional_design(profile.factors, args.fraction, args.resolution) if (
        args.fraction is not None or args.resolution is not None) else {}
    spec = StudySpec(name=name, storage=location, profile=profile, seeds=tuple(range(seeds)), data=_path(args.data),
                     images=_path(args.images), address=args.address, wandb=args.wandb or "offline",
                     wandb_project=args.wandb_project or WANDB_PROJECT,
                     max_failures=MAX_FAILURES if args.max_failures is None else args.max_failures, components=records,
                     design=design, sequential=_sequential(args, seeds), tuning=_tuning_budget(args, profile.epochs))
    _check_size(spec, args)
    return Request(spec=spec, resume=False, secrets=secrets, components=sources)


def _path(value: str | None) -> str | None:
    """A data path as an absolute path, so the spec means the same from any working directory."""
    return None if value is None else str(Path(value).expanduser().absolute())


def _resume(args: argparse.Namespace, location: str, secrets: dict[str, str]) -> Request:
    if not args.name:
        raise ValueError("--resume needs the --name of the study to continue")
    name = check_name(args.name)
    run_dir = runstore.join(location, name)
    spec_path = runstore.join(run_dir, SPEC_FILE)
    if not runstore.exists(spec_path):
        raise ValueError(f"nothing to resume: no study {name!r} under {runstore.redact(location)} (no {SPEC_FILE})")
    try:
        text = runstore.read_text(spec_path)
    except UnicodeDecodeError:
        raise SpecError(f"{runstore.redact(spec_path)} is not text; restore it or start a new study") from None
    # The study's components first (the spec names them among its factors), from the user's --components only:
    # the spec says which digests are allowed, never which file to import.
    sources = _load_components(args.components or [], digests=_saved_digests(text))[0]
    saved = StudySpec.from_yaml(text, where=runstore.redact(spec_path))
    changed = _changed_on_resume(args, saved)
    if changed:
        raise ValueError(f"{', '.join(changed)} cannot change when resuming: study {name!r} keeps what it was "
                         "started with (give the same values or none; start a new study to change them)")
    if args.tune_first and not saved.tuning:
        raise ValueError(f"study {name!r} was started without --tune-first; tuning now would change what its "
                         "trials run: resume it without --tune-first or start a new study")
    grown_from = None
    seeds = saved.seeds
    if args.seeds is not None and (saved.sequential or args.until_settled):
        raise ValueError("--seeds cannot be combined with --until-settled on resume: the waves decide the seeds")
    if args.seeds is not None:
        if args.seeds < len(saved.seeds):
            raise ValueError(f"--seeds {args.seeds} is below the study's {len(saved.seeds)} seeds; a study grows, "
                             "it never drops seeds")
        if args.seeds > len(saved.seeds):
            grown_from, seeds = len(saved.seeds), tuple(range(args.seeds))
    # Where it runs may change on resume (storage location, cluster, resources, retries, W&B); what it runs not.
    profile = saved.profile.with_overrides(cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial)
    design = saved.design
    if args.fold_over is not None:
        factor = None if args.fold_over == ALL_FACTORS else args.fold_over
        design = folded_design(saved.design, saved.profile.factors, factor)
    if saved.sequential:
        asked = {"wave": args.wave, "max_seeds": args.max_seeds,
                 "min_effect": None if args.min_effect is None else min_effect_fraction(args.min_effect)}
        moved = [f"--{k.replace('_', '-')}" for k, v in asked.items() if v is not None and v != saved.sequential[k]]
        if moved:  # the looks and their level were fixed when the study started: changing them voids the rule
            raise ValueError(f"{', '.join(moved)} cannot change: study {name!r} runs until settled under the rule "
                             "it started with (its looks and their level are fixed)")
    elif not args.until_settled and (args.wave is not None or args.max_seeds is not None):
        raise ValueError(f"{' and '.join(given(args, ('wave', 'max_seeds')))} need --until-settled")
    sequential = saved.sequential or (_sequential(args, len(seeds)) if args.until_settled else {})
    spec = replace(saved, name=name, storage=location, profile=profile, seeds=seeds, address=args.address,
                   design=design, sequential=sequential,
                   wandb=args.wandb or saved.wandb, wandb_project=args.wandb_project or saved.wandb_project,
                   max_failures=saved.max_failures if args.max_failures is None else args.max_failures)
    _check_ledger_seeds(spec, len(saved.seeds))
    _check_size(spec, args)
    return Request(spec=spec, resume=True, secrets=secrets, components=sources, grown_from=grown_from)


def _check_size(spec: StudySpec, args: argparse.Namespace) -> None:
    """The size guard (ablation/size_guard.py) over every trial the study may reach."""
    import math

    from ablation.size_guard import check_study_size, local_slots

    p = spec.profile
    cells = len(spec.design["cells"]) if spec.design.get("cells") else math.prod(
        len(levels) for levels in spec.factor_levels.values())
    seeds = max(len(spec.seeds), spec.sequential.get("max_seeds", 0) if spec.sequential else 0)
    check_study_size(cells * seeds, p.epochs, local_slots(p.cpus_per_trial, p.gpus_per_trial), args.large_study)


def _check_ledger_seeds(spec: StudySpec, saved_seeds: int) -> None:
    """A spec.yaml whose seeds were edited down would leave finished trials out of the tables and the report."""
    import re

    names = runstore.list_names(runstore.join(spec.run_dir, "ledger"))
    recorded = [int(m.group(1)) for m in (re.fullmatch(r".+-s(\d+)\.json", n) for n in names) if m]
    beyond = sorted({seed for seed in recorded if seed >= len(spec.seeds)})
    if beyond:
        raise ValueError(f"spec.yaml of study {spec.name!r} lists seeds 0..{saved_seeds - 1} but its ledger holds "
                         f"finished trials of seed(s) {_some(beyond)}; restore spec.yaml's seeds (or give --seeds "
                         f"{beyond[-1] + 1} to grow it): its finished trials would be left out of the tables")


def _some(values: list, shown: int = 5) -> str:
    return ", ".join(map(str, values[:shown])) + (", ..." if len(values) > shown else "")


def check_wandb_online(mode: str | None) -> None:
    """--wandb online needs an API key; without one wandb raises a UsageError deep inside the first trial."""
    if mode != "online" or os.environ.get("WANDB_API_KEY"):
        return
    netrc = Path(os.environ.get("NETRC", "~/.netrc")).expanduser()
    try:
        if "api.wandb.ai" in netrc.read_text(errors="replace"):
            return
    except OSError:
        pass
    raise ValueError("--wandb online needs a W&B API key (WANDB_API_KEY, or `wandb login`); or use --wandb offline "
                     "and `wandb sync` the run folder later")


def _saved_digests(text: str) -> dict[str, str]:
    """sha256 -> recorded path of the component files a saved spec lists (nothing is read or imported)."""
    import yaml

    try:
        records = (yaml.safe_load(text) or {}).get("components") or []
    except (yaml.YAMLError, AttributeError):
        return {}  # StudySpec.from_yaml says what is wrong with the file
    if not isinstance(records, list):
        return {}
    return {str(r.get("sha256")): str(r.get("path", "?")) for r in records if isinstance(r, dict)}


def _changed_on_resume(args: argparse.Namespace, saved: StudySpec) -> list[str]:
    """The flags that fix what a study computes and were given with a value other than the saved one."""
    p = saved.profile
    saved_values = {"profile": p.name, "data": saved.data, "images": saved.images, "epochs": p.epochs,
                    "factors": list(p.factors),
                    "image_size": p.image_size, "width": p.width, "vary_split": p.vary_split}
    asked = {"data": _path(args.data), "images": _path(args.images)}
    changed = []
    for flag in (*FIXED_ON_RESUME, "vary_split"):
        if flag == "components":
            continue  # given again on resume, and checked by digest (_load_components)
        value = asked.get(flag, getattr(args, flag))
        if value is None or value is False:
            continue
        if value != saved_values[flag]:
            changed.append(f"--{flag.replace('_', '-')}")
    return changed


def _sequential(args: argparse.Namespace, start: int) -> dict:
    """--until-settled's schedule for the spec; {} without it."""
    if not args.until_settled:
        return {}
    from analysis.stats.sequential import looks

    wave = WAVE if args.wave is None else args.wave
    max_seeds = MAX_SEEDS if args.max_seeds is None else args.max_seeds
    if max_seeds < start:
        raise ValueError(f"--max-seeds {max_seeds} is below the {start} seeds the study starts from")
    min_effect = min_effect_fraction(args.min_effect)
    return {"start": start, "wave": wave, "max_seeds": max_seeds, "min_effect": min_effect,
            "schedule": looks(start, wave, max_seeds)}


def _tuning_budget(args: argparse.Namespace, epochs: int) -> dict[str, int]:
    """--tune-first's budget for the spec; {} without --tune-first."""
    flags = given(args, ("tune_trials", "tune_epochs", "tune_concurrency"))
    if not args.tune_first:
        if flags:
            raise ValueError(f"{' and '.join(flags)} need --tune-first")
        return {}
    pick = lambda value, default: default if value is None else value  # noqa: E731
    return {"trials": pick(args.tune_trials, DEFAULT_TRIALS), "epochs": pick(args.tune_epochs, epochs),
            "concurrency": pick(args.tune_concurrency, DEFAULT_CONCURRENCY)}


def export_secrets(secrets: dict[str, str]) -> None:
    """Storage credentials into this process's environment, where pyarrow's filesystems read them."""
    os.environ.update(secrets)
