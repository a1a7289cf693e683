"""report/tables.tex: booktabs tables a paper can paste, names escaped, compiled by a real pdflatex where present."""
from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from analysis.reporting.latex_tables import escape, latex_tables

NAN = float("nan")


def _configs() -> pd.DataFrame:
    # The columns of report/configs.csv (one metric shown; the others are ignored), names that need escaping.
    return pd.DataFrame({
        "config": ["shortcut=0-se=0-dp=0.0", "shortcut=1-se=1-dp=0.1"], "model": ["Plain-34", "SE-ResNet-34+DropPath"],
        "shortcut": [False, True], "se": [False, True], "drop_path": [0.0, 0.1], "n_completed": [3, 2],
        "n_failed": [0, 1], "final_val_acc_n": [3, 2], "final_val_acc_mean": [0.11420612, 0.9777],
        "final_val_acc_std": [0.0196966, NAN], "final_val_acc_sem": [0.011, NAN], "final_val_acc_ci_low": [0.0, NAN],
        "final_val_acc_ci_high": [0.29, NAN], "final_val_acc_ci_clipped": [True, False],
        "best_val_acc_mean": [0.2, 0.99]})


def _effects(aliases=("", "", "")) -> pd.DataFrame:
    return pd.DataFrame({
        "term": ["shortcut", "shortcut:se", "drop_path"], "estimate": [0.349233983, -0.0386490, 0.0],
        "ci_low": [0.30519066, -0.08269234, NAN], "ci_high": [0.39327729, 0.00539428, NAN],
        "p_value": [3.05e-07, 0.0766474, NAN], "p_holm": [2.13e-06, 0.30658988, NAN],
        "partial_eta_sq": [0.98, 0.38, NAN], "resolved": [True, False, False], "se": [0.0186, 0.0186, NAN],
        "df": [7.0, 7.0, 7.0], "n_runs": [16, 16, 16], "n_seeds": [2, 2, 2], "aliases": list(aliases)})


def _shapley() -> pd.DataFrame:
    return pd.DataFrame({
        "component": ["shortcut", "se", "total"], "value": [0.3519, -0.0360, 0.3159],
        "ci_low": [0.1395, -0.5049, 0.2], "ci_high": [0.5643, 0.4330, 0.43], "share": [1.114, -0.114, NAN],
        "se": [0.0167, 0.0369, 0.05], "df": [1.0, 1.0, 1.0], "n_runs": [16, 16, 16],
        "method": ["per-seed t (2 seeds)"] * 3})


def _paired() -> pd.DataFrame:
    return pd.DataFrame({
        "group": ["", "act=mish_50%"], "baseline": ["Plain-34", "ResNet-34"], "model": ["ResNet-34", "SE-ResNet-34"],
        "named_baseline": ["Plain-34", "ResNet-34"], "named_model": ["ResNet-34", "SE-ResNet-34"],
        "config_baseline": ["a", "b"], "config_model": ["c", "d"], "n": [2, 2], "mean_diff": [0.30222841, 0.0389972],
        "sd_diff": [0.0217, 0.0985], "ci_low": [0.10756, -0.84583], "ci_high": [0.49689, 0.92383],
        "t": [19.7, 0.56], "p_t": [0.0322, 0.675], "p_holm": [0.129, 0.675], "resolved": [False, False],
        "p_wilcoxon": [NAN, NAN], "n_improved": [2, 1], "prob_improvement": [1.0, 0.5], "pi_ci_low": [0.16, 0.01],
        "pi_ci_high": [1.0, 0.99], "mde": [1.2, 4.6], "seeds_needed": [858.0, np.inf]})


def _tex(**changes) -> str:
    tables = {"configs": _configs(), "effects": _effects(), "shapley": _shapley(), "paired": _paired(), **changes}
    return latex_tables(tables["configs"], tables["effects"], tables["shapley"], tables["paired"], n_seeds=3,
                        metric_label="final validation accuracy")


def _tables(tex: str) -> list[str]:
    return re.findall(r"\\begin\{table\}.*?\\end\{table\}", tex, flags=re.S)


def _cells(line: str) -> int:
    return len(re.split(r"(?<!\\)&", line))


def test_four_booktabs_tables_each_with_rows_as_wide_as_its_header():
    tex = _tex()
    tables = _tables(tex)
    assert len(tables) == 4
    for table in tables:
        assert [table.count(rule) for rule in (r"\toprule", r"\midrule", r"\bottomrule")] == [1, 1, 1]
        align = re.search(r"\\begin\{tabular\}\{([lrc]+)\}", table).group(1)
        body = table.split(r"\toprule")[1].split(r"\bottomrule")[0].replace(r"\midrule", "")
        rows = [line for line in body.strip().splitlines() if line.strip()]
        assert all(line.endswith(r"\\") for line in rows)
        assert {_cells(line) for line in rows if not line.startswith(r"\multicolumn")} == {len(align)}
    data_rows = [t.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines() for t in tables]
    assert [len(rows) for rows in data_rows] == [2, 3, 3, 3]  # the paired table: one group heading


