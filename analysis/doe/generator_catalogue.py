"""Minimum-aberration generators of regular two-level fractional factorial designs 2^(k-p), k = 3 .. 11.

Letters name factors in column order, skipping I (the identity of the defining relation), as the tables do:
A B C D E F G H J K L. The first k - p letters are the base factors (a full 2^(k-p) grid); each generator says
which product of base columns a generated factor takes. Every sign is +: the principal fraction.

Sources (cited, not fetched; every entry is re-checked by computation in tests/test_fractional.py):
- the 2^(k-p) designs of at most 128 runs are those of the NIST/SEMATECH e-Handbook of Statistical Methods,
  section 5.3.3.4.7, Table 3.17 "Summary of Useful Fractional Factorial Designs", which follows Box, Hunter &
  Hunter, Statistics for Experimenters, 2nd ed. (2005), Table 6.22; the same word-length patterns are the minimum
  aberration ones of Wu & Hamada, Experiments (2nd ed., 2009), appendix tables 5A (Chen, Sun & Wu 1993).
- half fractions 2^(k-1) take the single word of all k letters (resolution k), the textbook choice.
- 2^(10-2), 2^(11-2) and 2^(11-3) (256 to 512 runs) lie outside those tables; their generators are the first
  minimum-aberration design found by the exhaustive search over generator sets in the tests (resolution VI, VII,
  VI), so their word-length patterns are minimum aberration by that search rather than by citation.
"""
from __future__ import annotations

LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # no I: it names the identity in "I = ABCD"

# (k, p) -> (generators in letter form, resolution they give)
MINIMUM_ABERRATION: dict[tuple[int, int], tuple[str, int]] = {
    (3, 1): ("C=AB", 3),
    (4, 1): ("D=ABC", 4),
    (5, 1): ("E=ABCD", 5),
    (5, 2): ("D=AB E=AC", 3),
    (6, 1): ("F=ABCDE", 6),
    (6, 2): ("E=ABC F=BCD", 4),
    (6, 3): ("D=AB E=AC F=BC", 3),
    (7, 1): ("G=ABCDEF", 7),
    (7, 2): ("F=ABCD G=ABDE", 4),
    (7, 3): ("E=ABC F=BCD G=ACD", 4),
    (7, 4): ("D=AB E=AC F=BC G=ABC", 3),
    (8, 1): ("H=ABCDEFG", 8),
    (8, 2): ("G=ABCD H=ABEF", 5),
    (8, 3): ("F=ABC G=ABD H=BCDE", 4),
    (8, 4): ("E=BCD F=ACD G=ABC H=ABD", 4),
    (9, 1): ("J=ABCDEFGH", 9),
    (9, 2): ("H=ACDFG J=BCEFG", 6),
    (9, 3): ("G=ABC H=ACDE J=ABDF", 4),
    (9, 4): ("F=BCDE G=ACDE H=ABDE J=ABCE", 4),
    (9, 5): ("E=ABC F=BCD G=ACD H=ABD J=ABCD", 3),
    (10, 1): ("K=ABCDEFGHJ", 10),
    (10, 2): ("J=ABCDEF K=ABCGH", 6),
    (10, 3): ("H=ABCG J=BCDE K=ACDF", 5),
    (10, 4): ("G=BCDF H=ACDF J=ABDE K=ABCE", 4),
    (10, 5): ("F=ABCD G=ABCE H=ABDE J=ACDE K=BCDE", 4),
    (10, 6): ("E=ABC F=BCD G=ACD H=ABD J=ABCD K=AB", 3),
    (11, 1): ("L=ABCDEFGHJK", 11),
    (11, 2): ("K=ABCDEF L=ABCGHJ", 7),
    (11, 3): ("J=ABCDE K=ABCFG L=ABDFH", 6),
    (11, 4): ("H=ABCG J=BCDE K=ACDF L=ABCDEFG", 5),
    (11, 5): ("G=CDE H=ABCD J=ABF K=BDEF L=ADEF", 4),
    (11, 6): ("F=ABC G=BCD H=CDE J=ACD K=ADE L=BDE", 4),
    (11, 7): ("E=ABC F=BCD G=ACD H=ABD J=ABCD K=AB L=AC", 3),
}
