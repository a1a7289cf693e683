"""The report command on real run folders: new responses as the headline, claims files, refused inputs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.report import main as report_main

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def grid(tmp_path) -> Path:
    shutil.copytree(GOLDEN / "grid", tmp_path / "grid")
    return tmp_path / "grid"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.parametrize("metric", ["final_train_acc", "final_gap"])
def test_a_training_response_can_be_the_headline(grid, metric):
    trials = pd.read_csv(grid / "results" / "trials.csv")
    trials[trials["seed"] != 2].to_csv(grid / "results" / "trials.csv", index=False)  # seeds complete in every cell
    assert report_main([str(grid), "--metric", metric]) == 0
    text = (grid / "report" / "report.md").read_text()
    assert f"Metric analysed: `{metric}`" in text
    effects = pd.read_csv(grid / "report" / "effects.csv").set_index("term")
    responses = pd.read_csv(grid / "report" / "responses.csv")
    same = responses[responses["response"] == metric].set_index("term")
    assert (effects["estimate"] - same["estimate"]).abs().max() < 1e-12  # the headline is that response's column


def test_the_claims_and_the_paper_tables_are_written(grid):
    assert report_main([str(grid)]) == 0
    claims = pd.read_csv(grid / "report" / "claims.csv")
    assert list(claims["claim"]) == list(pd.read_csv(Path("analysis/claims/original_study.csv"))["id"])
    assert set(claims["verdict"]) <= {"supported", "contradicted", "not resolved"}
    tex = (grid / "report" / "tables.tex").read_text()
    terms = pd.read_csv(grid / "report" / "effects.csv")["term"]
    assert tex.count("\\toprule") == 4 and all(t in tex for t in terms)  # names with ':' need no escaping


def test_a_claims_file_of_ones_own(grid, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("id,text,response,kind,term,config_a,config_b,direction\n"
                    "sc,The shortcut raises training accuracy,final_train_acc,location,shortcut,,,+\n")
    assert report_main([str(grid), "--claims", str(mine)]) == 0
    claims = pd.read_csv(grid / "report" / "claims.csv")
    assert list(claims["claim"]) == ["sc"] and claims["verdict"].iloc[0] in ("supported", "not resolved")


def test_compare_with_a_study_of_other_factors_is_refused(grid, tmp_path, capsys):
    other = tmp_path / "fraction"
    shutil.copytree(GOLDEN / "fraction", other)
    assert report_main([str(grid), "--compare", str(other)]) == 2
    assert "varies other factors" in one_error_line(capsys)


def test_a_spec_that_is_a_list_is_refused(grid, capsys):
    (grid / "spec.yaml").write_text("- shortcut\n- se\n")
    assert report_main([str(grid)]) == 2
    assert "is not a study spec" in one_error_line(capsys)


@pytest.mark.parametrize("value", ["-2", "0", "100"])
def test_min_effect_out_of_range_is_one_line_in_points(grid, capsys, value):
    assert report_main([str(grid), "--min-effect", value]) == 2
    assert f"got {float(value):g}" in one_error_line(capsys)
