"""Run until settled: a stopping rule for a study grown wave by wave, whose error rates survive the repeated looks.

The rule (Bonferroni over the looks, Holm over the terms within a look):
  1. The looks are fixed before the first wave (`looks`): at start, start + wave, ... seeds per cell, the last at
     max_seeds. With L looks, each look spends alpha / L.
  2. A look at n seeds fits the full 2^k model (OLS, +-1 coding, seed blocks: analysis/stats/effects.py) to the completed
     runs with seed < n. A term is
        resolved    when its Holm-adjusted p (Holm over the m terms of that look) < alpha / L,
        negligible  when its (1 - alpha / L) t interval lies inside (-min_effect, +min_effect),
        unsettled   otherwise.
     A term keeps the first verdict it reaches (resolved wins a tie) and the look at which it did.
  3. Stop when every term is settled, or after the look at max_seeds (the budget), naming the unsettled terms.

Why its error rates hold however many looks are made and whatever made the study stop (union bound):
  - "Resolved": some null term is called resolved only if, at some look, Holm at level alpha / L errs. Holm keeps
    that chance <= alpha / L at each look, for any dependence between the terms, so over the L looks it is
    <= L * alpha / L = alpha, for any dependence between the looks (they share runs).
  - Intervals: the interval reported at the stopping look misses a term's true effect only if some look's interval
    misses it, each with probability alpha / L, so it covers with probability >= 1 - alpha.
  - "Negligible" for a term whose true |effect| >= min_effect needs some look's interval to miss the truth on one
    side: probability <= alpha / 2 per term.
The price is width: intervals and tests at alpha / L instead of alpha. Alpha-spending boundaries (Pocock,
O'Brien-Fleming through Lan-DeMets) spend less, but their levels come from the joint normal law of the successive
statistics at known information fractions. Here the noise is estimated on few degrees of freedom at the first
looks (7 at 2 seeds of a 2^3 grid), the terms are a family under Holm, and failed trials change the information a
look holds, so each case would need its own simulation argument; the union bound needs none, and the statement
fits in one sentence.

Determinism: a look is a pure function of the runs with seed < n, the fixed schedule, min_effect and alpha, so a
driver that recomputes the looks from its ledger (`replay`) repeats the decisions it made, provided a look's runs
stay the same (a failed trial of a wave already looked at is not rerun, or the recorded results/waves.csv is kept
for the looks already made).

At the budget, the decision gives the seeds per cell at which one look would settle a term of any true size with
80% power (`seeds_to_settle`, the noise at its 80% upper bound): the worst true size lies inside the band, too
small to resolve and too close to min_effect to be shown smaller, so this is more than resolving min_effect needs.

For the driver, in this order:
    schedule = looks(start, wave, max_seeds)      # once; keep it with the study so that a resume uses the same
    after each wave (every trial with seed < n finished):
        steps = replay(trials, factors, metric, schedule, min_effect, n_done=n)   # or look(...), then decide(...)
        write waves_table(steps) to results/waves.csv; print steps[-1][1].reason; stop if steps[-1][1].stop

Units: effects and min_effect are fractions of the metric (0.01 = 1 percentage point); seeds are per cell.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.defaults import PLANNING_CONFIDENCE, POWER
from analysis.doe.coding import term_name, terms
from analysis.results.load import completed
from analysis.results.schema import SEED, WAVES_COLUMNS
from analysis.stats.effects import effects_table
from analysis.stats.model_design import model_design
from analysis.stats.multiplicity import ALPHA, resolved
from analysis.stats.ols import fit_ols
from analysis.stats.power import MAX_SEEDS, factorial_se_at, factorial_seeds_needed, first_reaching, sd_upper_bound

RESOLVED, NEGLIGIBLE, UNSETTLED = "resolved", "negligible", "unsettled"
SETTLED, BUDGET, CONTINUE = "settled", "budget", "continue"  # decision codes
NOT_SETTLED = 0  # settled_at of a term still unsettled (looks count from 1)
TERM_COLUMNS = ("term", "estimate", "se", "df", "n_runs", "ci_low", "ci_high", "p_value", "p_holm", "resolved_now",
                "negligible_now", "status", "settled_at")


def looks(start_seeds: int, wave: int, max_seeds: int) -> list[int]:
    """The seeds per cell at which the rule looks: start, start + wave, ..., and max_seeds last."""
    if start_seeds < 1 or wave < 1 or max_seeds < start_seeds:
        raise ValueError(f"looks need 1 <= start seeds <= max seeds and a wave of >= 1 seed; got start "
                         f"{start_seeds}, wave {wave}, max {max_seeds}")
    return list(range(start_seeds, max_seeds, wave)) + [max_seeds]


def alpha_per_look(n_looks: int, alpha: float = ALPHA) -> float:
    """The level each look spends: alpha / L (Bonferroni over the looks)."""
    return alpha / n_looks


def verdicts(p_holm: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray, min_effect: float,
             alpha_look: float) -> tuple[np.ndarray, np.ndarray]:
    """(resolved, negligible) at one look, elementwise over arrays of any shape (terms, or terms x studies).

    p_holm: Holm over the terms of the look; ci_low, ci_high: its (1 - alpha_look) intervals. NaN: neither."""
    with np.errstate(invalid="ignore"):
        negligible = (np.asarray(ci_low) > -min_effect) & (np.asarray(ci_high) < min_effect)
    return resolved(p_holm, alpha_look), negligible


def advance(status: np.ndarray, settled_at: np.ndarray, resolved_now: np.ndarray, negligible_now: np.ndarray,
            look_number: int) -> tuple[np.ndarray, np.ndarray]:
    """The statuses after look `look_number` (1-based): a settled term keeps its status and look; an unsettled one
    takes this look's verdict (resolved before negligible). Elementwise, like `verdicts`."""
    status = np.asarray(status)
    open_ = status == UNSETTLED
    now = np.where(resolved_now, RESOLVED, np.where(negligible_now, NEGLIGIBLE, UNSETTLED))
    return (np.where(open_, now, status),
            np.where(open_ & (now != UNSETTLED), look_number, np.asarray(settled_at)))


