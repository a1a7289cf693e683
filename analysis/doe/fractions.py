"""Regular two-level fractional factorial designs 2^(k-p): generators, defining relation, aliases, fold-overs.

Conventions follow `analysis.doe.coding`: factor i's first level is coded -1 and its second +1; a cell is a bit mask
(bit i set = factor i at its second level); a term is a tuple of factor names in factor order, named by joining
them with ':'. Internally a word or term is also a bit mask over the k factors (bit i = factor i is in it).

A regular fraction runs the base factors through their full 2^(k-p) grid and sets each of the p generated
factors to a signed product of base columns (D = ABC, or D = -ABC for the complementary half). The defining
relation I = W1 = W2 = ... lists the 2^p - 1 signed words whose column product is constant over the runs; an
effect E is then aliased with E*W (sign of W) for every word W, and a contrast estimates the signed sum of its
alias set. The resolution is the length of the shortest word. Pure numpy; the fit itself lives elsewhere.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from analysis.doe import coding
from analysis.doe.coding import mask_term, signs
from analysis.doe.generator_catalogue import LETTERS, MINIMUM_ABERRATION

FULL = math.inf  # the resolution of a full factorial: no word, nothing aliased
ROMAN = dict(enumerate("I II III IV V VI VII VIII IX X XI XII".split(), start=1))


class Word(NamedTuple):
    """A signed word of the defining relation: I = sign * (product of the columns of the factors in mask)."""
    mask: int
    sign: int


class Generator(NamedTuple):
    """Generated factor index `factor` takes sign * product of the base-factor columns in bit mask `word`."""
    factor: int
    word: int
    sign: int = 1


@dataclass(frozen=True)
class Fraction:
    """A regular 2^(k-p) fraction: k factor names in column order and p generators (none: the full factorial).

    The base factors are those not generated, in factor order; usually the first k - p."""
    factors: tuple[str, ...]
    generators: tuple[Generator, ...] = ()

    def __post_init__(self):
        names = self.factors
        if len(set(names)) != len(names) or any(not n or ":" in n for n in names):
            raise ValueError(f"factor names must be distinct, non-empty and free of ':'; got {list(names)}")
        generated = [g.factor for g in self.generators]
        if len(set(generated)) != len(generated) or any(not 0 <= f < len(names) for f in generated):
            raise ValueError(f"each generator must set a different one of the {len(names)} factors")
        base_mask = sum(1 << i for i in self.base)
        for g in self.generators:
            if g.word == 0 or g.word & ~base_mask or g.sign not in (1, -1):
                raise ValueError(f"generator of {names[g.factor]!r} must be a +-product of base factors")

    @property
    def k(self) -> int:
        return len(self.factors)

    @property
    def p(self) -> int:
        return len(self.generators)

    @property
    def runs(self) -> int:
        return 2 ** (self.k - self.p)

    @property
    def fraction(self) -> str:
        """'1/8' for p = 3; '1' for the full factorial."""
        return f"1/{2 ** self.p}" if self.p else "1"

    @property
    def base(self) -> tuple[int, ...]:
        generated = {g.factor for g in self.generators}
        return tuple(i for i in range(self.k) if i not in generated)

    def __str__(self) -> str:
        if not self.generators:
            return f"2^{self.k} full factorial"
        label = f"2^({self.k}-{self.p}) resolution {roman(resolution(self))}"
        gens = ", ".join(f"{self.factors[g.factor]} = {word_name(Word(g.word, g.sign), self.factors)}"
                         for g in self.generators)
        return f"{label}: {gens}"


class AliasChain(NamedTuple):
    """An estimable contrast: its representative term and the signed terms aliased with it (sign, term)."""
    term: tuple[str, ...]
    aliases: tuple[tuple[int, tuple[str, ...]], ...]

    def __str__(self) -> str:  # textbook form: "se = shortcut:activation:depth = -a:b"
        return " = ".join([":".join(self.term)] + [("-" if s < 0 else "") + ":".join(t) for s, t in self.aliases])


def roman(res: float) -> str:
    """'IV' for 4; 'full' for a full factorial (FULL)."""
    return "full" if res == FULL else ROMAN.get(int(res), str(int(res)))


def word_name(word: Word, factors: Sequence[str], letters: bool = False) -> str:
    """'-shortcut:se' (names joined by ':') or, with letters=True, '-AB' (table letters, I skipped)."""
    members = [i for i in range(len(factors)) if word.mask >> i & 1]
    body = "".join(LETTERS[i] for i in members) if letters else ":".join(factors[i] for i in members)
    return ("-" if word.sign < 0 else "") + body


def _term_key(mask: int) -> tuple[int, tuple[int, ...]]:
    """Lowest order first, then factor order (as analysis.doe.coding.terms lists them)."""
    return mask.bit_count(), tuple(i for i in range(mask.bit_length()) if mask >> i & 1)


# --- building designs -------------------------------------------------------------------------------------

def fraction_from_letters(factors: Sequence[str], generators: str) -> Fraction:
    """Fraction from table notation, e.g. 'E=ABC F=BCD G=-ACD' (letter j = factor j, I skipped)."""
    factors = tuple(factors)
    one = r"([A-Z])\s*=\s*([+-]?)\s*([A-Z]+)"
    if not re.fullmatch(rf"(?:\s*{one}[\s,;]*)*", generators):
        raise ValueError(f"generators {generators!r} are not of the form 'E=ABC F=-BCD' (capital letters)")
    found = re.findall(one, generators)
    letter = {c: i for i, c in enumerate(LETTERS[:len(factors)])}
    try:
        gens = tuple(Generator(letter[f], sum(1 << letter[c] for c in w), -1 if s == "-" else 1)
                     for f, s, w in found)
    except KeyError as missing:
        raise ValueError(f"generators {generators!r} name letter {missing} beyond the {len(factors)} factors")
    return Fraction(factors, gens)


def parse_fraction(text: str) -> int:
    """p of a fraction written '1/8' or '1/2^3' (p = 3); '1' or '1/1' is the full factorial (p = 0)."""
    match = re.fullmatch(r"\s*1\s*(?:/\s*(?:(\d+)|2\s*\^\s*(\d+)))?\s*", str(text))
    if not match:
        raise ValueError(f"fraction {text!r} is not of the form 1/2, 1/4, 1/8, ... (or 1/2^p)")
    if match.group(2) is not None:
        return int(match.group(2))
    denominator = int(match.group(1) or 1)
    if denominator < 1 or denominator & (denominator - 1):
        raise ValueError(f"fraction {text!r}: a regular two-level fraction is 1/2^p (1/2, 1/4, 1/8, ...)")
    return denominator.bit_length() - 1


def parse_resolution(value: str | int) -> int:
    """4 from 'IV', 'iv', '4' or 4."""
    text = str(value).strip().upper()
    numbers = {v: n for n, v in ROMAN.items()}
    if text in numbers:
        return numbers[text]
    if text.isdigit():
        return int(text)
    raise ValueError(f"resolution {value!r} is not a Roman numeral (III, IV, V, ...) or a number")


def _smallest_usable(k: int) -> str:
    p = k - k.bit_length()  # largest p with 2^(k-p) >= k + 1 runs: room for the mean and k main effects
    if p < 1:
        return f"no fraction of {k} factors has resolution III or more; run the full factorial"
    if (k, p) not in MINIMUM_ABERRATION:
        return "the table covers 3 to 11 factors"
    return f"the smallest fraction of {k} factors with resolution III or more is 1/{2 ** p} ({2 ** (k - p)} runs)"


def choose_design(factors: Sequence[str], p: int | None = None, resolution: str | int | None = None) -> Fraction:
    """The tabulated minimum-aberration 2^(k-p) fraction for these factor names (base = the first k - p).

    Give exactly one of p (1/2^p of the runs; parse '--fraction 1/8' with `parse_fraction`) or resolution
    ('IV' or 4: the smallest tabulated fraction with at least that resolution, the full factorial if none).
    ValueError (one line) when the fraction would have resolution below III (saying which), when p is out of
    range or not tabulated, or when the resolution asked for is below III."""
    factors = tuple(factors)
    k = len(factors)
    if (p is None) == (resolution is None):
        raise ValueError("give exactly one of a fraction (p) or a resolution")
    if resolution is not None:
        wanted = parse_resolution(resolution)
        if wanted < 3:
            raise ValueError(f"resolution {roman(wanted)} aliases main effects with each other; ask for III or more")
        if k > max(kk for kk, _ in MINIMUM_ABERRATION):
            raise ValueError(f"no tabulated fractions of {k} factors (the table covers 3 to 11 factors)")
        fitting = [pp for (kk, pp), (_, res) in MINIMUM_ABERRATION.items() if kk == k and res >= wanted]
        p = max(fitting, default=0)
    if p < 0:
        raise ValueError(f"fraction 1/2^{p} is not a fraction: p must be 0 (full factorial) or more")
    if p == 0:
        return Fraction(factors)
    if 2 ** (k - p) < k + 1:  # k main effects and the mean need k + 1 distinct runs
        runs = {0: "less than one run", 1: "1 run"}.get(int(2 ** (k - p)), f"{2 ** (k - p)} runs")
        best = 1 if p >= k else 2  # one run: every factor constant; else some columns repeat
        raise ValueError(f"a 1/{2 ** p} fraction of {k} factors has {runs}: resolution {roman(best)} at best "
                         f"({'a factor would be constant' if best == 1 else 'main effects aliased with each other'}"
                         f"); {_smallest_usable(k)}")
    if (k, p) not in MINIMUM_ABERRATION:
        raise ValueError(f"no tabulated 1/{2 ** p} fraction of {k} factors (the table covers 3 to 11 factors)")
    return fraction_from_letters(factors, MINIMUM_ABERRATION[(k, p)][0])


# --- the algebra ------------------------------------------------------------------------------------------

def defining_relation(design: Fraction) -> list[Word]:
    """The 2^p - 1 signed words, in Yates order of the generator products (W1, W2, W1W2, W3, ...)."""
    words = [Word(0, 1)]
    for g in design.generators:
        own = Word(g.word | 1 << g.factor, g.sign)
        words += [Word(w.mask ^ own.mask, w.sign * own.sign) for w in words]
    return words[1:]


def format_relation(design: Fraction, letters: bool = True) -> str:
    """'I = ABCE = BCDF = ...' (letters) or with factor names joined by ':'; 'I' alone for a full factorial."""
    return " = ".join(["I"] + [word_name(w, design.factors, letters) for w in defining_relation(design)])


def word_length_pattern(design: Fraction) -> tuple[int, ...]:
    """(A_0, A_1, ..., A_k): A_j words of length j (A_0 = 0). Lexicographically smaller = less aberration."""
    counts = [0] * (design.k + 1)
    for w in defining_relation(design):
        counts[w.mask.bit_count()] += 1
    return tuple(counts)


def resolution(design: Fraction) -> float:
    """Length of the shortest defining word (an int), or FULL (infinity) for a full factorial."""
    return min((w.mask.bit_count() for w in defining_relation(design)), default=FULL)


def design_cells(design: Fraction) -> np.ndarray:
    """(2^(k-p),) int bit masks of the runs: the base factors in Yates order (first base factor fastest), each
    generated factor at the level its signed product of base columns gives."""
    run = np.arange(design.runs, dtype=np.int64)
    cells = np.zeros_like(run)
    for j, factor in enumerate(design.base):
        cells |= ((run >> j) & 1) << factor
    for g in design.generators:
        cells |= (g.sign * signs(cells, [g.word])[:, 0] > 0).astype(np.int64) << g.factor
    return cells


def term_columns(design: Fraction, terms: Sequence[Sequence[str]]) -> np.ndarray:
    """(runs, len(terms)) +-1 matrix: each term's product of codes over the runs of `design_cells`."""
    return coding.term_columns(design_cells(design), terms, design.factors)


