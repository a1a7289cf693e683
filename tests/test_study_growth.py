"""Studies that grow on real Ray (smoke profile): more seeds, waves until settled, a fraction with a user's component
and its fold-over. Finished trials are never trained again: their ledger records stay byte for byte."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ablation.run import main

REPO = Path(__file__).resolve().parent.parent
SMOKE = ["--profile", "smoke", "--wandb", "disabled"]


def _ledger(run_dir: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in (run_dir / "ledger").glob("*.json")}


@pytest.mark.slow
def test_grow_a_study_then_run_waves_until_the_budget(ray_session, tmp_path, capsys):
    storage = ["--storage", str(tmp_path)]
    assert main([*SMOKE, *storage, "--name", "grow", "--factors", "shortcut", "--seeds", "2", "--wandb", "offline"]) == 0
    run_dir = tmp_path / "grow"
    first = _ledger(run_dir)
    assert len(first) == 4
    assert main(["--name", "grow", *storage, "--resume", "--seeds", "3"]) == 0
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    assert len(trials) == 6 and (trials.status == "completed").all()
    assert sorted(trials.seed.unique()) == [0, 1, 2] and trials.groupby("config").seed.nunique().eq(3).all()
    assert {k: v for k, v in _ledger(run_dir).items() if k in first} == first  # untouched
    assert yaml.safe_load((run_dir / "spec.yaml").read_text())["seeds"] == [0, 1, 2]
    assert "over the 3 seeds with a run in every cell" in (run_dir / "report" / "report.md").read_text()
    # The new trials' W&B runs joined their configuration's group (offline runs of both fits, one group each).
    from tests.wandb_records import read_run

    runs = [read_run(p) for p in sorted((run_dir / "wandb").glob("offline-run-*"))]
    groups = {r["group"] for r in runs if r["job_type"] != "analysis"}
    assert groups == set(trials.config)
    capsys.readouterr()

    # Waves: from 2 seeds, one seed per wave, budget 3. At 2 seeds a look has 1 residual df, which cannot settle
    # a term at the rule's per-look level: the study adds exactly one wave and stops at the budget.
    args = [*SMOKE, *storage, "--name", "waves", "--factors", "shortcut", "--seeds", "2", "--until-settled",
            "--wave", "1", "--max-seeds", "3", "--min-effect", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "look 1 of 2 at 2 seeds per cell" in out and "next look at 3 seeds per cell" in out
    assert "look 2 of 2 at 3 seeds per cell: Budget spent" in out or "Every term settled by look 2" in out
    waves = pd.read_csv(tmp_path / "waves" / "results" / "waves.csv")
    assert waves.look.tolist() == [1, 2] and waves.decision.tolist()[0] == "continue"
    assert waves.n_seeds.tolist() == [2, 3] and waves.alpha_look.eq(0.025).all()
    trials = pd.read_csv(tmp_path / "waves" / "results" / "trials.csv")
    assert len(trials) == 6 and (trials.status == "completed").all()
    spec = yaml.safe_load((tmp_path / "waves" / "spec.yaml").read_text())
    assert spec["sequential"]["schedule"] == [2, 3] and spec["seeds"] == [0, 1, 2]
    report = (tmp_path / "waves" / "report" / "report.md").read_text()
    assert "Stopping rule" in report and (tmp_path / "waves" / "report" / "figures").is_dir()
    # Resuming a finished sequential study trains nothing and repeats the same decisions.
    # Compared as data: seeds_needed is NaN where every term settled, and NaN never equals itself under ==.
    assert main(["--name", "waves", *storage, "--resume", "--no-report"]) == 0
    after = pd.read_csv(tmp_path / "waves" / "results" / "waves.csv")
    pd.testing.assert_frame_equal(after, waves)
    assert "0 of 6 trials to run" in capsys.readouterr().out


@pytest.mark.slow
def test_fraction_with_a_users_component_then_its_fold_over(ray_session, tmp_path):
    """A 2^(4-1) fraction over shortcut, se, activation and the ReZero example (a component of the user's own,
    registered from examples/rezero.py), then the fold-over on rezero, which completes the 2^4 grid."""
    storage = ["--storage", str(tmp_path)]
    factors = ["--factors", "shortcut", "se", "activation", "rezero"]
    assert main([*SMOKE, *storage, "--name", "frac", "--components", str(REPO / "examples" / "rezero.py"),
                 *factors, "--seeds", "2", "--fraction", "1/2"]) == 0
    run_dir = tmp_path / "frac"
    spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert spec["design"]["resolution"] == 4 and spec["design"]["fraction"] == "1/2"
    assert spec["design"]["generators"] == {"rezero": "shortcut:se:activation"}
    assert spec["factors"]["rezero"] == [False, True] and spec["components"][0]["path"].endswith("rezero.py")
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    assert len(trials) == 16 and (trials.status == "completed").all() and trials.config.nunique() == 8
    assert "rezero" in trials.columns and trials.config.str.contains("rz=1").any()
    # the defining relation holds in every run: rezero is on exactly when an odd number of the others are on
    odd = (trials.shortcut.astype(int) + trials.se.astype(int) + (trials.activation == "mish").astype(int)) % 2
    assert (trials.rezero.astype(int) == odd).all()
    assert trials.loc[trials.rezero & trials.shortcut, "model"].str.endswith("+ReZero").all()
    effects = pd.read_csv(run_dir / "report" / "effects.csv").set_index("term")
    assert "rezero" in effects.index and effects.loc["rezero", "aliases"] == "rezero = shortcut:se:activation"
    assert "shortcut:se" in effects.index and "activation:rezero" not in effects.index  # one row per chain
    report = (run_dir / "report" / "report.md").read_text()
    assert "Resolution IV" in report and "rezero" in report

    first = _ledger(run_dir)
    # On resume the component file is given again (checked against its digest): never imported on spec.yaml's word
    assert main(["--name", "frac", *storage, "--resume", "--fold-over", "rezero", "--components",
                 str(REPO / "examples" / "rezero.py")]) == 0
    spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert spec["design"]["fold_overs"] == ["rezero"] and len(spec["design"]["cells"]) == 16
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    assert len(trials) == 32 and (trials.status == "completed").all() and trials.config.nunique() == 16
    assert {k: v for k, v in _ledger(run_dir).items() if k in first} == first  # never re-run
    effects = pd.read_csv(run_dir / "report" / "effects.csv")
    assert len(effects) == 15 and effects["aliases"].isna().all()  # the full 2^4 grid: nothing aliased