def start_status(shape: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(status, settled_at) before the first look: everything unsettled."""
    return np.full(shape, UNSETTLED, dtype=f"<U{len(NEGLIGIBLE)}"), np.full(shape, NOT_SETTLED)


@dataclass(frozen=True)
class LookResult:
    """One look: every term's estimate, its (1 - alpha / L) interval, Holm p and status after this look."""
    look: int  # 1-based
    schedule: tuple[int, ...]  # the seeds per cell of every look, fixed in advance
    min_effect: float
    alpha: float  # the family-wise level, spent over the looks
    terms: pd.DataFrame  # TERM_COLUMNS, one row per model term
    residual_sd: float  # of the fit at this look (NaN without one)
    df: float  # its residual degrees of freedom
    n_cells: int  # cells with a run
    note: str = ""  # why the look has no fit, where it has none

    @property
    def n_seeds(self) -> int:
        return self.schedule[self.look - 1]

    @property
    def n_looks(self) -> int:
        return len(self.schedule)

    @property
    def max_seeds(self) -> int:
        return self.schedule[-1]

    @property
    def alpha_look(self) -> float:
        return alpha_per_look(self.n_looks, self.alpha)

    @property
    def unsettled(self) -> list[str]:
        return list(self.terms.loc[self.terms["status"] == UNSETTLED, "term"])


@dataclass(frozen=True)
class Decision:
    stop: bool
    code: str  # SETTLED, BUDGET or CONTINUE
    reason: str  # one or two sentences for the log and the report
    unsettled: list[str] = field(default_factory=list)
    seeds_still_needed: dict[str, float] = field(default_factory=dict)  # per unsettled term: `seeds_to_settle`
    seeds_for_min_effect: float = np.nan  # seeds per cell to resolve an effect of min_effect (`planning`)
    next_seeds: int | None = None  # the next look's seeds per cell when the study continues


def look(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str, schedule: Sequence[int],
         look_number: int, min_effect: float, previous: LookResult | None = None, alpha: float = ALPHA,
         model_terms: Sequence[Sequence[str]] | None = None) -> LookResult:
    """Look `look_number` (1-based) of `schedule`: fit the completed runs with seed < schedule[look_number - 1].

    runs: trials.csv rows (any status; later seeds are ignored); previous: the look before (None for the first).
    A look whose runs cannot be fitted (a cell without a completed run) settles nothing and says why in `note`."""
    schedule = tuple(int(n) for n in schedule)
    if not 1 <= look_number <= len(schedule):
        raise ValueError(f"look {look_number} is not one of the {len(schedule)} looks")
    if not (np.isfinite(min_effect) and min_effect > 0):
        raise ValueError(f"the smallest effect of interest must be > 0; got {min_effect!r}")
    if (previous is None) != (look_number == 1) or previous is not None and (
            previous.look != look_number - 1 or previous.schedule != schedule
            or previous.min_effect != min_effect or previous.alpha != alpha):
        raise ValueError(f"look {look_number} must follow look {look_number - 1} of the same schedule, "
                         "min_effect and alpha")
    n = schedule[look_number - 1]
    alpha_look = alpha_per_look(len(schedule), alpha)
    mine = completed(runs) if "status" in runs else runs
    mine = mine[pd.to_numeric(mine[SEED]) < n]
    names = [term_name(t) for t in (terms(factors) if model_terms is None else model_terms)]
    note, sd, df, n_cells = "", np.nan, 0.0, 0
    try:
        design = model_design(mine, factors, metric, model_terms)
        fit = fit_ols(design.X, design.y)
        table = effects_table(design, fit, confidence=1 - alpha_look, alpha=alpha_look)
        sd, df, n_cells = float(fit.sigma), float(fit.df), int((design.cell_counts > 0).sum())
    except ValueError as err:
        note = str(err)
        table = pd.DataFrame({"term": names, "n_runs": len(mine), "df": 0.0,
                              **{c: np.nan for c in ("estimate", "se", "ci_low", "ci_high", "p_value", "p_holm")}})
    table = table[["term", "estimate", "se", "df", "n_runs", "ci_low", "ci_high", "p_value", "p_holm"]].copy()
    resolved_now, negligible_now = verdicts(table["p_holm"].to_numpy(), table["ci_low"].to_numpy(),
                                            table["ci_high"].to_numpy(), min_effect, alpha_look)
    if previous is None:
        status, settled_at = start_status(len(table))
    else:
        status, settled_at = previous.terms["status"].to_numpy(), previous.terms["settled_at"].to_numpy()
    status, settled_at = advance(status, settled_at, resolved_now, negligible_now, look_number)
    table["resolved_now"], table["negligible_now"] = resolved_now, negligible_now
    table["status"], table["settled_at"] = status, settled_at.astype(int)
    return LookResult(look_number, schedule, float(min_effect), float(alpha), table.reset_index(drop=True),
                      sd, df, n_cells, note)


def settle_power(n: int, theta: np.ndarray, sd: float, n_cells: int, n_terms: int, min_effect: float,
                 alpha_look: float) -> np.ndarray:
    """The chance that one look at n seeds per cell settles a term whose true effect is theta, for noise sd taken
    as known. The estimate e ~ N(theta, se) settles it unless it falls in the gap between the band a negligible
    term's interval fits in (|e| < min_effect - half-width of the (1 - alpha_look) interval) and the resolution
    threshold (|e| > t(1 - alpha_look / 2 m) se: Bonferroni over the m terms, which Holm never does worse than)."""
    se, df = factorial_se_at(sd, n_cells, n_terms)(n)
    theta = np.abs(np.asarray(theta, dtype=float))
    if df < 1:
        return np.zeros_like(theta)
    resolve = stats.t.ppf(1 - alpha_look / n_terms / 2, df) * se
    small = max(min_effect - stats.t.ppf(1 - alpha_look / 2, df) * se, 0.0)
    if resolve <= small:
        return np.ones_like(theta)
    gap = (stats.norm.cdf((resolve - theta) / se) - stats.norm.cdf((small - theta) / se)
           + stats.norm.cdf((-small - theta) / se) - stats.norm.cdf((-resolve - theta) / se))
    return np.clip(1.0 - gap, 0.0, 1.0)


def seeds_to_settle(sd: float, n_cells: int, n_terms: int, min_effect: float, alpha_look: float,
                    power: float = POWER, max_seeds: int = MAX_SEEDS) -> float:
    """Seeds per cell at which one look settles a term of ANY true size with probability >= power (the worst true
    size lies between 0 and min_effect: too small to resolve, too close to min_effect to be shown smaller).
    inf beyond max_seeds; NaN without a noise estimate."""
    if not (np.isfinite(sd) and sd > 0):
        return np.nan
    grid = np.linspace(0.0, min_effect, 201)
    reaches = lambda n: settle_power(n, grid, sd, n_cells, n_terms, min_effect, alpha_look).min() >= power  # noqa
    return first_reaching(reaches, max_seeds)  # the chance grows with n for every true size


def planning(result: LookResult, power: float = POWER, confidence: float = PLANNING_CONFIDENCE
             ) -> tuple[float, float]:
    """(seeds per cell to settle a term of any size, seeds per cell to resolve an effect of min_effect), each with
    `power` at this rule's per-look level and the noise at its one-sided `confidence` upper bound; NaN without a
    noise estimate. A budget raised past max_seeds adds looks and lowers the per-look level: plan it anew."""
    upper = sd_upper_bound(result.residual_sd, result.df, confidence)
    if not (np.isfinite(upper) and upper > 0):
        return np.nan, np.nan
    m = len(result.terms)
    return (seeds_to_settle(upper, result.n_cells, m, result.min_effect, result.alpha_look, power),
            factorial_seeds_needed(result.min_effect, upper, result.n_cells, m, result.alpha_look, power))


def _seeds(n: float) -> str:
    return "unknown (no noise estimate)" if np.isnan(n) else f"more than {MAX_SEEDS:,}" if np.isinf(n) else f"{int(n)}"


def _names(names: Sequence[str]) -> str:
    return ", ".join(f"`{t}`" for t in names)


def decide(history: Sequence[LookResult], power: float = POWER) -> Decision:
    """Stop or go on after the last look of `history` (the looks so far, in order)."""
    if not history:
        raise ValueError("decide needs at least one look")
    if [r.look for r in history] != list(range(1, len(history) + 1)):
        raise ValueError(f"the looks must be 1, 2, ... in order; got {[r.look for r in history]}")
    last = history[-1]
    counts = last.terms["status"].value_counts()
    where = f"look {last.look} of {last.n_looks} ({last.n_seeds} seeds per cell)"
    unsettled = last.unsettled
    if not unsettled:
        return Decision(True, SETTLED, f"Every term settled by {where}: {counts.get(RESOLVED, 0)} resolved, "
                                       f"{counts.get(NEGLIGIBLE, 0)} negligible.")
    settle, resolve_min = planning(last, power)
    needed = {t: settle for t in unsettled}
    if last.look == last.n_looks:
        return Decision(True, BUDGET,
                        f"Budget spent at {where} with {len(unsettled)} of {len(last.terms)} term(s) unsettled: "
                        f"{_names(unsettled)}. At this rule's per-look level (α/{last.n_looks} = "
                        f"{last.alpha_look:.4f}, Holm over {len(last.terms)} terms) and the noise at its "
                        f"{PLANNING_CONFIDENCE:.0%} upper bound, {_seeds(settle)} seeds per cell would settle a term "
                        f"of any true size with {power:.0%} power ({_seeds(resolve_min)} would resolve an effect of "
                        f"{100 * last.min_effect:.2f} pp).", unsettled, needed, seeds_for_min_effect=resolve_min)
    following = last.schedule[last.look]
    return Decision(False, CONTINUE, f"{len(unsettled)} of {len(last.terms)} term(s) unsettled after {where}: "
                                     f"{_names(unsettled)}; next look at {following} seeds per cell.",
                    unsettled, needed, seeds_for_min_effect=resolve_min, next_seeds=following)


Step = tuple[LookResult, Decision]


def replay(runs: pd.DataFrame, factors: Mapping[str, Sequence], metric: str, schedule: Sequence[int],
           min_effect: float, n_done: int, alpha: float = ALPHA, power: float = POWER,
           model_terms: Sequence[Sequence[str]] | None = None) -> list[Step]:
    """Every look of `schedule` whose wave has finished (seeds per cell <= n_done), in order, each with its
    decision, up to the first that stops. A resumed driver calls this on its ledger to find where it stands."""
    steps: list[Step] = []
    previous = None
    for i, n in enumerate(schedule, start=1):
        if n > n_done:
            break
        previous = look(runs, factors, metric, schedule, i, min_effect, previous, alpha, model_terms)
        decision = decide([s[0] for s in steps] + [previous], power)
        steps.append((previous, decision))
        if decision.stop:
            break
    return steps


def waves_table(steps: Sequence[Step]) -> pd.DataFrame:
    """results/waves.csv: one row per (look, term), WAVES_COLUMNS (fractions; settled_at_look 0: unsettled)."""
    frames = []
    for result, decision in steps:
        t = result.terms
        frames.append(pd.DataFrame({
            "look": result.look, "n_seeds": result.n_seeds, "n_looks": result.n_looks,
            "max_seeds": result.max_seeds, "alpha_look": result.alpha_look, "min_effect": result.min_effect,
            "term": t["term"], "estimate": t["estimate"], "se": t["se"], "df": t["df"], "n_runs": t["n_runs"],
            "ci_low": t["ci_low"], "ci_high": t["ci_high"], "p_value": t["p_value"], "p_holm": t["p_holm"],
            "status": t["status"], "settled_at_look": t["settled_at"],
            "seeds_needed": [decision.seeds_still_needed.get(term, np.nan) for term in t["term"]],
            "decision": decision.code, "reason": decision.reason}))
    if not frames:
        return pd.DataFrame(columns=list(WAVES_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(WAVES_COLUMNS)]


def describe_rule(n_looks: int, max_seeds: int, min_effect: float, n_terms: int, alpha: float = ALPHA) -> str:
    """The rule in one paragraph, for the report and the driver's log."""
    a = alpha_per_look(n_looks, alpha)
    return (f"Stopping rule: the effects were analysed after each wave, at most {n_looks} looks up to {max_seeds} "
            f"seeds per cell, each look at α/{n_looks} = {a:.4f} (Bonferroni over the looks, fixed before the first "
            f"wave). At a look, a term is resolved when its Holm-adjusted p over the {n_terms} terms is below "
            f"{a:.4f}, and negligible when its {100 * (1 - a):.1f}% t interval lies inside "
            f"±{100 * min_effect:.2f} pp; a settled term stays settled. The study stops when every term is settled "
            f"or after the look at {max_seeds} seeds. Whenever it stops, the chance that any null term was called "
            f"resolved is at most {alpha:g}, and each reported interval covers its true effect with probability at "
            f"least {1 - alpha:.0%} (union bound over the looks).")
