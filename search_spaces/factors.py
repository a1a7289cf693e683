"""The factors of a study and the configurations of its grid, built from the component registry.

The factors are registered components (trainables/components.py): each has its levels, baseline FIRST. A
configuration is one level per factor (the factors a study does not vary keep their default level); its id is
stable (`shortcut=1-se=0-act=relu`) and its display name follows the original study's names (Plain-34, ResNet-34,
SE-ResNet-34, Mish-ResNet-34), with systematic names for the other cells (SE-Mish-ResNet-34, Plain-34+SE) and a
`+tag` for every other component at a non-baseline level (ResNet-34+ZeroInit). Adding a factor is registering a
component; nothing here changes.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from trainables.components import BUILT_IN, Component, get, registry

DEFAULT_FACTORS: tuple[str, ...] = ("shortcut", "se", "activation")
NAMED_PARTS = ("shortcut", "se", "activation", "depth")  # the parts the original study's names spell out


def get_factors(names: Iterable[str]) -> tuple[Component, ...]:
    """The registered components of these names, in the order given; unknown or repeated names are an error."""
    names = tuple(names)
    known = registry()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown factor(s) {unknown}; valid factors: {list(known)} (register your own with "
                         "--components FILE)")
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"give each factor once and at least one factor; got {list(names)}")
    return tuple(known[n] for n in names)


@dataclass(frozen=True)
class Configuration:
    """One cell of the grid: a level for every registered component (varied or fixed)."""

    levels: tuple[tuple[str, Any], ...]  # (factor name, level) for the varied factors, in grid order
    fixed: tuple[tuple[str, Any], ...]  # the levels of the components not varied

    @property
    def values(self) -> dict[str, Any]:
        return {**dict(self.fixed), **dict(self.levels)}

    @property
    def config_id(self) -> str:
        return "-".join(get(name).id_fragment(level) for name, level in self.levels)

    @property
    def model_name(self) -> str:
        return model_name(self.values)


def model_name(levels: Mapping[str, Any]) -> str:
    """Plain-34, ResNet-34, SE-ResNet-34, Mish-ResNet-34; the other cells get names built the same way, and any
    other component at a non-baseline level adds `+tag` (`+tag=level` when it has more than two levels)."""
    depth = levels.get("depth", 34)
    activation = str(levels.get("activation", "relu"))
    extras = (["SE"] if levels.get("se") else []) + ([activation.capitalize()] if activation != "relu" else [])
    if levels.get("shortcut", True):
        name = "-".join(extras + [f"ResNet-{depth}"])
    else:
        name = f"Plain-{depth}" + "".join(f"+{extra}" for extra in extras)
    known = registry()
    for component_name, level in levels.items():
        component = known.get(component_name)
        if component is None or component_name in NAMED_PARTS or level == component.levels[0]:
            continue
        name += f"+{component.label}" if len(component.levels) == 2 else f"+{component.label}={level}"
    return name


def fixed_levels(factor_names: Sequence[str], fixed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The level of every built-in component not in `factor_names` (its default, or the given one) and of the
    other components given in `fixed`. A user's component that a study does not vary is left out: the trial gives
    it its default, and a study that never loaded it does not depend on it."""
    overrides = dict(fixed or {})
    for name, level in overrides.items():
        get(name).check(level)
    held = {c.name: overrides.get(c.name, c.default) for c in BUILT_IN if c.name not in factor_names}
    return {**held, **{n: v for n, v in overrides.items() if n not in factor_names}}


def configurations(factor_names: Sequence[str] = DEFAULT_FACTORS, fixed: Mapping[str, Any] | None = None,
                   cells: Sequence[int] | None = None) -> list[Configuration]:
    """The configurations of the grid, baseline first: every combination of the factors' levels (2^k for k
    two-level factors), or only the `cells` given as bit masks (bit i set = factor i at its second level; a
    fractional design)."""
    factors = get_factors(factor_names)
    held = tuple(fixed_levels(factor_names, fixed).items())
    names = [f.name for f in factors]
    if cells is None:
        combos = itertools.product(*(f.levels for f in factors))
    else:
        if any(len(f.levels) != 2 for f in factors):
            raise ValueError("a fractional design needs two-level factors")
        combos = ([f.levels[(mask >> i) & 1] for i, f in enumerate(factors)] for mask in cells)
    return [Configuration(tuple(zip(names, combo)), held) for combo in combos]


def grid(factor_names: Sequence[str] = DEFAULT_FACTORS, seeds: Sequence[int] = (0, 1, 2),
         fixed: Mapping[str, Any] | None = None, cells: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Every configuration x seed as a flat trial-config fragment (component levels, seed, id, name)."""
    if not seeds:
        raise ValueError("need at least one seed")
    return [{**cfg.values, "seed": seed, "config_id": cfg.config_id, "model_name": cfg.model_name}
            for cfg in configurations(factor_names, fixed, cells) for seed in seeds]
