"""The report of two small fixed run folders (tables and spec only) is byte-identical to the committed one.

Guards refactors: moving code must not change a number or a word. A change that is MEANT to change the report
regenerates the expected files with `GOLDEN_UPDATE=1 python -m pytest -q tests/test_golden_report.py` and the diff
of tests/golden/expected/ is reviewed with the change. Figures are left out (their bytes depend on matplotlib).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from analysis.report import build_report

GOLDEN = Path(__file__).parent / "golden"
STUDIES = ("grid", "fraction")  # a full 2^3 grid with a failed trial and timing.json; a 2^(4-1) fraction


def report_files(report: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(report.iterdir()) if p.suffix in (".md", ".csv")}


@pytest.mark.parametrize("name", STUDIES)
def test_report_is_byte_identical_to_the_golden_one(tmp_path, name):
    run_dir = tmp_path / name
    shutil.copytree(GOLDEN / name, run_dir)
    build_report(run_dir)
    produced = {k: v.replace(str(run_dir).encode(), b"RUN_DIR") for k, v in report_files(run_dir / "report").items()}
    expected_dir = GOLDEN / "expected" / name
    if os.environ.get("GOLDEN_UPDATE") == "1":
        shutil.rmtree(expected_dir, ignore_errors=True)
        expected_dir.mkdir(parents=True)
        for file_name, data in produced.items():
            (expected_dir / file_name).write_bytes(data)
    expected = {p.name: p.read_bytes() for p in sorted(expected_dir.iterdir())}
    assert sorted(produced) == sorted(expected)
    for file_name in expected:
        assert produced[file_name] == expected[file_name], f"{name}/{file_name} differs from the golden file"
