"""The report end to end: files, self-contained HTML, partial studies, 2^4, the command line, speed."""
from __future__ import annotations

import base64
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.simulate import DEFAULT_EFFECTS, DEFAULT_FACTORS, cells_outside, make_study

from analysis.reporting import figures as plots
from analysis.stats.descriptive import config_summary, curve_summary, interaction_means, marginal_means
from analysis.doe.fractions import choose_design, design_cells
from analysis.results.load import load_study
from analysis.report import EFFECT_COLUMNS, SHAPLEY_COLUMNS, build_report
from analysis.stats.shapley import TOTAL

ROOT = Path(__file__).resolve().parents[1]
VOID = {"meta", "img", "br", "hr", "link", "input"}


class Checker(HTMLParser):
    """Collects tags and their references, and checks that every element is closed in order."""

    def __init__(self):
        super().__init__()
        self.stack, self.tags, self.refs, self.errors = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [v for k, v in attrs if k in ("src", "href", "srcset", "data", "action") and v]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    """A 2^3 x 10-seed study with one failed trial, reported once for several tests."""
    run = make_study(tmp_path_factory.mktemp("study") / "run", failed=[("shortcut=1-se=1-act=mish", 3)])
    return run, build_report(run)


def test_report_files_and_csv_contracts(full_report):
    run, html_path = full_report
    out = run / "report"
    assert html_path == out / "report.html"
    for name in ("report.html", "report.md", "configs.csv", "effects.csv", "shapley.csv", "paired.csv", "power.csv"):
        assert (out / name).stat().st_size > 0, name
    assert not list(out.rglob("*.tmp"))  # atomic writes leave nothing behind
    effects = pd.read_csv(out / "effects.csv")
    assert list(effects.columns) == EFFECT_COLUMNS and len(effects) == 7
    assert effects["term"].tolist()[:4] == ["shortcut", "se", "activation", "shortcut:se"]
    assert effects["resolved"].dtype == bool and list(effects["resolved"]) == list(effects["p_holm"] < 0.05)
    # per-seed contrasts over the 9 seeds with a run in every cell (the failed run's seed left out), 8 df
    assert (effects["n_seeds"] == 9).all() and (effects["df"] == 9 - 1).all()
    assert effects["method"].eq("per-seed t (9 seeds)").all()
    shapley = pd.read_csv(out / "shapley.csv")
    assert list(shapley.columns) == SHAPLEY_COLUMNS
    assert shapley["component"].tolist() == [*DEFAULT_FACTORS, TOTAL]
    configs = pd.read_csv(out / "configs.csv")
    assert len(configs) == 8 and configs.loc[configs["model"] == "SE-Mish-ResNet-34", "final_val_acc_n"].item() == 9
    # Shapley values sum to the total row, the mean per-seed gain of the 9 seeds with a run in every cell
    parts, total = shapley.iloc[:-1], shapley.iloc[-1]
    assert parts["value"].sum() == pytest.approx(total["value"], abs=1e-12)
    assert parts["share"].sum() == pytest.approx(1.0) and total["ci_low"] < total["value"] < total["ci_high"]
    trials = pd.read_csv(run / "results" / "trials.csv")
    raw = (trials.loc[trials["config"] == "shortcut=1-se=1-act=mish", "final_val_acc"].mean()
           - trials.loc[trials["config"] == "shortcut=0-se=0-act=relu", "final_val_acc"].mean())
    assert total["value"] == pytest.approx(raw, abs=0.003)  # one seed short: close to, not equal to, the raw gain
    # values and intervals are per seed, over the 9 seeds with a run in every cell (seed 3 lacks the full one)
    assert (shapley["method"] == "per-seed t (9 seeds)").all() and (shapley["df"] == 8).all()
    assert (shapley["n_runs"] == 72).all()
    full, base = (trials[trials["config"] == c].set_index("seed")["final_val_acc"]
                  for c in ("shortcut=1-se=1-act=mish", "shortcut=0-se=0-act=relu"))
    gains = (full - base).dropna()
    half = 2.306004135204166 * gains.std(ddof=1) / 3  # t(0.975, 8) sd / sqrt(9)
    assert (total["ci_low"], total["value"], total["ci_high"]) == pytest.approx(
        (gains.mean() - half, gains.mean(), gains.mean() + half))


