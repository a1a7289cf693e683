"""Running a study's trials: one fit over what the ledger lacks, or waves of seeds until the effects are settled.

`fit_pending` trains the trials the ledger does not hold and writes the tables, whatever happens to the fit.
`run_waves` (--until-settled) grows the study wave by wave along the schedule fixed in spec.yaml, looks at the
effects after each complete wave with the stopping rule of analysis/stats/sequential.py, records every look in
results/waves.csv, and stops when every term is settled or the seed budget is spent. Each look is a pure function
of the completed runs of its seeds, so a driver killed mid-wave resumes (--resume) and makes the same decisions.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

import runstore
from ablation.export import write_tables
from ablation.spec import SPEC_FILE, StudySpec
from ablation.study import pending_entries, run_study, shared_settings, trial_entries
from analysis.results.schema import COMPLETED, WAVES_FILE
from analysis.stats.sequential import describe_rule, replay, waves_table

METRIC = "final_val_acc"


def fit_pending(spec: StudySpec, data: dict, components: dict[str, str], label: str = ""
                ) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(trials table of every entry, the entries trained now): one fit over the pending trials, then the tables."""
    entries = trial_entries(spec)
    pending = pending_entries(spec, data)
    print(f"study {spec.name}{label}: {len(pending)} of {len(entries)} trials to run", flush=True)
    results = None
    try:
        results = run_study(spec, data, components, pending)
    finally:  # whatever happened to the fit, the tables hold every trial that finished
        trials, _ = write_tables(spec, entries, shared_settings(spec), results)
    return trials, pending


def _model_terms(spec: StudySpec):
    """The terms a look fits: every interaction of the full grid, or those a fraction can estimate."""
    if not spec.design:
        return None
    from analysis.doe.spec_codec import record_fraction
    from analysis.stats.fraction_fit import model_terms

    return model_terms(record_fraction(spec.design, list(spec.profile.factors)))


def run_waves(spec: StudySpec, data: dict, components: dict[str, str]
              ) -> tuple[StudySpec, pd.DataFrame, list[dict[str, Any]]]:
    """(the spec at the last wave, its trials table, every entry trained now) of an --until-settled study."""
    rule = spec.sequential
    schedule = [int(n) for n in rule["schedule"]]
    print(describe_rule(len(schedule), rule["max_seeds"], rule["min_effect"], n_terms=_n_terms(spec)), flush=True)
    trained: list[dict[str, Any]] = []
    n = len(spec.seeds)
    while True:
        spec = replace(spec, seeds=tuple(range(n)))
        runstore.write_atomic(runstore.join(spec.run_dir, SPEC_FILE), spec.to_yaml())
        look_number = schedule.index(n) + 1 if n in schedule else None
        trials, pending = fit_pending(spec, data, components, f", wave to {n} seeds per cell")
        trained += pending
        unfinished = int((trials["status"] != COMPLETED).sum())
        if unfinished:  # a look at an incomplete wave would change when its trials are run again
            print(f"wave to {n} seeds: {unfinished} trial(s) did not complete; no look made (resume to finish it)",
                  flush=True)
            return spec, trials, trained
        steps = replay(trials, spec.factor_levels, METRIC, schedule, rule["min_effect"], n_done=n,
                       model_terms=_model_terms(spec))
        runstore.write_atomic(runstore.join(spec.run_dir, WAVES_FILE), waves_table(steps).to_csv(index=False))
        result, decision = steps[-1]
        print(f"look {result.look} of {len(schedule)} at {result.n_seeds} seeds per cell"
              f"{'' if look_number == result.look else ' (recorded earlier)'}: {decision.reason}", flush=True)
        if decision.stop:
            return spec, trials, trained
        n = decision.next_seeds


def _n_terms(spec: StudySpec) -> int:
    terms = _model_terms(spec)
    return len(terms) if terms is not None else 2 ** len(spec.profile.factors) - 1
