"""Regular fractional factorials (analysis/doe/fractions.py): textbook relations and aliases, every table entry's
resolution and minimum aberration by exhaustive search, fold-overs, refusals, and a simulated fit."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from analysis.doe.fractions import (FULL, alias_chains, choose_design, clear_effects, combine, defining_relation,
                                 describe, design_cells, estimable_terms, fold_over, format_relation,
                                 fraction_from_cells, fraction_from_letters, parse_fraction, parse_resolution,
                                 relation_from_cells, resolution, term_columns, word_length_pattern)
from analysis.doe.generator_catalogue import LETTERS, MINIMUM_ABERRATION

ABLATION = ("shortcut", "se", "activation", "depth", "zero_init_residual", "resnet_d", "drop_path")
TABLE = sorted(MINIMUM_ABERRATION)


def letters(k: int) -> list[str]:
    return list(LETTERS[:k])


def chains(design, max_order=3) -> list[str]:
    return [str(c) for c in alias_chains(design, max_order)]


# --- textbook cases ---------------------------------------------------------------------------------------

def test_textbook_generators_are_the_tabulated_ones():
    # Box, Hunter & Hunter / NIST e-Handbook Table 3.17 generators quoted in the study's brief
    assert MINIMUM_ABERRATION[(4, 1)][0] == "D=ABC"
    assert MINIMUM_ABERRATION[(5, 1)][0] == "E=ABCD"
    assert MINIMUM_ABERRATION[(6, 1)][0] == "F=ABCDE"
    assert MINIMUM_ABERRATION[(7, 3)][0] == "E=ABC F=BCD G=ACD"
    assert MINIMUM_ABERRATION[(7, 4)][0] == "D=AB E=AC F=BC G=ABC"
    assert MINIMUM_ABERRATION[(8, 4)][0] == "E=BCD F=ACD G=ABC H=ABD"


def test_seven_factor_eighth_fraction_defining_relation():
    design = choose_design(letters(7), p=3)
    assert format_relation(design) == "I = ABCE = BCDF = ADEF = ACDG = BDEG = ABFG = CEFG"
    assert word_length_pattern(design) == (0, 0, 0, 0, 7, 0, 0, 0)
    assert resolution(design) == 4 and design.runs == 16 and design.fraction == "1/8"
    listed = chains(design, 2)
    assert listed[:7] == list("ABCDEFG")  # main effects clear of every other main effect and 2fi
    assert "A:B = C:E = F:G" in listed and "A:G = B:F = C:D" in listed
    assert len(estimable_terms(design, 2)) == 14  # 7 mains + 7 chains of three 2fis = 21 2fis
    assert chains(design, 3)[0] == "A = B:C:E = B:F:G = C:D:G = D:E:F"


def test_half_fractions_of_three_and_four_factors():
    assert chains(choose_design(letters(3), p=1)) == ["A = B:C", "B = A:C", "C = A:B"]
    assert chains(choose_design(letters(4), p=1)) == ["A = B:C:D", "B = A:C:D", "C = A:B:D", "D = A:B:C",
                                                      "A:B = C:D", "A:C = B:D", "A:D = B:C"]
    assert format_relation(choose_design(letters(4), p=1)) == "I = ABCD"


def test_alias_chains_use_factor_names_signs_and_lowest_order_representative():
    design = fraction_from_letters(["a", "b", "c"], "C=-AB")  # the complementary half: I = -ABC
    assert format_relation(design, letters=False) == "I = -a:b:c"
    assert chains(design) == ["a = -b:c", "b = -a:c", "c = -a:b"]
    ablation = choose_design(ABLATION, p=4)
    se_chain = "se = shortcut:depth = activation:resnet_d = zero_init_residual:drop_path"
    assert str(alias_chains(ablation, 2)[1]) == se_chain
    assert str(ablation).startswith("2^(7-4) resolution III: depth = shortcut:se, ")


def test_alias_sets_partition_every_effect():
    for k, p in [(5, 2), (7, 3), (8, 4)]:
        design = choose_design(letters(k), p=p)
        everything = alias_chains(design, k)
        assert len(everything) == design.runs - 1
        members = [c.term for c in everything] + [t for c in everything for _, t in c.aliases]
        members += [tuple(LETTERS[i] for i in range(k) if w.mask >> i & 1) for w in defining_relation(design)]
        assert sorted(members) == sorted(t for n in range(1, k + 1) for t in itertools.combinations(letters(k), n))


# --- every table entry ------------------------------------------------------------------------------------

def minimum_word_length_pattern(k: int, p: int, shortest_base_word: int) -> tuple[int, ...]:
    """Lexicographically smallest (A_0 .. A_k) over all generator sets with base = the first k - p factors.

    Every regular fraction is, after relabelling its factors, one whose first k - p factors are a basis, and
    relabelling keeps the word-length pattern; so this is the minimum over all 2^(k-p) designs. Generators with a
    base word shorter than R - 1 give a word shorter than R, so when some design has resolution R those cannot
    win and are skipped (shortest_base_word = R - 1); the same base word twice gives a word of length 2."""
    b = k - p
    candidates = np.array([m for m in range(1, 2 ** b) if m.bit_count() >= shortest_base_word], dtype=np.int64)
    subsets = np.arange(1, 2 ** p)
    combos = np.array(list(itertools.combinations(range(len(candidates)), p)), dtype=np.int64)
    chosen = candidates[combos]
    words = np.zeros((len(chosen), len(subsets)), dtype=np.int64)
    for j in range(p):
        words ^= np.where((subsets >> j) & 1, chosen[:, [j]], 0)
    lengths = np.bitwise_count(words) + np.bitwise_count(subsets)[None, :]
    counts = np.stack([(lengths == n).sum(1) for n in range(k + 1)], axis=1)
    best = np.lexsort(counts.T[::-1])[0]
    return tuple(int(c) for c in counts[best])


@pytest.mark.parametrize("k,p", TABLE)
def test_table_entry_resolution_and_minimum_aberration(k, p):
    generators, listed = MINIMUM_ABERRATION[(k, p)]
    design = choose_design(letters(k), p=p)
    assert design.base == tuple(range(k - p)) and design.p == p
    assert resolution(design) == listed
    assert word_length_pattern(design) == minimum_word_length_pattern(k, p, listed - 1)


def test_table_covers_every_fraction_with_resolution_three_or_more():
    wanted = {(k, p) for k in range(3, 12) for p in range(1, k) if 2 ** (k - p) >= k + 1}
    assert set(MINIMUM_ABERRATION) == wanted


@pytest.mark.parametrize("k,p", TABLE)
def test_cells_are_balanced_orthogonal_and_satisfy_the_relation(k, p):
    design = choose_design(letters(k), p=p)
    cells = design_cells(design)
    assert len(set(cells.tolist())) == design.runs == len(cells)
    mains = term_columns(design, [(f,) for f in design.factors])
    assert (mains.sum(axis=0) == 0).all()
    assert (mains.T @ mains == design.runs * np.eye(k)).all()
    assert sorted(relation_from_cells(cells, k)) == sorted(defining_relation(design))
    assert fraction_from_cells(design.factors, cells) == design


# --- fold-overs and unions --------------------------------------------------------------------------------

def test_full_fold_over_of_resolution_three_gives_resolution_four():
    design = choose_design(ABLATION, p=4)
    mirror = fold_over(design)
    everything = (1 << 7) - 1
    assert sorted(design_cells(mirror).tolist()) == sorted((design_cells(design) ^ everything).tolist())
    both = combine(design, mirror)
    assert both.runs == 16 and resolution(both) == 4
    shared = set(defining_relation(design)) & set(defining_relation(mirror))
    assert set(defining_relation(both)) == shared
    assert shared == {w for w in defining_relation(design) if w.mask.bit_count() % 2 == 0}
    assert clear_effects(both) == [(f,) for f in ABLATION]  # main effects freed from the 2fis


@pytest.mark.parametrize("factor", ["shortcut", "drop_path"])  # a base factor and a generated one
def test_single_factor_fold_over_frees_that_factor_and_its_two_factor_interactions(factor):
    design = choose_design(ABLATION, p=4)
    index = ABLATION.index(factor)
    mirror = fold_over(design, factor)
    assert sorted(design_cells(mirror).tolist()) == sorted((design_cells(design) ^ 1 << index).tolist())
    both = combine(design, mirror)
    assert set(defining_relation(both)) == {w for w in defining_relation(design) if not w.mask >> index & 1}
    clear = clear_effects(both)
    assert (factor,) in clear
    assert all(tuple(sorted((factor, other), key=ABLATION.index)) in clear for other in ABLATION if other != factor)
    assert resolution(both) == 3  # the other main effects stay aliased with 2fis


def test_cells_that_are_not_a_regular_fraction_are_refused():
    with pytest.raises(ValueError, match="not a regular fraction"):
        fraction_from_cells(["a", "b", "c"], [0, 1, 2])
    assert fraction_from_cells(["a", "b"], [0, 1, 2, 3]).p == 0  # the full factorial


# --- choosing and refusing --------------------------------------------------------------------------------

def test_parse_fraction():
    assert [parse_fraction(t) for t in ["1/2", "1/8", " 1/16 ", "1/2^3", "1"]] == [1, 3, 4, 3, 0]
    for bad in ["1/3", "half", "2/8", "1/0", "", "1/8.0"]:
        with pytest.raises(ValueError) as refused:
            parse_fraction(bad)
        assert "\n" not in str(refused.value)


def test_choose_by_resolution_takes_the_smallest_fraction_reaching_it():
    assert choose_design(ABLATION, resolution="III").p == 4
    assert choose_design(ABLATION, resolution="IV").p == 3
    assert choose_design(ABLATION, resolution=5).p == 1  # 2^(7-2) is only IV; 2^(7-1) is VII
    assert choose_design(letters(3), resolution="iv").p == 0  # only the full factorial of 3 factors
    assert resolution(choose_design(letters(3), resolution="IV")) == FULL
    assert parse_resolution("VI") == 6


@pytest.mark.parametrize("k,p,kwargs,says", [
    (4, None, {"p": 4}, "resolution I at best"),
    (4, None, {"p": parse_fraction("1/8")}, "resolution II at best"),
    (7, None, {"p": 5}, "resolution II at best"),
    (4, None, {"p": -1}, "p must be"),
    (4, None, {"resolution": "II"}, "ask for III"),
    (4, None, {"resolution": "fourish"}, "not a Roman numeral"),
    (4, None, {}, "exactly one"),
    (4, None, {"p": 1, "resolution": "IV"}, "exactly one"),
    (12, None, {"p": 4}, "table covers 3 to 11"),
])
def test_refusals_are_one_line(k, p, kwargs, says):
    with pytest.raises(ValueError, match=says) as refused:
        choose_design(letters(k), **kwargs)
    assert "\n" not in str(refused.value)
    if "at best" in says:
        assert "smallest fraction of" in str(refused.value)


def test_descriptions():
    assert describe(choose_design(ABLATION, p=4)).startswith("Resolution III (2^(7-4) design, 8 runs, a 1/16")
    assert "two-factor interactions are aliased with each other" in describe(choose_design(ABLATION, p=3))
    assert "aliased with three-factor" in describe(choose_design(letters(5), p=1))
    assert "4-factor interactions" in describe(choose_design(letters(6), p=1))
    assert describe(choose_design(letters(3), resolution="V")).startswith("Full factorial, 8 runs")


# --- a simulated study ------------------------------------------------------------------------------------

@pytest.mark.parametrize("k,p,n_seeds", [(7, 3, 3), (6, 1, 2)])
def test_least_squares_on_estimable_terms_are_contrasts_and_cover_the_alias_sums(k, p, n_seeds):
    design = choose_design(ABLATION[:k], p=p)
    rng = np.random.default_rng(20240 + k)
    # true model: every main effect and two-factor interaction (nothing higher, so the chains up to order 2
    # are the whole story); a contrast estimates the signed sum of its chain
    truth_terms = [t for n in (1, 2) for t in itertools.combinations(design.factors, n)]
    true_effect = dict(zip(truth_terms, rng.normal(0, 1, len(truth_terms))))
    chain_list = alias_chains(design, 2)
    target = np.array([true_effect[c.term] + sum(s * true_effect[t] for s, t in c.aliases) for c in chain_list])
    if (k, p) == (6, 1):
        assert all(not c.aliases for c in chain_list)  # resolution VI: every main effect and 2fi is clear

    n_sims, runs = 1000, design.runs
    mean_y = 10 + term_columns(design, truth_terms) @ np.array([true_effect[t] for t in truth_terms]) / 2
    seed_block = rng.normal(0, 1.0, (1, n_seeds, n_sims))
    y = mean_y[:, None, None] + seed_block + rng.normal(0, 0.4, (runs, n_seeds, n_sims))
    y = y.reshape(runs * n_seeds, n_sims)  # rows run-major: run r, seed s -> r * n_seeds + s

    columns = term_columns(design, estimable_terms(design, 2))
    x = np.column_stack([np.ones(runs * n_seeds), np.repeat(columns, n_seeds, axis=0),
                         np.tile(np.eye(n_seeds)[:, 1:], (runs, 1))])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    estimate = 2 * coef[1:1 + columns.shape[1]]
    signs = np.repeat(columns, n_seeds, axis=0)
    contrast = np.stack([y[s > 0].mean(0) - y[s < 0].mean(0) for s in signs.T])
    np.testing.assert_allclose(estimate, contrast, rtol=0, atol=1e-12)

    df = x.shape[0] - x.shape[1]
    s2 = ((y - x @ coef) ** 2).sum(0) / df
    se = 2 * np.sqrt(np.diag(np.linalg.inv(x.T @ x))[1:1 + columns.shape[1], None] * s2[None, :])
    covered = np.abs(estimate - target[:, None]) <= stats.t.ppf(0.975, df) * se
    assert 0.94 <= covered.mean() <= 0.96
    assert ((covered.mean(1) >= 0.93) & (covered.mean(1) <= 0.97)).all()