def _alias_sets(design: Fraction, max_order: int) -> list[tuple[int, list[tuple[int, int]]]]:
    """(representative mask, [(sign, alias mask) of order <= max_order]) per alias set, representatives in
    term order; sets holding a defining word (aliased with the mean) are left out."""
    group = [Word(0, 1)] + defining_relation(design)
    in_group = {w.mask for w in group}
    low_order = sorted((m for m in range(1, 2 ** design.k) if m.bit_count() <= max_order), key=_term_key)
    seen, sets = set(), []
    for mask in low_order:  # the first member met is the lowest-order one: the representative
        if mask in seen or mask in in_group:
            continue
        members = sorted(((w.sign, mask ^ w.mask) for w in group[1:] if (mask ^ w.mask).bit_count() <= max_order),
                         key=lambda sm: _term_key(sm[1]))
        seen.update(m for _, m in members)
        sets.append((mask, members))
    return sets


def alias_chains(design: Fraction, max_order: int = 3) -> list[AliasChain]:
    """One chain per alias set whose lowest-order term has order <= max_order, listing its aliases up to that
    order with their signs; `str(chain)` reads 'se = shortcut:activation:depth'."""
    return [AliasChain(mask_term(rep, design.factors), tuple((s, mask_term(m, design.factors)) for s, m in members))
            for rep, members in _alias_sets(design, max_order)]