def test_report_text_states_n_gaps_and_unresolved_effects(full_report):
    run, _ = full_report
    md = (run / "report" / "report.md").read_text()
    assert "79 of 80 trials completed" in md
    assert "| t0073 | SE-Mish-ResNet-34 | shortcut=1-se=1-act=mish | 3 | failed | 5 |" in md
    assert "shortcut=1-se=1-act=mish seed 3 (failed)" in md and "it uses the other 79 runs" in md
    assert "Each term from each seed's own Yates contrast over the 9 seeds with a run in every cell" in md
    assert "Best val acc (%), optimistic" in md and "Where the names come from" in md
    effects = pd.read_csv(run / "report" / "effects.csv").set_index("term")
    assert (~effects["resolved"]).sum() >= 1
    for term, row in effects.iterrows():
        line = next(line for line in md.splitlines() if line.startswith(f"| {term} | "))
        assert line.rstrip().split(" | ")[-2] == ("yes" if row["resolved"] else "no"), line
    for model in ("Plain-34", "ResNet-34", "SE-ResNet-34", "Mish-ResNet-34"):
        assert f"| {model} | 10 |" in md  # the original table with n beside the means
    assert "SE-ResNet-34 − ResNet-34" in md and "Mish-ResNet-34 − ResNet-34" in md


def test_gain_and_shapley_intervals_are_per_seed_and_say_so(full_report):
    run, _ = full_report
    md = (run / "report" / "report.md").read_text()
    glance = md.split("## At a glance")[1].split("\n## ")[0]
    assert "(per-seed t, 9 seeds, 8 df; seed 3 left out, without a run in every cell)" in glance
    assert "Shapley values (pp, 95% CI, per-seed t, 9 seeds, 8 df):" in glance
    assert "pooled" not in glance  # the pooled interval is no longer the headline
    trust = md.split("## How far to trust this")[1].split("\n## ")[0]
    assert "The gain and the Shapley values: per-seed t over the 9 seeds with a run in every cell (8 df)" in trust
    assert "the pooled interval of the gain, which assumes equal noise in every cell, would be" in trust
    assert "Every interval of the effects, Shapley values and gain uses one pooled noise level" not in md
    shapley = md.split("## Shapley attribution of the gain")[1].split("\n## ")[0]
    assert "95% CIs, per-seed t" in shapley and "averaged over the 9 seeds with a run in every cell" in shapley
    assert "seed 3, without a run in every cell, left out here but not in the effects" in shapley
    assert "| per-seed t (9 seeds) |" in shapley
    definitions = md.split("## Definitions")[1].split("\n## ")[0]
    assert "pooled Shapley" not in definitions and "per-seed t (m seeds)" in definitions
    assert "same pooled residual sd and df as the effects" not in definitions


def test_a_fraction_keeps_its_pooled_shapley_intervals_and_labels_them(tmp_path):
    factors = {"shortcut": (False, True), "se": (False, True), "activation": ("relu", "mish"), "depth": (18, 34),
               "zero_init_residual": (False, True)}
    fraction = choose_design(list(factors), p=1)
    run = make_study(tmp_path / "run", factors=factors, effects={"shortcut": 0.05}, n_seeds=3, epochs=2,
                     drop_cells=cells_outside(factors, design_cells(fraction)))
    build_report(run)
    shapley = pd.read_csv(run / "report" / "shapley.csv")
    effects = pd.read_csv(run / "report" / "effects.csv")
    assert list(shapley.columns) == SHAPLEY_COLUMNS
    assert (shapley["method"] == f"pooled t ({effects['df'].iloc[0]:.0f} df)").all()
    assert (shapley["df"] == effects["df"].iloc[0]).all()


