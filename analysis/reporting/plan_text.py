"""The lines `--plan` prints (ablation/plan.py): the pilot's noise, the rule planned for, the seeds, trials and
compute per noise level. The numbers come from analysis/stats/planning.py's plan_table."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.reporting.formats import duration, seeds_text, trials_count


def format_plan(table: pd.DataFrame) -> str:
    """The lines `--plan` prints: the noise, the rule planned for, and per noise level the seeds, trials, cost."""
    first, upper = table.iloc[0], table.iloc[-1]
    lines = [f"plan for an effect of {100 * first.min_effect:.2f} pp with {first.power:.0%} power (pilot: "
             f"{first.n_seeds} seeds per cell in {first.n_cells} cells, {first.n_terms} terms, {first.df:.0f} "
             "residual df)",
             f"  residual sd: {100 * first.residual_sd:.2f} pp observed; {100 * upper.residual_sd:.2f} pp at its "
             f"one-sided {upper.confidence:.0%} upper confidence bound (chi-square)",
             f"  each term tested at α/{first.n_terms} = {first.alpha_per_term:.4f} (Bonferroni, a lower bound on "
             "the power of the Holm rule), noncentral t, balanced design with seed blocks"]
    wall = f"wall ({first.slots:.0f} slots)" if np.isfinite(first.slots) else "wall (slots unknown)"
    header = ["basis", "seeds/cell", "trials added", "compute", wall]
    efficient = np.isfinite(first.efficiency)
    if efficient:
        header.append(f"wall at pilot efficiency {first.efficiency:.2f}")
    cells = [header] + [[r.basis, seeds_text(r.seeds_needed), trials_count(r.trials_added),
                         duration(r.compute_seconds), duration(r.wall_seconds)]
                        + ([duration(r.wall_seconds_at_efficiency)] if efficient else [])
                        for r in table.itertuples()]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    if np.isfinite(first.seconds_per_trial):
        lines.append(f"  compute: trials added x {first.seconds_per_trial:.1f} s, the mean train_seconds of the "
                     f"pilot's {first.n_timed} completed trials (epochs only: the wall time is a lower bound)")
    else:
        lines.append("  compute: unknown (trials.csv has no train_seconds)")
    return "\n".join(lines)
