"""Reading and validating result tables: clear errors, factor discovery, level order."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.simulate import make_study

from analysis.results.load import (ResultsError, completed, default_level_order, discover_factors,
                           load_study)
from analysis.report import main


@pytest.fixture
def study_dir(tmp_path):
    return make_study(tmp_path / "run", n_seeds=2, epochs=3)


def rewrite_trials(run: Path, edit) -> None:
    path = run / "results" / "trials.csv"
    edit(pd.read_csv(path)).to_csv(path, index=False)


def test_loads_factors_between_model_and_seed_and_ignores_extra_columns(study_dir):
    study = load_study(study_dir)
    assert study.factors == {"shortcut": (False, True), "se": (False, True), "activation": ("relu", "mish")}
    assert {"node_id", "hostname", "lr", "weight_decay"} <= set(study.trials.columns)
    assert study.trials["shortcut"].dtype == bool
    assert study.epochs is not None and study.notes == ()


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nope", "does not exist"),
    (lambda p: (p / "file.txt").write_text("x") and p / "file.txt", "is not a directory"),
    (lambda p: p, "has no results/ folder"),
])
def test_bad_run_directory(tmp_path, make, message):
    with pytest.raises(ResultsError, match=message):
        load_study(make(tmp_path))


def test_missing_empty_and_headless_tables(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    with pytest.raises(ResultsError, match="trials.csv not found"):
        load_study(tmp_path)
    (results / "trials.csv").write_text("")
    with pytest.raises(ResultsError, match="trials.csv is empty"):
        load_study(tmp_path)
    (results / "trials.csv").write_text("trial_id,config,model,seed,status,final_train_acc,final_val_acc,"
                                        "best_val_acc,best_epoch\n")
    with pytest.raises(ResultsError, match="has a header but no rows"):
        load_study(tmp_path)


def test_missing_columns_are_named(study_dir):
    rewrite_trials(study_dir, lambda t: t.drop(columns=["final_val_acc", "status"]))
    with pytest.raises(ResultsError, match="lacks column\\(s\\) status, final_val_acc"):
        load_study(study_dir)


def test_percentages_and_no_completed_trials_are_errors(study_dir):
    rewrite_trials(study_dir, lambda t: t.assign(final_val_acc=t["final_val_acc"] * 100))
    with pytest.raises(ResultsError, match="outside \\[0, 1\\].*fractions"):
        load_study(study_dir)
    rewrite_trials(study_dir, lambda t: t.assign(final_val_acc=t["final_val_acc"] / 100, status="failed"))
    with pytest.raises(ResultsError, match="no completed trials"):
        load_study(study_dir)


def test_inconsistent_config_ids_are_errors(study_dir):
    rewrite_trials(study_dir, lambda t: t.assign(config="same"))
    with pytest.raises(ResultsError, match="different factor levels"):
        load_study(study_dir)


def test_missing_epochs_table_is_a_gap_not_an_error(study_dir):
    (study_dir / "results" / "epochs.csv").unlink()
    study = load_study(study_dir)
    assert study.epochs is None and any("epochs.csv is missing" in n for n in study.notes)


def test_default_level_order():
    assert default_level_order([True, False, True]) == [False, True]
    assert default_level_order([34, 18, 50]) == [18, 34, 50]
    assert default_level_order(["mish", "relu"]) == ["relu", "mish"]
    assert default_level_order(["swish", "gelu", "relu"]) == ["relu", "swish", "gelu"]  # unknown: as first seen


def test_text_booleans_are_normalised_and_spec_order_is_the_authority(study_dir):
    rewrite_trials(study_dir, lambda t: t.assign(se=t["se"].map({True: "true", False: "false"})))
    (study_dir / "spec.yaml").write_text("name: x\nfactors:\n  activation: [mish, relu]\n  shortcut: [false, true]\n"
                                         "  se: [false, true]\n")
    study = load_study(study_dir)
    assert study.factors["se"] == (False, True) and study.trials["se"].dtype == bool
    assert study.factors["activation"] == ("mish", "relu")  # the spec puts mish first
    assert list(study.factors) == ["activation", "shortcut", "se"]  # the spec names the factors, in its order


def test_factors_named_by_the_spec_need_no_column_order(study_dir):
    """With a spec naming the factors, column order is not load-bearing: factors may sit anywhere."""
    rewrite_trials(study_dir, lambda t: t[["seed", "status", "se"] + [c for c in t.columns
                                                                    if c not in ("seed", "status", "se")]])
    (study_dir / "spec.yaml").write_text("factors:\n  shortcut: [false, true]\n  se: [false, true]\n"
                                         "  activation: [relu, mish]\n")
    study = load_study(study_dir)
    assert list(study.factors) == ["shortcut", "se", "activation"]
    (study_dir / "spec.yaml").write_text("factors:\n  dropout: [false, true]\n")
    with pytest.raises(ResultsError, match="no column for"):
        load_study(study_dir)


def test_spec_with_an_unlisted_level_and_a_broken_spec(study_dir):
    trials = pd.read_csv(study_dir / "results" / "trials.csv")
    factors, notes = discover_factors(trials, {"activation": ["relu"]})
    assert factors["activation"] == ("relu", "mish") and "spec.yaml does not list" in notes[0]
    (study_dir / "spec.yaml").write_text("factors: [unclosed\n")
    study = load_study(study_dir)
    assert any("spec.yaml could not be read" in n for n in study.notes)


def test_repeated_trials_keep_the_first(study_dir):
    rewrite_trials(study_dir, lambda t: pd.concat([t, t.iloc[:1].assign(trial_id="again", final_val_acc=0.0)]))
    study = load_study(study_dir)
    assert len(completed(study.trials)) == 16 and any("repeat" in n for n in study.notes)
    assert (completed(study.trials)["trial_id"] != "again").all()


def test_seed_before_model_is_an_error(study_dir):
    rewrite_trials(study_dir, lambda t: t[["seed"] + [c for c in t.columns if c != "seed"]])
    with pytest.raises(ResultsError, match="between `model` and `seed`"):
        load_study(study_dir)


def test_cli_bad_run_dir_one_line_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "trials.csv").write_text("a,b\n1,2\n")
    assert main([str(tmp_path)]) == 2
    assert "lacks column(s)" in capsys.readouterr().err
