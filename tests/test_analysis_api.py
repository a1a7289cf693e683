"""The public API of analysis/: what its docstring promises a Python user works as written."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import analysis

GOLDEN = Path(__file__).parent / "golden"


def test_the_docstring_example_runs_on_a_real_run_folder(tmp_path):
    run = tmp_path / "grid"
    shutil.copytree(GOLDEN / "grid", run)
    study = analysis.load_study(run)
    result = analysis.analyse(study, metric="final_val_acc")
    assert list(result.effects["term"])[:3] == list(study.factors)  # main effects first, in factor order
    assert analysis.build_report(run) == run / "report" / "report.html"
    assert (run / "report" / "effects.csv").is_file()
    assert set(analysis.__all__) == {"Analysis", "ResultsError", "Study", "analyse", "build_report", "load_study",
                                     "log_summary"}


def test_importing_the_table_contract_does_not_pull_in_the_report():
    code = "import sys, analysis.results.schema; print(sorted(m for m in ('matplotlib', 'scipy') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