def test_report_makes_no_claim_stronger_than_its_rule(full_report):
    run, _ = full_report
    md = (run / "report" / "report.md").read_text()
    sections = [line for line in md.splitlines() if line.startswith("## ")]
    assert sections[:2] == ["## How far to trust this", "## At a glance"]
    for gone in ("Power now", "Cross-check", "supports the attribution", "bootstrap CI", "Mann-Whitney",
                 "observed size"):
        assert gone not in md, gone
    assert "Resolved (Holm p < 0.05)" in md and "Unadjusted 95% CI (t)" in md
    assert "seeds per cell (sd at its upper bound" in md and "80% upper confidence bound" in md
    paired = pd.read_csv(run / "report" / "paired.csv")
    assert list(paired["resolved"]) == list(paired["p_holm"] < 0.05)
    assert (paired["n_improved"] <= paired["n"]).all() and (paired["pi_ci_high"] <= 1).all()
    power = pd.read_csv(run / "report" / "power.csv")
    assert "power" not in power.columns and np.allclose(power["alpha_per_test"], 0.05 / 7)


def test_quick_sized_study_intervals_stay_within_0_and_100(tmp_path):
    """3 seeds, noisy accuracies near the top: the t interval of a mean would pass 100%."""
    run = make_study(tmp_path / "run", n_seeds=3, epochs=2, mu=0.95, noise=0.03, seed_sd=0.0, rng=4)
    build_report(run, min_effect=0.02)
    out = run / "report"
    configs = pd.read_csv(out / "configs.csv")
    for m in ("final_val_acc", "best_val_acc"):
        assert (configs[f"{m}_ci_low"] >= 0).all() and (configs[f"{m}_ci_high"] <= 1).all()
    assert configs["final_val_acc_ci_clipped"].any()
    md = (out / "report.md").read_text()
    assert "100.0] clipped" in md and "To resolve an effect of 2.00 pp (`--min-effect`)" in md
    assert "## Planning: seeds for an effect of 2.00 pp" in md