def estimable_terms(design: Fraction, max_order: int = 2) -> list[tuple[str, ...]]:
    """Model terms to fit if interactions above `max_order` are zero: one representative per alias set. Its
    estimate is the contrast of its column, i.e. the signed sum of the chain of `alias_chains(design, max_order)`;
    each term is its own estimate only when that chain has no aliases."""
    return [chain.term for chain in alias_chains(design, max_order)]


def clear_effects(design: Fraction) -> list[tuple[str, ...]]:
    """Main effects and two-factor interactions aliased with no other main effect or two-factor interaction."""
    return [chain.term for chain in alias_chains(design, 2) if not chain.aliases]


def describe(design: Fraction) -> str:
    """One sentence on what the fraction separates and what it cannot."""
    res = resolution(design)
    head = f"2^({design.k}-{design.p}) design, {design.runs} runs"
    if res == FULL:
        return f"Full factorial, {design.runs} runs: every main effect and interaction is estimated on its own."
    what = {
        1: "some factor is constant, so its effect cannot be estimated at all",
        2: "some main effects are aliased with each other",
        3: "main effects are clear of each other but aliased with two-factor interactions",
        4: "main effects are clear of each other and of two-factor interactions; two-factor interactions are "
           "aliased with each other",
        5: "main effects and two-factor interactions are clear of each other; two-factor interactions are aliased "
           "with three-factor interactions",
    }.get(res, f"main effects and two-factor interactions are clear of each other and of three-factor "
               f"interactions; the lowest-order aliases are main effects with {res - 1}-factor and two-factor "
               f"interactions with {res - 2}-factor interactions")
    return f"Resolution {roman(res)} ({head}, a {design.fraction} fraction): {what}."


