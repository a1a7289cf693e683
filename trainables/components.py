"""The components a study can ablate: one registration each.

A component is a factor of the factorial design. It declares, in one place:
    name      the factor's name: a column of trials.csv, a key of the trial's config, a W&B config key
    levels    its levels, the BASELINE ("off") first
    id_key    its short key in configuration ids (`shortcut=1-se=0-act=relu`)
    default   the level it takes in a study that does not vary it
    and exactly one way a level changes a trial:
      builder_arg   the level is passed to `build_resnet(**{builder_arg: level})`
      recipe_field  the level replaces a field of the trial's recipe (`TrialConfig`, e.g. label_smoothing)
      apply         `apply(model, level) -> model | None` changes the built network (runs after build_resnet,
                    under the trial's seed; return a new model or change it in place and return None)
    tag       how a non-baseline level shows in model names: `ResNet-34+ReZero` (default: the name)

The trial passes every component's level through generically (trainables/trial.py), the grid is built from the
registry (search_spaces/factors.py) and the analysis finds the factors in spec.yaml: registering a component is
all it takes to ablate it. Users register their own in a file of their own, loaded with `--components FILE`
(see examples/rezero.py). This module imports no torch: the study's driver reads it cheaply.
"""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable

from trainables.config import TrialConfig


@dataclass(frozen=True)
class Component:
    name: str
    levels: tuple[Any, ...]
    id_key: str
    default: Any
    builder_arg: str | None = None
    recipe_field: str | None = None
    apply: Callable[[Any, Any], Any] | None = None
    tag: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"component name {self.name!r} must be a Python identifier (it is a column and a key)")
        if len(self.levels) < 2 or len(set(map(repr, self.levels))) != len(self.levels):
            raise ValueError(f"component {self.name!r} needs at least 2 distinct levels, baseline first; got "
                             f"{list(self.levels)}")
        if not all(isinstance(level, (bool, int, float, str)) for level in self.levels):
            raise ValueError(f"component {self.name!r}: levels must be bool, int, float or str (they are written to "
                             f"CSV and YAML); got {list(self.levels)}")
        ways = [w for w in (self.builder_arg, self.recipe_field, self.apply) if w is not None]
        if len(ways) != 1:
            raise ValueError(f"component {self.name!r} must declare exactly one of builder_arg, recipe_field and "
                             "apply (how a level changes the trial)")
        if self.recipe_field is not None and self.recipe_field not in RECIPE_FIELDS:
            raise ValueError(f"component {self.name!r}: recipe_field {self.recipe_field!r} is not a recipe field; "
                             f"valid: {sorted(RECIPE_FIELDS)}")
        self.check(self.default)

    @property
    def label(self) -> str:
        return self.tag or self.name

    def id_fragment(self, level: Any) -> str:
        value = int(level) if isinstance(level, bool) else level
        return f"{self.id_key}={value}"

    def check(self, level: Any) -> None:
        """ValueError unless `level` is one of the levels (of the same type: True is not 1)."""
        if not any(level == known and type(level) is type(known) for known in self.levels):
            raise ValueError(f"unknown level {level!r} for component {self.name!r}; valid levels: "
                             f"{list(self.levels)}")


# Recipe fields a component may set: what the trial computes, not how it runs or who it is.
RECIPE_FIELDS = frozenset(f.name for f in fields(TrialConfig)) - {"seed", "threads", "config_id", "model_name",
                                                                  "levels", "deterministic", "checkpoint_every"}

BUILT_IN: tuple[Component, ...] = (
    Component("shortcut", (False, True), "shortcut", True, builder_arg="shortcut", tag="shortcut",
              description="residual shortcut (identity, or projection where the shape changes); off = plain net"),
    Component("se", (False, True), "se", False, builder_arg="se", tag="SE",
              description="Squeeze-and-Excitation on every block's residual branch (Hu et al. 2018)"),
    Component("activation", ("relu", "mish"), "act", "relu", builder_arg="activation", tag="Mish",
              description="the activation everywhere, SE included (Misra 2019)"),
    # He et al. show degradation as plain-34 vs plain-18: as a factor it tests that properly.
    Component("depth", (18, 34), "depth", 34, builder_arg="depth", tag="depth",
              description="basic blocks per stage: 18 = (2,2,2,2), 34 = (3,4,6,3)"),
    Component("zero_init_residual", (False, True), "zi", False, builder_arg="zero_init_residual", tag="ZeroInit",
              description="last BN gamma of each residual branch starts at 0 (Goyal et al. 2017)"),
    Component("resnet_d", (False, True), "rd", False, builder_arg="resnet_d", tag="D",
              description="ResNet-D shortcut: average-pool before the 1x1 projection (He et al. 2019)"),
    Component("drop_path", (0.0, 0.1), "dp", 0.0, builder_arg="drop_path", tag="DropPath",
              description="stochastic depth, drop probability rising linearly to 0.1 (Huang et al. 2016)"),
    Component("preact", (False, True), "pa", False, builder_arg="preact", tag="PreAct",
              description="pre-activation blocks: BN and activation before each conv, a clean identity path "
                          "(He et al. 2016, Identity mappings)"),
)

_REGISTRY: dict[str, Component] = {c.name: c for c in BUILT_IN}
_SOURCES: dict[str, str] = {}  # component name -> digest of the file that registered it (user components)


def register(component: Component) -> Component:
    """Add a component to the registry; its name and id key must be new."""
    if not isinstance(component, Component):
        raise TypeError(f"register() takes a Component, got {type(component).__name__}")
    if component.name in _REGISTRY:
        raise ValueError(f"a component named {component.name!r} is already registered")
    if component.name in {f.name for f in fields(TrialConfig)} or component.name in {"config", "model", "trial_id"}:
        raise ValueError(f"component name {component.name!r} is taken by a trial setting or a table column")
    clash = [c.name for c in _REGISTRY.values() if c.id_key == component.id_key]
    if clash:
        raise ValueError(f"component {component.name!r}: id key {component.id_key!r} is already used by {clash[0]!r}")
    _REGISTRY[component.name] = component
    return component


def registry() -> dict[str, Component]:
    """Every registered component by name, built-ins first, in registration order."""
    return dict(_REGISTRY)


def get(name: str) -> Component:
    if name not in _REGISTRY:
        raise ValueError(f"unknown component {name!r}; registered: {list(_REGISTRY)} (load your own with "
                         "--components FILE)")
    return _REGISTRY[name]


def load_source(source: str, label: str) -> list[str]:
    """Run a components file's source (it calls `register(...)`); the names it registered. Loading the same
    source again (every trial in a Ray worker does) registers nothing new and is cheap."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    module_name = f"ablation_components_{digest}"
    if module_name in sys.modules:
        return [name for name, d in _SOURCES.items() if d == digest]
    before = set(_REGISTRY)
    spec = importlib.util.spec_from_loader(module_name, loader=None, origin=label)
    module = importlib.util.module_from_spec(spec)
    module.__file__ = label
    exec(compile(source, label, "exec"), module.__dict__)  # the user's own file, as in their own driver
    sys.modules[module_name] = module
    added = [name for name in _REGISTRY if name not in before]
    _SOURCES.update({name: digest for name in added})
    return added


def read_components_file(path: str | Path) -> str:
    """The source of a components file; ValueError (one line) when it cannot be read."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"--components {path}: no such file; give a Python file that calls "
                         "trainables.components.register(...)")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"--components {path}: cannot read it ({err.__class__.__name__})") from None
