"""The report's tables as LaTeX for a paper (report/tables.tex): booktabs, ASCII only, every name escaped.

Pure: the four result tables in (the DataFrames written as configs.csv, effects.csv, shapley.csv and
paired.csv), one string out, the body of a document that needs only ``\\usepackage{booktabs}``. Accuracies are
fractions in the tables and percent here, effects in percentage points, as in the report.
"""
from __future__ import annotations

import math

import pandas as pd

DASH = "--"
# LaTeX's special characters in text mode; brackets braced so a cell that starts a row after \\ is never read
# as the optional argument of \\.
_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "[": "{[}", "]": "{]}",
            "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}
# The report's Unicode punctuation, spelt for a plain pdflatex.
_UNICODE = {"\u2212": "-", "\u2013": "--", "\u2014": "---", "\u00b1": r"$\pm$", "\u2264": r"$\leq$",
            "\u2265": r"$\geq$", "\u00d7": r"$\times$"}
METRIC = "final_val_acc"  # the configs table's metric: its columns are METRIC_mean, METRIC_std, METRIC_n


def escape(text: object) -> str:
    """Text as LaTeX typesets it verbatim (``shortcut:se``, ``SE-ResNet-34``, ``50%``, ``drop_path``)."""
    out = "".join(_ESCAPES.get(ch, ch) for ch in str(text))
    out = out.replace("--", "-{}-")  # a hyphen pair would print as an en dash
    for char, latex in _UNICODE.items():
        out = out.replace(char, latex)
    return out.encode("ascii", "replace").decode("ascii")


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x)) and math.isfinite(float(x))


def _num(x: float, digits: int = 2, signed: bool = False, scale: float = 100.0) -> str:
    if not _finite(x):
        return DASH
    text = f"{scale * float(x):{'+' if signed else ''}.{digits}f}"
    return f"${text}$"  # math mode: a real minus sign


def _interval(low: float, high: float) -> str:
    if not (_finite(low) and _finite(high)):
        return DASH
    return f"{{[}}{_num(low)}, {_num(high)}{{]}}"


def _p(p: float) -> str:
    if not _finite(p):
        return DASH
    return "$<0.001$" if p < 0.001 else f"${p:.3f}$"


def _resolved(flag, p_holm: float) -> str:
    return DASH if not _finite(p_holm) else ("yes" if bool(flag) else "no")