# --- fold-overs and unions of fractions -------------------------------------------------------------------

def fold_over(design: Fraction, factor: str | None = None) -> Fraction:
    """The complementary fraction: every factor's levels swapped (full fold-over), or only `factor`'s.

    Its cells are those of `design` with all bits (or the factor's bit) flipped; a word changes sign when it
    holds an odd number of the swapped factors, so each generator's sign is adjusted accordingly."""
    if factor is not None and factor not in design.factors:
        raise ValueError(f"cannot fold over {factor!r}: not one of the factors {list(design.factors)}")
    swapped = (1 << design.k) - 1 if factor is None else 1 << design.factors.index(factor)
    gens = tuple(Generator(g.factor, g.word,
                           g.sign * (-1) ** ((g.word | 1 << g.factor) & swapped).bit_count())
                 for g in design.generators)
    return Fraction(design.factors, gens)


def relation_from_cells(cells: Sequence[int], k: int) -> list[Word]:
    """Signed words whose column product is constant over the given (distinct) cells of k factors, in mask order.

    For the union of several fractions these are the words every fraction shares with the same sign."""
    cells = np.unique(np.asarray(cells, dtype=np.int64))
    if not len(cells) or cells.min() < 0 or cells.max() >= 2 ** k:
        raise ValueError(f"cells must be a non-empty set of bit masks of {k} factors (0 to {2 ** k - 1})")
    masks = np.arange(1, 2 ** k, dtype=np.int64)
    columns = signs(cells, masks)
    constant = np.all(columns == columns[:1], axis=0)
    return [Word(int(m), int(columns[0, j])) for j, m in enumerate(masks) if constant[j]]


def fraction_from_cells(factors: Sequence[str], cells: Sequence[int]) -> Fraction:
    """The regular fraction whose runs are exactly `cells` (bit masks; duplicates ignored), e.g. the union of a
    fraction and its fold-over. Base factors: the earliest factors free of any defining word.

    ValueError (one line) when the cells are not a regular fraction (not all runs of one defining relation)."""
    factors = tuple(factors)
    k = len(factors)
    distinct = np.unique(np.asarray(cells, dtype=np.int64))
    words = relation_from_cells(distinct, k)
    if len(distinct) * (len(words) + 1) != 2 ** k:
        raise ValueError(f"{len(distinct)} cells of {k} factors are not a regular fraction: their {len(words)} "
                         f"constant words define {2 ** k // (len(words) + 1)} runs")
    base = 0
    for i in range(k):  # greedy basis: add a factor unless some word lies inside base + factor
        if not any(w.mask & ~(base | 1 << i) == 0 for w in words):
            base |= 1 << i
    gens = []
    for i in range(k):
        if not base >> i & 1:  # generated: the one word made of this factor and base factors
            own = next(w for w in words if w.mask >> i & 1 and w.mask & ~(base | 1 << i) == 0)
            gens.append(Generator(i, own.mask ^ 1 << i, own.sign))
    return Fraction(factors, tuple(gens))


def combine(*designs: Fraction) -> Fraction:
    """The regular fraction run by doing all `designs` (same factors), e.g. combine(d, fold_over(d))."""
    factors = designs[0].factors
    if any(d.factors != factors for d in designs):
        raise ValueError("fractions to combine must have the same factors in the same order")
    return fraction_from_cells(factors, np.concatenate([design_cells(d) for d in designs]))

