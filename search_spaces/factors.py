"""The factors of the ablation, their levels, and the configurations of the factorial grid.

A factor's FIRST level is its baseline ("off"). A configuration is one level per factor; its id is stable
(`shortcut=1-se=0-act=relu`) and its display name follows the original study's names (Plain-34, ResNet-34,
SE-ResNet-34, Mish-ResNet-34), with systematic names for the other cells (SE-Mish-ResNet-34, Plain-34+SE).
Adding a factor means adding one entry to FACTORS; the analysis finds factors from the result tables.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable, Sequence


@dataclass(frozen=True)
class Factor:
    name: str
    levels: tuple[Any, ...]
    id_key: str  # the key in configuration ids, short where the name is long

    def id_fragment(self, level: Any) -> str:
        value = int(level) if isinstance(level, bool) else level
        return f"{self.id_key}={value}"

    def check(self, level: Any) -> None:
        if level not in self.levels or type(level) is not type(self.levels[0]):
            raise ValueError(f"unknown level {level!r} for factor {self.name!r}; valid levels: {list(self.levels)}")


FACTORS: dict[str, Factor] = {
    "shortcut": Factor("shortcut", (False, True), "shortcut"),
    "se": Factor("se", (False, True), "se"),
    "activation": Factor("activation", ("relu", "mish"), "act"),
    # He et al. show degradation as plain-34 vs plain-18; as a fourth factor it tests that properly.
    "depth": Factor("depth", (18, 34), "depth"),
}
DEFAULT_FACTORS: tuple[str, ...] = ("shortcut", "se", "activation")

# The level every factor takes when it is not varied: the original study's ResNet-34.
FIXED_LEVELS: dict[str, Any] = {"shortcut": True, "se": False, "activation": "relu", "depth": 34}


def get_factors(names: Iterable[str]) -> tuple[Factor, ...]:
    """The registered factors of these names, in the order given; unknown or repeated names are an error."""
    names = tuple(names)
    unknown = [n for n in names if n not in FACTORS]
    if unknown:
        raise ValueError(f"unknown factor(s) {unknown}; valid factors: {list(FACTORS)}")
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"give each factor once and at least one factor; got {list(names)}")
    return tuple(FACTORS[n] for n in names)


@dataclass(frozen=True)
class Configuration:
    """One cell of the grid: a level for every registered factor (varied or fixed)."""

    levels: tuple[tuple[str, Any], ...]  # (factor name, level) for the varied factors, in grid order
    fixed: tuple[tuple[str, Any], ...]  # the levels of factors not varied

    @property
    def values(self) -> dict[str, Any]:
        return {**dict(self.fixed), **dict(self.levels)}

    @property
    def config_id(self) -> str:
        return "-".join(FACTORS[name].id_fragment(level) for name, level in self.levels)

    @property
    def model_name(self) -> str:
        return model_name(**self.values)


def model_name(shortcut: bool, se: bool, activation: str, depth: int = 34, **_: Any) -> str:
    """Plain-34, ResNet-34, SE-ResNet-34, Mish-ResNet-34; the other cells get names built the same way."""
    extras = (["SE"] if se else []) + ([activation.capitalize()] if activation != "relu" else [])
    if shortcut:
        return "-".join(extras + [f"ResNet-{depth}"])
    return f"Plain-{depth}" + "".join(f"+{extra}" for extra in extras)


def configurations(factor_names: Sequence[str] = DEFAULT_FACTORS,
                   fixed: dict[str, Any] | None = None) -> list[Configuration]:
    """Every combination of the factors' levels (2^k for k two-level factors), baseline first."""
    factors = get_factors(factor_names)
    fixed_levels = {**FIXED_LEVELS, **(fixed or {})}
    for name, level in fixed_levels.items():
        FACTORS[name].check(level)
    held = tuple((n, v) for n, v in fixed_levels.items() if n not in factor_names)
    cells = itertools.product(*(f.levels for f in factors))
    return [Configuration(tuple(zip((f.name for f in factors), cell)), held) for cell in cells]


def grid(factor_names: Sequence[str] = DEFAULT_FACTORS, seeds: Sequence[int] = (0, 1, 2),
         fixed: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every configuration x seed as a flat trial-config fragment (factor levels, seed, id, name)."""
    if not seeds:
        raise ValueError("need at least one seed")
    return [{**cfg.values, "seed": seed, "config_id": cfg.config_id, "model_name": cfg.model_name}
            for cfg in configurations(factor_names, fixed) for seed in seeds]
