"""The study's answer on the W&B dashboard: one summary run next to the trial runs, in the same project.

`log_summary(run_dir)` reads what the report wrote (report/*.csv, report/figures/*.png, results/*, spec.yaml) and
never recomputes a statistic, so the dashboard and report.html always say the same. The run (group
`study-summary`, job_type `analysis`) holds:
    tables/<name>           every report table as a wandb.Table (configs, effects, shapley, paired, power = the
                            planning table, and the tuning tables where the study has them)
    figures/<name>          every report figure as a wandb.Image
    effect/<term>/...       estimate, ci_low, ci_high, p_holm, resolved, mde, seeds_needed (summary keys)
    shapley/<component>/... value, ci_low, ci_high, share (summary keys)
    artifacts               `<study>-report` (type report: the report folder) and `<study>-results` (type
                            results: results/* and spec.yaml), for a later study's `use_artifact`
Its id comes from the study's name (analysis/wandb_identity.py): rebuilding the report updates the same run.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.defaults import WANDB_PROJECT
from analysis.results.side_files import read_report_table
from analysis.results.spec_file import read_spec
from analysis.wandb_identity import artifact_name, private_settings, study_tags, summary_run_id

GROUP = "study-summary"
JOB_TYPE = "analysis"
# (report table, row key column, summary prefix, columns written as summary keys)
SUMMARY_KEYS = (
    ("effects.csv", "term", "effect", ("estimate", "ci_low", "ci_high", "p_holm", "resolved")),
    ("power.csv", "term", "effect", ("mde", "seeds_needed")),
    ("shapley.csv", "component", "shapley", ("value", "ci_low", "ci_high", "share")),
)


class WandbSummaryError(RuntimeError):
    """The summary run could not be written (no report yet, W&B refused); the message is one line."""


def cell(value: Any) -> Any:
    """A JSON-friendly cell: numpy scalars as Python ones, NaN (an empty CSV cell) as null."""
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def table_rows(frame: pd.DataFrame) -> list[list[Any]]:
    return [[cell(v) for v in row] for row in frame.itertuples(index=False)]


def _spec(run_dir: Path) -> dict[str, Any]:
    return read_spec(run_dir).body  # the report reads the results without a spec too; so does this


def summary_keys(report: Path) -> dict[str, Any]:
    """`<prefix>/<row>/<column>` for the effects, their planning numbers and the Shapley values."""
    keys: dict[str, Any] = {}
    for name, row_key, prefix, columns in SUMMARY_KEYS:
        frame = read_report_table(report / name) if (report / name).is_file() else None
        for row in frame.to_dict("records") if frame is not None else []:
            keys.update({f"{prefix}/{row[row_key]}/{c}": cell(row[c]) for c in columns if c in row})
    return keys


def _artifact(wandb, name: str, kind: str, files: list[Path], root: Path):
    artifact = wandb.Artifact(name, type=kind)
    for path in files:
        artifact.add_file(str(path), name=path.relative_to(root).as_posix())
    return artifact


def _drop_older_offline_copies(folder: Path, run_id: str, keep: Path) -> None:
    """Offline, each write of the summary run is a new folder holding the whole summary; an older one would only
    be synced on top of the new one, so it goes."""
    for old in (folder / "wandb").glob(f"offline-run-*-{run_id}"):
        if old.resolve() != keep.resolve():
            shutil.rmtree(old, ignore_errors=True)


def log_summary(run_dir: str | Path, mode: str = "offline", project: str | None = None,
                study_name: str | None = None, profile: str | None = None,
                folder: str | Path | None = None) -> str:
    """Write (or update) the study's W&B summary run from RUN_DIR/report/; returns its run id.

    mode: offline (files under FOLDER/wandb/, `wandb sync` later) or online. project: default spec.yaml's
    `wandb_project`, else resnet-ablation; the entity is W&B's usual (WANDB_ENTITY or the account's default).
    study_name, profile: default spec.yaml's, else the run folder's name and none. folder: where the offline
    files go (default RUN_DIR, beside the trial runs). Raises WandbSummaryError (one line)."""
    import wandb

    run_dir = Path(run_dir)
    report = run_dir / "report"
    if not (report / "effects.csv").is_file():
        raise WandbSummaryError(f"no report under {report}; build it first (python analysis/report.py RUN_DIR)")
    spec = _spec(run_dir)
    study = study_name or spec.get("name") or run_dir.resolve().name
    profile = profile or (spec.get("profile") or {}).get("name")
    folder = Path(folder) if folder is not None else run_dir
    run_id = summary_run_id(study)
    tables = sorted(report.glob("*.csv"))
    figures = sorted((report / "figures").glob("*.png"))
    results = sorted(p for p in (run_dir / "results").glob("*") if p.is_file())
    results += [run_dir / "spec.yaml"] if (run_dir / "spec.yaml").is_file() else []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        run = wandb.init(project=project or spec.get("wandb_project") or WANDB_PROJECT, id=run_id,
                         name=f"{study}-summary", group=GROUP, job_type=JOB_TYPE, tags=study_tags(study, profile),
                         config={"study": study, "profile": profile, "spec": spec}, dir=str(folder), mode=mode,
                         resume="allow", reinit="create_new", settings=private_settings())
        try:
            logged: dict[str, Any] = {}
            for path in tables:
                frame = read_report_table(path)
                if frame is not None:
                    logged[f"tables/{path.stem}"] = wandb.Table(columns=list(frame.columns), data=table_rows(frame))
            logged.update({f"figures/{path.stem}": wandb.Image(str(path)) for path in figures})
            run.log(logged)
            run.summary.update(summary_keys(report))
            run.log_artifact(_artifact(wandb, artifact_name(study, "report"), "report",
                                       sorted(p for p in report.rglob("*") if p.is_file()), report))
            if results:
                run.log_artifact(_artifact(wandb, artifact_name(study, "results"), "results", results, run_dir))
            written = Path(run.dir).parent
        finally:
            run.finish()
    except (wandb.errors.Error, OSError) as err:
        first_line = (str(err).splitlines() or [type(err).__name__])[0]
        raise WandbSummaryError(f"W&B summary run of {study!r}: {first_line}") from None
    if mode == "offline":
        _drop_older_offline_copies(folder, run_id, written)
    return run_id