def test_html_parses_and_holds_no_external_references(full_report):
    run, html_path = full_report
    text = html_path.read_text()
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    assert not {"script", "link", "iframe", "object", "embed"} & set(checker.tags)
    assert checker.tags.count("img") == 6 and checker.tags.count("table") >= 6
    assert all(ref.startswith("data:image/png;base64,") for ref in checker.refs)
    for ref in checker.refs:
        assert base64.b64decode(ref.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text and "url(" not in text
    md = (run / "report" / "report.md").read_text()
    for line in md.splitlines():
        if line.startswith("!["):
            assert (run / "report" / line.split("](")[1].rstrip(")")).is_file()


def test_partial_study_with_a_missing_cell_is_analysed_with_what_is_complete(tmp_path):
    run = make_study(tmp_path / "run", n_seeds=4, epochs=3, drop_cells=["shortcut=0-se=1-act=mish"],
                     failed=[("shortcut=1-se=0-act=relu", 2)])
    build_report(run)
    out = run / "report"
    assert pd.read_csv(out / "effects.csv").empty and list(pd.read_csv(out / "effects.csv").columns) == EFFECT_COLUMNS
    assert pd.read_csv(out / "shapley.csv").empty
    md = (out / "report.md").read_text()
    assert "no completed trial in: shortcut=False-se=True-activation=mish" in md
    assert "No interval and no verdict on the factorial effects" in md
    paired = pd.read_csv(out / "paired.csv")
    with_resnet = (paired["model"] == "ResNet-34") | (paired["baseline"] == "ResNet-34")
    assert len(paired) == 5 and paired.loc[with_resnet, "n"].tolist() == [3, 3, 3]  # seed 2 failed
    assert paired.loc[~with_resnet, "n"].tolist() == [4, 4]
    assert len(pd.read_csv(out / "configs.csv")) == 7


def test_2_to_4_study_with_depth_builds(tmp_path):
    factors = {**DEFAULT_FACTORS, "depth": (18, 34)}
    effects = {**DEFAULT_EFFECTS, "depth": 0.02}
    run = make_study(tmp_path / "run", factors=factors, effects=effects, n_seeds=3, epochs=3)
    build_report(run, metric="best_val_acc")
    out = run / "report"
    e = pd.read_csv(out / "effects.csv")
    assert len(e) == 15 and e["term"].iloc[-1] == "shortcut:se:activation:depth"
    assert pd.read_csv(out / "shapley.csv")["component"].tolist() == [*factors, TOTAL]
    assert set(pd.read_csv(out / "paired.csv")["group"]) == {"depth=18", "depth=34"}
    md = (out / "report.md").read_text()
    assert "`best_val_acc`, the best validation accuracy over the epochs (optimistic" in md


def test_three_level_factor_keeps_aggregates_and_says_why_effects_are_missing(tmp_path):
    factors = {"shortcut": (False, True), "depth": (18, 34, 50)}
    run = make_study(tmp_path / "run", factors=factors, effects={"shortcut": 0.05}, n_seeds=2, epochs=2)
    build_report(run)
    md = (run / "report" / "report.md").read_text()
    assert "need two-level factors; 'depth' has 3 level(s)" in md
    assert len(pd.read_csv(run / "report" / "configs.csv")) == 6


def test_command_line_as_file_and_as_module(tmp_path):
    run = make_study(tmp_path / "run", n_seeds=3, epochs=2)
    done = subprocess.run([sys.executable, "analysis/report.py", str(run), "--min-effect", "2.5"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"report: {run / 'report' / 'report.html'}"
    assert "seeds for an effect of 2.50 pp" in (run / "report" / "report.md").read_text()
    assert np.allclose(pd.read_csv(run / "report" / "power.csv")["min_effect"], 0.025)
    bad = subprocess.run([sys.executable, "-m", "analysis.report", str(tmp_path / "nope"), "--metric",
                          "best_val_acc"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "does not exist" in bad.stderr


def test_plots_return_axes_with_and_without_axes(tmp_path):
    run = make_study(tmp_path / "run", n_seeds=3, epochs=3)
    s = load_study(run)
    curves = curve_summary(s.epochs, s.trials, s.factors)
    ax = plots.learning_curves(curves, "train")
    assert ax.get_xlabel() == "epoch" and "n = 3" in ax.get_title()
    assert plots.learning_curves(curves, "val", ax=ax) is ax
    c = config_summary(s.trials, s.factors).rename(columns=lambda x: x.replace("final_val_acc_", ""))
    values = s.trials.assign(value=s.trials["final_val_acc"])
    ax = plots.per_seed(values, c)
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "Plain-34\n(n=3)"
    m = marginal_means(s.trials, s.factors, "final_val_acc")
    assert plots.main_effects(m).get_ylabel() == "validation accuracy (%)"
    inter = interaction_means(s.trials, s.factors, "final_val_acc")
    assert plots.interaction(inter, "shortcut", "se").get_xlabel() == "shortcut"
    shap = pd.DataFrame({"component": ["a", "b"], "value": [0.02, -0.01], "ci_low": [0.01, np.nan],
                         "ci_high": [0.03, np.nan]})
    ax = plots.shapley_waterfall(shap, 0.7, 0.71)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline", "a", "b", "full"]
    eff = pd.DataFrame({"term": ["a", "b"], "estimate": [0.01, 0.02], "ci_low": [0.001, 0.01],
                        "ci_high": [0.03, 0.03], "resolved": [False, True], "n_runs": [24, 24]})
    ax = plots.effects_forest(eff)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    faces = [line.get_markerfacecolor() for line in ax.get_lines() if line.get_marker() == "o"]
    assert faces[0] == "white" and faces[1] != "white"  # a's CI excludes 0, but Holm did not resolve it


def test_analysis_never_imports_torch_or_ray():
    code = ("import sys, analysis.report, analysis.reporting.figures; "
            "print(sorted(m for m in ('torch', 'ray') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