def _table(caption: str, label: str, header: list[str], rows: list[list[str]], align: str) -> str:
    # \footnotesize and narrower column gaps (scoped by the float): the widest table, the paired comparisons,
    # then fits a plain article's text width.
    lines = [r"\begin{table}[htbp]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}",
             rf"\caption{{{caption}}}", rf"\label{{tab:{label}}}",
             rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
    lines += [" & ".join(row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def _count(x) -> str:
    return str(int(x)) if _finite(x) else "0"


def _n_text(values) -> str:
    """'3' or '2--3': the n of a table whose rows may differ."""
    ns = sorted({int(v) for v in values if _finite(v)})
    if not ns:
        return "0"
    return f"{ns[0]}" if ns[0] == ns[-1] else f"{ns[0]}--{ns[-1]}"


def configs_table(configs: pd.DataFrame, n_seeds: int, metric_label: str) -> str:
    rows = []
    for r in configs.to_dict("records"):
        mean, sd = r.get(f"{METRIC}_mean"), r.get(f"{METRIC}_std")
        value = DASH if not _finite(mean) else (_num(mean) + (rf" $\pm$ {_num(sd)}" if _finite(sd) else ""))
        rows.append([escape(r["model"]), rf"\texttt{{{escape(r['config'])}}}", value,
                     _count(r.get(f"{METRIC}_n", r.get("n_completed"))), _count(r.get("n_failed"))])
    n = _n_text(configs.get(f"{METRIC}_n", configs.get("n_completed", pd.Series(dtype=float))))
    caption = (f"{escape(metric_label[:1].upper() + metric_label[1:])} (\\%) of each configuration: mean $\\pm$ "
               "sample sd over seeds, "
               f"n = {n} completed runs per configuration of {n_seeds} seeds (failed runs not counted).")
    return _table(caption, "configurations", ["Model", "Configuration", r"Mean $\pm$ sd (\%)", "n", "Failed"],
                  rows, "llrrr")


def effects_table(effects: pd.DataFrame, n_seeds: int, metric_label: str) -> str:
    aliased = "aliases" in effects and effects["aliases"].fillna("").astype(str).str.strip().ne("").any()
    rows = []
    for r in effects.to_dict("records"):
        row = [rf"\texttt{{{escape(r['term'])}}}"]
        if aliased:
            chain = r.get("aliases")
            row.append(rf"\texttt{{{escape(chain)}}}" if isinstance(chain, str) and chain.strip() else DASH)
        row += [_num(r["estimate"], signed=True), _interval(r["ci_low"], r["ci_high"]), _p(r.get("p_value")),
                _p(r["p_holm"]), _resolved(r["resolved"], r["p_holm"])]
        rows.append(row)
    df = _n_text(effects["df"]) if "df" in effects else DASH
    n = _n_text(effects["n_runs"]) if "n_runs" in effects else DASH
    chains = (" In a fraction each row estimates its alias chain, under the design's assumption that the "
              "higher-order terms are zero." if aliased else "")
    caption = (f"Effects on {escape(metric_label)} in percentage points: OLS on the $\\pm 1$-coded factorial with "
               f"seed as a block, n = {n_seeds} seeds per cell ({n} runs), {df} residual df. Effect = mean at the "
               "second level minus mean at the first. 95\\% CI: unadjusted t. Resolved: Holm-adjusted "
               f"p $<$ 0.05 over all {len(effects)} terms.{chains}")
    header = ["Term"] + (["Alias chain"] if aliased else []) + \
             ["Effect (pp)", r"95\% CI (pp)", "p", "p (Holm)", "Resolved"]
    return _table(caption, "effects", header, rows, "l" + ("l" if aliased else "") + "rrrrc")


def shapley_table(shapley: pd.DataFrame, n_seeds: int, metric_label: str) -> str:
    rows = []
    for r in shapley.to_dict("records"):
        name = r["component"]
        label = "total (full $-$ baseline)" if name == "total" else rf"\texttt{{{escape(name)}}}"
        share = r.get("share")
        rows.append([label, _num(r["value"], signed=True), _interval(r["ci_low"], r["ci_high"]),
                     DASH if not _finite(share) else f"{100 * float(share):.0f}\\%"])
    methods = sorted({str(m) for m in shapley.get("method", pd.Series(dtype=str)).dropna()})
    method = escape("; ".join(methods)) if methods else "not stated"
    n = _n_text(shapley["n_runs"]) if "n_runs" in shapley else DASH
    caption = (f"Exact Shapley values of the gain in {escape(metric_label)} (percentage points) from the baseline "
               f"to the full configuration, n = {n_seeds} seeds per cell ({n} runs); they sum to the total. 95\\% CI "
               f"method: {method}. Shares only where the gain's CI excludes 0.")
    return _table(caption, "shapley", ["Component", "Value (pp)", r"95\% CI (pp)", "Share of gain"], rows, "lrrr")


def paired_table(paired: pd.DataFrame, n_seeds: int, metric_label: str) -> str:
    rows, current = [], None
    for r in paired.to_dict("records"):
        group = r.get("group") if isinstance(r.get("group"), str) else ""
        if group.strip() and group != current:  # the other factors' levels head their comparisons' rows
            rows.append([rf"\multicolumn{{7}}{{l}}{{\textit{{{escape(group)}}}}}"])
        current = group
        rows.append([f"{escape(r['model'])} $-$ {escape(r['baseline'])}", _count(r["n"]),
                     _num(r["mean_diff"], signed=True), _interval(r["ci_low"], r["ci_high"]), _p(r["p_t"]),
                     _p(r["p_holm"]), _resolved(r["resolved"], r["p_holm"])])
    n = _n_text(paired["n"]) if "n" in paired else DASH
    caption = (f"The original study's named models, paired by seed: difference in {escape(metric_label)} "
               f"(percentage points), n = {n} paired seeds of {n_seeds}. 95\\% CI and p: paired t over seeds "
               f"(unadjusted); resolved: Holm-adjusted p $<$ 0.05 over the {len(paired)} comparisons.")
    return _table(caption, "paired", ["Comparison", "n", "Diff. (pp)", r"95\% CI (pp)", "p", "p (Holm)",
                                      "Resolved"], rows, "lrrrrrc")


def latex_tables(configs: pd.DataFrame, effects: pd.DataFrame, shapley: pd.DataFrame | None,
                 paired: pd.DataFrame | None, *, n_seeds: int, metric_label: str) -> str:
    """The four tables as one LaTeX document body (needs \\usepackage{booktabs}); a table without rows is a
    comment saying so, never an empty tabular."""
    parts = ["% Tables of the ablation study: paste into a document with \\usepackage{booktabs}.", ""]
    for name, frame, make in (("configurations", configs, configs_table), ("effects", effects, effects_table),
                              ("Shapley values", shapley, shapley_table), ("paired comparisons", paired, paired_table)):
        if frame is None or frame.empty:
            parts += [f"% No {name} in this study.", ""]
        else:
            parts.append(make(frame, n_seeds, metric_label))
    return "\n".join(parts)