def test_captions_carry_n_and_the_method():
    captions = re.findall(r"\\caption\{(.*)\}", _tex())
    assert len(captions) == 4
    configs, effects, shapley, paired = captions
    assert "n = 2--3 completed runs per configuration of 3 seeds" in configs and "sd" in configs
    assert configs.startswith("Final validation accuracy")
    assert "n = 3 seeds per cell (16 runs), 7 residual df" in effects and "Holm" in effects and "OLS" in effects
    assert "per-seed t (2 seeds)" in shapley and "n = 3 seeds per cell" in shapley
    assert "n = 2 paired seeds of 3" in paired and "paired t" in paired and "over the 2 comparisons" in paired


def test_numbers_are_percent_and_points_with_real_minus_signs():
    tex = _tex()
    assert r"Plain-34 & \texttt{shortcut=0-se=0-dp=0.0} & $11.42$ $\pm$ $1.97$ & 3 & 0 \\" in tex
    assert r"SE-ResNet-34+DropPath & \texttt{shortcut=1-se=1-dp=0.1} & $97.77$ & 2 & 1 \\" in tex  # one seed: no sd
    assert r"\texttt{shortcut} & $+34.92$ & {[}$30.52$, $39.33${]} & $<0.001$ & $<0.001$ & yes \\" in tex
    assert r"\texttt{shortcut:se} & $-3.86$ & {[}$-8.27$, $0.54${]} & $0.077$ & $0.307$ & no \\" in tex
    assert r"\texttt{drop\_path} & $+0.00$ & -- & -- & -- & -- \\" in tex  # no p: neither resolved nor not
    assert r"\texttt{shortcut} & $+35.19$ & {[}$13.95$, $56.43${]} & 111\% \\" in tex
    assert "\n".join([r"\multicolumn{7}{l}{\textit{act=mish\_50\%}} \\",
                      r"SE-ResNet-34 $-$ ResNet-34 & 2 & $+3.90$ & {[}$-84.58$, $92.38${]} & $0.675$ & $0.675$ & "
                      r"no \\"]) in tex


def test_names_are_escaped_and_the_text_is_ascii():
    assert escape("shortcut:se") == "shortcut:se"
    assert escape("SE-ResNet-34") == "SE-ResNet-34"
    assert escape("drop_path 50% & #1 {x} $y ~^\\") == \
        r"drop\_path 50\% \& \#1 \{x\} \$y \textasciitilde{}\textasciicircum{}\textbackslash{}"
    assert escape("a--b [c]") == "a-{}-b {[}c{]}"
    assert escape("\u2212 1 \u00b1 2") == r"- 1 $\pm$ 2"
    tex = _tex()
    tex.encode("ascii")
    code = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    assert not re.search(r"(?<!\\)[_%&#]", code.replace(" & ", " ")), "an unescaped special character"


def test_an_alias_column_only_in_a_fraction():
    assert "Alias chain" not in _tex()
    tex = _tex(effects=_effects(aliases=("shortcut = se:drop_path", "", "drop_path = shortcut:se")))
    assert r"\texttt{shortcut} & \texttt{shortcut = se:drop\_path} & $+34.92$" in tex
    assert r"\texttt{shortcut:se} & -- & $-3.86$" in tex
    assert "alias chain" in re.findall(r"\\caption\{(.*)\}", tex)[1]


def test_an_empty_table_is_a_comment_not_an_empty_tabular():
    tex = _tex(paired=_paired().iloc[:0], shapley=None)
    assert len(_tables(tex)) == 2
    assert "% No Shapley values in this study." in tex and "% No paired comparisons in this study." in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
@pytest.mark.parametrize("aliases", [("", "", ""), ("shortcut = se:drop_path", "", "")])
def test_compiles_in_a_plain_article_with_booktabs(tmp_path, aliases):
    tex = _tex(effects=_effects(aliases=aliases))
    document = "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + tex + "\\end{document}\n"
    (tmp_path / "tables.tex").write_text(document)
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert (tmp_path / "tables.pdf").stat().st_size > 1000
    log = (tmp_path / "tables.log").read_text(errors="replace")
    assert "Missing character" not in log and "Undefined control sequence" not in log
    if not any(aliases):  # a full grid's tables fit a plain article's text width (alias chains may not)
        assert "Overfull \\hbox" not in log
    assert re.search(r"Output written on tables\.pdf \(\d+ pages?", result.stdout)
