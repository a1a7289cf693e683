"""Print the measured error rates of the dispersion effects (analysis/stats/dispersion.py) at 3, 5 and 10 seeds.

    PYTHONPATH=$PWD python benchmarks/dispersion_error_rates.py [--studies 6000]

Same simulation as tests/test_dispersion_error_rates.py (location effects 20 pp / 5 pp, noise 2 pp, seed block
1 pp). Rows: fwer_null (no dispersion effect), coverage_min / coverage_max over the 7 terms and power (shortcut)
with a true sd ratio of 1/4 for the shortcut, fwer_one_failure (one run of one cell loses 30 pp), and with 20%
of runs failing (losing 30 pp) in the plain cells (shortcut's power, family-wise error of the other six terms)
or in every cell (family-wise error of all seven: no cell is truly noisier).
"""
from __future__ import annotations

import argparse
import numpy as np

from tests import test_dispersion_error_rates as sim


def rates(n_seeds: int, rng: np.random.Generator) -> dict[str, float]:
    out = {}
    _, res = sim.analysed(sim.studies(n_seeds, sim.EQUAL, rng))
    out["fwer_null"] = res.any(axis=1).mean()
    r, res = sim.analysed(sim.studies(n_seeds, sim.PLAIN_FOUR_TIMES, rng))
    truth = np.ones(7)
    truth[0] = 1 / 4
    coverage = sim.covered(r, truth).mean(axis=0)
    out.update(coverage_min=coverage.min(), coverage_max=coverage.max(), power_4x=res[:, 0].mean())
    y = sim.studies(n_seeds, sim.EQUAL, rng)
    y[np.arange(len(y)), rng.integers(0, 8, len(y)), rng.integers(0, n_seeds, len(y))] -= 0.30
    out["fwer_one_failure"] = sim.analysed(y)[1].any(axis=1).mean()
    _, res = sim.analysed(sim.studies(n_seeds, sim.EQUAL, rng, failing=sim.PLAIN))
    out.update(plain_failures_power=res[:, 0].mean(), plain_failures_fwer_others=res[:, 1:].any(axis=1).mean())
    _, res = sim.analysed(sim.studies(n_seeds, sim.EQUAL, rng, failing=np.ones(8, bool)))
    out["all_failures_fwer"] = res.any(axis=1).mean()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=sim.STUDIES)
    sim.STUDIES = parser.parse_args().studies
    rng = np.random.default_rng(2026)
    table = {n: rates(n, rng) for n in sim.SEEDS}
    print(f"{'':28}" + "".join(f"{n:>4} seeds" for n in table))
    for key in table[sim.SEEDS[0]]:
        print(f"{key:28}" + "".join(f"{table[n][key]:>10.3f}" for n in table))


if __name__ == "__main__":
    main()
