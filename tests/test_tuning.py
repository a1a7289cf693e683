"""The tuning stage (`--tune-first`, issue 6): search, no peeking, equal budget, reproducibility, resume, report."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from analysis.simulate import DEFAULT_EFFECTS, make_study

from ablation.run import main
from ablation.spec import StudySpec
from analysis.report import build_report
from analysis.report import main as report_main
from analysis.stats.fanova import fanova_importance
from analysis.stats.tuning_rule import TUNED, choose
from analysis.stats.tuning import expected_max, expected_max_curve
from search_spaces import tuning as space
from search_spaces.profiles import get_profile

SMOKE = ["--profile", "smoke", "--factors", "shortcut", "--seeds", "1", "--epochs", "1", "--wandb", "disabled"]
TRIALS, EPOCHS = 3, 2
TUNE = ["--tune-first", "--tune-trials", str(TRIALS), "--tune-epochs", str(EPOCHS)]
CONFIGS = ["shortcut=0", "shortcut=1"]
TIMING = ["seconds", "trial_id"]  # what may differ between two runs of the same search


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)  # pandas 3 reads floats back exactly as written


@pytest.fixture(scope="module")
def tuned_study(ray_session, tmp_path_factory):
    storage = tmp_path_factory.mktemp("runs")
    code = main([*SMOKE, *TUNE, "--storage", str(storage), "--name", "tuned"])
    return code, storage / "tuned"


# --- pure parts -------------------------------------------------------------------------------------------------


def test_expected_max_on_a_hand_checked_example():
    scores = [0.9, 0.2, 0.5]  # sorted: 0.2, 0.5, 0.9; N = 3
    assert expected_max(scores, 1) == pytest.approx((0.2 + 0.5 + 0.9) / 3)  # one draw: the mean
    # n = 2: weights (1/3)^2, (2/3)^2 - (1/3)^2, 1 - (2/3)^2 = 1/9, 3/9, 5/9
    assert expected_max(scores, 2) == pytest.approx((0.2 * 1 + 0.5 * 3 + 0.9 * 5) / 9)
    # n = 3: 1/27, 7/27, 19/27
    assert expected_max(scores, 3) == pytest.approx((0.2 * 1 + 0.5 * 7 + 0.9 * 19) / 27)
    assert expected_max_curve(scores) == pytest.approx([1.6 / 3, 6.2 / 9, 20.8 / 27])
    assert expected_max(scores, 200) == pytest.approx(0.9)  # many draws: the maximum
    assert expected_max([0.4, 0.4, np.nan], 2) == pytest.approx(0.4)  # ties; a failed trial has no score
    curve = expected_max_curve(np.random.default_rng(0).uniform(size=12))
    assert (np.diff(curve) >= 0).all()


def test_choose_takes_the_best_score_and_breaks_ties_by_the_earlier_trial():
    rows = [{"tuning_trial": 1, "inner_val_acc": 0.5}, {"tuning_trial": 2, "inner_val_acc": 0.7},
            {"tuning_trial": 3, "inner_val_acc": 0.7}, {"tuning_trial": 4, "inner_val_acc": float("nan")}]
    assert choose(rows)["tuning_trial"] == 2
    assert choose(list(reversed(rows)))["tuning_trial"] == 2
    assert choose([{"tuning_trial": 1, "inner_val_acc": None}]) is None
    failed = {"tuning_trial": 5, "inner_val_acc": 0.9, "status": "failed"}  # errored after a good epoch
    assert choose([*rows, failed])["tuning_trial"] == 2


def test_search_space_is_the_issue_s():
    assert space.SPACE == {"lr": space.Range(1e-4, 1e-2, log=True),
                           "weight_decay": space.Range(1e-6, 1e-2, log=True),
                           "label_smoothing": space.Range(0.0, 0.2)}
    from ray.tune.search.optuna import OptunaSearch

    # what Optuna's sampler receives from the Tune space
    assert OptunaSearch.convert_search_space(space.tune_space()) == space.optuna_distributions()
    assert space.optuna_distributions()["weight_decay"].log and not space.optuna_distributions()["label_smoothing"].log


def test_inner_split_never_touches_the_study_validation_set(digits_small):
    """No peeking, from the indices: the inner parts are disjoint subsets of the study's training set."""
    from sklearn.datasets import load_digits

    from ablation.tune_first import inner_split
    from trainables.data import stratified_split

    data = digits_small
    inner, train_idx, val_idx = inner_split(data)
    n = len(data.train_labels)
    assert len(np.intersect1d(train_idx, val_idx)) == 0 and len(train_idx) + len(val_idx) == n
    assert train_idx.min() >= 0 and max(train_idx.max(), val_idx.max()) < n  # positions in the TRAINING set
    assert torch_equal(inner.train_images, data.train_images[train_idx])
    assert torch_equal(inner.val_images, data.train_images[val_idx])
    assert torch_equal(inner.val_labels, data.train_labels[val_idx])
    # in indices of the whole data set (the study's split, seed 42): both inner parts lie in its train part
    labels = load_digits().target
    outer_train, outer_val = stratified_split(labels, 0.2, 42)
    assert np.array_equal(labels[outer_train], data.train_labels.numpy())
    for part in (outer_train[train_idx], outer_train[val_idx]):
        assert len(np.intersect1d(part, outer_val)) == 0
    # and by content: no image of the study's validation set is in either inner part
    val_pixels = {bytes(x) for x in data.val_images.flatten(1).numpy()}
    for part in (inner.train_images, inner.val_images):
        assert not any(bytes(x) in val_pixels for x in part.flatten(1).numpy())
    # stratified: every class in both inner parts, about 20% of each class in inner val
    counts = np.bincount(inner.val_labels.numpy()) / np.bincount(data.train_labels.numpy())
    assert inner.num_classes == data.num_classes and np.allclose(counts, space.INNER_VAL_FRACTION, atol=0.02)
    assert inner.fingerprint != data.fingerprint  # a trial's resident tensors are keyed by it


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def test_tuning_arguments_are_checked(tmp_path, capsys):
    assert main([*SMOKE, "--tune-trials", "3", "--storage", str(tmp_path)]) == 2
    assert "--tune-trials need --tune-first" in capsys.readouterr().err
    assert main([*SMOKE, "--tune-first", "--tune-trials", "0", "--storage", str(tmp_path)]) == 2
    assert "--tune-trials must be >= 1" in capsys.readouterr().err
    plain = StudySpec(name="plain", storage=str(tmp_path), profile=get_profile("smoke"), seeds=(0,))
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "spec.yaml").write_text(plain.to_yaml())
    assert main(["--name", "plain", "--resume", "--tune-first", "--storage", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "started without --tune-first" in err and err.count("\n") == 1


# --- the stage on real Ray ----------------------------------------------------------------------------------------


def test_tuning_runs_with_the_same_budget_for_every_configuration(tuned_study):
    code, run = tuned_study
    assert code == 0
    tuning = read_csv(run / "results" / "tuning.csv")
    assert list(tuning.columns[:4]) == ["config", "model", "shortcut", "tuning_trial"]
    assert tuning.groupby("config").size().to_dict() == {c: TRIALS for c in CONFIGS}  # equal budget
    assert (tuning.groupby("config").tuning_trial.apply(sorted) == pd.Series([[1, 2, 3]] * 2, index=CONFIGS)).all()
    assert (tuning.status == "completed").all() and tuning.epochs_done.between(1, EPOCHS).all()
    assert (tuning.max_epochs == EPOCHS).all() and tuning.inner_val_acc.between(0, 1).all()
    for name, r in space.SPACE.items():
        assert tuning[name].between(r.low, r.high).all(), name
    for config in CONFIGS:  # one Tune experiment per configuration, apart from the ablation's
        assert len(list((run / "tuning" / config).glob("trial-*"))) == TRIALS
    assert not list(run.glob("trial-*")) and list(run.glob("shortcut=*-s0_*"))


def test_tuned_values_are_where_the_ablation_reads_them(tuned_study):
    _, run = tuned_study
    tuning = read_csv(run / "results" / "tuning.csv")
    spec = yaml.safe_load((run / "spec.yaml").read_text())
    assert spec["tuning"] == {"trials": TRIALS, "epochs": EPOCHS, "concurrency": 1}
    trials = read_csv(run / "results" / "trials.csv").set_index("config")
    for config, group in tuning.groupby("config"):
        best = choose(group.to_dict("records"))
        assert group.chosen.sum() == 1 and bool(group.loc[group.tuning_trial == best["tuning_trial"]].chosen.item())
        assert spec["tuned"][config] == {name: best[name] for name in TUNED}  # exactly, from the yaml
        for name in TUNED:
            assert trials.loc[config, name] == best[name], (config, name)
    assert (trials.status == "completed").all()


def test_tuning_trials_saw_only_the_inner_split(tuned_study, digits_small):
    from ablation.tune_first import inner_split

    _, run = tuned_study
    inner, train_idx, val_idx = inner_split(digits_small)
    rows = [json.loads(line) for path in sorted((run / "tuning").glob("*/trial-*/result.json"))
            for line in path.read_text().splitlines() if line.strip()]
    assert len(rows) >= 2 * TRIALS
    assert {row["data_fingerprint"] for row in rows} == {inner.fingerprint}
    assert {(row["n_train"], row["n_val"]) for row in rows} == {(len(train_idx), len(val_idx))}
    assert len(train_idx) + len(val_idx) == len(digits_small.train_labels)
    assert {row["config"]["seed"] for row in rows} == {space.TUNING_SEED}


def test_tuning_is_reproducible_for_a_fixed_seed(tuned_study, digits_small, tmp_path):
    """The same search for one configuration, run again with the same data: the same values and scores."""
    from ablation.tune_first import _configurations, inner_split, make_trainable, tune_configuration

    _, run = tuned_study
    spec = StudySpec.from_yaml((run / "spec.yaml").read_text())
    spec = replace(spec, storage=str(tmp_path), tuned={})
    configuration = next(c for c in _configurations(spec) if c.config_id == "shortcut=1")
    inner, _, _ = inner_split(digits_small)
    rows = tune_configuration(spec, configuration, make_trainable(spec, inner), trials=TRIALS, epochs=EPOCHS,
                              concurrency=1, storage_path=str(tmp_path / "tuning"))
    again = pd.DataFrame(rows).drop(columns=TIMING + ["chosen"])
    first = read_csv(run / "results" / "tuning.csv")
    first = first[first.config == "shortcut=1"].drop(columns=TIMING + ["chosen"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(again[list(first.columns)], first, check_exact=True, check_dtype=False)


def test_the_report_shows_the_tuning_stage(tuned_study):
    _, run = tuned_study
    md = (run / "report" / "report.md").read_text()
    assert "## Hyperparameter tuning (before the ablation)" in md and "(figures/tuning.png)" in md
    assert "## fANOVA importance of the factors: another estimate of the same shares" in md
    assert (run / "report" / "figures" / "tuning.png").stat().st_size > 0
    tuned = pd.read_csv(run / "report" / "tuned.csv")
    assert tuned.used_by_ablation.all() and (tuned.n_trials == TRIALS).all()
    expected = pd.read_csv(run / "report" / "tuning_expected_max.csv")
    assert expected.groupby("config").n.max().to_dict() == {c: TRIALS for c in CONFIGS}
    tuning = pd.read_csv(run / "results" / "tuning.csv")
    for config, group in tuning.groupby("config"):
        curve = expected[expected.config == config].expected_max.to_numpy()
        assert curve[0] == pytest.approx(group.inner_val_acc.mean())
        assert curve[-1] <= group.inner_val_acc.max() + 1e-12


def test_resume_does_not_tune_again(tuned_study):
    _, run = tuned_study
    table = run / "results" / "tuning.csv"
    before = (table.stat().st_mtime_ns, table.read_text(), sorted(p.name for p in (run / "tuning").glob("*/*")))
    tuned = yaml.safe_load((run / "spec.yaml").read_text())["tuned"]
    assert main(["--name", "tuned", "--storage", str(run.parent), "--resume", "--tune-first", "--no-report",
                 "--wandb", "disabled"]) == 0
    after = (table.stat().st_mtime_ns, table.read_text(), sorted(p.name for p in (run / "tuning").glob("*/*")))
    assert after == before
    assert yaml.safe_load((run / "spec.yaml").read_text())["tuned"] == tuned


def test_resume_finishes_an_interrupted_tuning_stage(tuned_study, tmp_path):
    """Killed after the first configuration's search: a resume tunes only the rest, with the saved budget."""
    _, run = tuned_study
    copy = tmp_path / "tuned"
    shutil.copytree(run, copy)
    spec = yaml.safe_load((copy / "spec.yaml").read_text())
    lost = spec["tuned"].pop("shortcut=1")
    (copy / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    table = read_csv(copy / "results" / "tuning.csv")
    kept = table[table.config == "shortcut=0"]
    kept.to_csv(copy / "results" / "tuning.csv", index=False)  # the searched rows of shortcut=1 were not saved
    first = sorted(p.name for p in (copy / "tuning" / "shortcut=0").iterdir())
    assert main(["--name", "tuned", "--storage", str(tmp_path), "--resume", "--no-report"]) == 0
    again = read_csv(copy / "results" / "tuning.csv")
    pd.testing.assert_frame_equal(again[again.config == "shortcut=0"], kept)
    redone = again[again.config == "shortcut=1"].reset_index(drop=True)
    before = table[table.config == "shortcut=1"].reset_index(drop=True)
    assert len(redone) == TRIALS
    pd.testing.assert_frame_equal(redone.drop(columns=TIMING), before.drop(columns=TIMING))  # same seed, same search
    assert yaml.safe_load((copy / "spec.yaml").read_text())["tuned"]["shortcut=1"] == lost
    assert sorted(p.name for p in (copy / "tuning" / "shortcut=0").iterdir()) == first


# --- the report's comparison and fANOVA, on simulated tables ----------------------------------------------------


def test_compare_puts_the_effects_of_two_studies_side_by_side(tmp_path, capsys):
    shared = make_study(tmp_path / "shared", n_seeds=4, epochs=2, rng=1)
    tuned = make_study(tmp_path / "tuned", n_seeds=4, epochs=2, rng=2,
                       effects={**DEFAULT_EFFECTS, "shortcut": 0.02})
    tuning = pd.DataFrame({"config": ["shortcut=0-se=0-act=relu"] * 2, "model": ["Plain-34"] * 2,
                           "shortcut": [False] * 2, "se": [False] * 2, "activation": ["relu"] * 2,
                           "tuning_trial": [1, 2], "lr": [1e-3, 2e-3], "weight_decay": [1e-4, 1e-5],
                           "label_smoothing": [0.1, 0.0], "inner_val_acc": [0.5, 0.6], "epochs_done": [2, 1]})
    tuning.to_csv(tuned / "results" / "tuning.csv", index=False)
    assert report_main([str(tuned), "--compare", str(shared)]) == 0
    compare = pd.read_csv(tuned / "report" / "compare_effects.csv").set_index("term")
    mine = pd.read_csv(tuned / "report" / "effects.csv").set_index("term")
    theirs = pd.read_csv(build_report(shared).parent / "effects.csv").set_index("term")
    assert list(compare.index) == list(mine.index)
    assert np.allclose(compare.estimate, mine.estimate) and np.allclose(compare.other_estimate, theirs.estimate)
    assert np.allclose(compare.difference, mine.estimate - theirs.estimate)
    md = (tuned / "report" / "report.md").read_text()
    assert "## Effects side by side: tuned vs shared recipe" in md
    assert "| Plain-34 | shortcut=0-se=0-act=relu | 0.002 |" in md  # the winner: trial 2 (60%)
    assert report_main([str(tuned), "--compare", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_fanova_ranks_the_factors_like_the_anova(tmp_path):
    run = make_study(tmp_path / "run", n_seeds=5, epochs=2)  # shortcut 6 pp >> se 1.2 pp >> activation 0.4 pp
    build_report(run)
    fanova = pd.read_csv(run / "report" / "fanova.csv").set_index("factor")
    assert fanova.fanova_importance.sum() == pytest.approx(1.0)
    assert fanova.fanova_importance.idxmax() == fanova.anova_share.idxmax() == "shortcut"
    assert fanova.loc["shortcut", "fanova_importance"] > 0.8
    assert not (run / "report" / "tuned.csv").exists()  # no tuning stage, no tuning section
    assert "Hyperparameter tuning" not in (run / "report" / "report.md").read_text()


def test_fanova_without_variance_says_why():
    trials = pd.DataFrame({"config": ["a", "b"], "model": ["A", "B"], "shortcut": [False, True], "seed": [0, 0],
                           "status": ["completed"] * 2, "final_val_acc": [0.5, 0.5]})
    with pytest.raises(ValueError, match="variation"):
        fanova_importance(trials, {"shortcut": (False, True)})
