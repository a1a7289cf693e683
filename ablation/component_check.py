"""A user's component whose `apply` fails is refused before any trial starts, in one line.

Without this check every trial fails inside a Ray worker, each retried --max-failures times, and the user reads
worker tracebacks. The driver builds, once per level, the network of one of the study's own trials in which the
component takes that level (at the study's width; no training), so what is checked is what the trials run.
"""
from __future__ import annotations

from ablation.spec import SpecError, StudySpec
from trainables.components import BUILT_IN, registry


def check_user_components(spec: StudySpec, entries: list[dict], shared: dict, num_classes: int) -> None:
    """SpecError (one line) naming the component and level whose `apply` raised."""
    import torch

    from trainables.config import TrialConfig
    from trainables.trial import build_model, trial_levels

    components = registry()
    built_in = {c.name for c in BUILT_IN}
    mine = [name for name in spec.profile.factors if name not in built_in and components[name].apply is not None]
    for name in mine:
        for level in components[name].levels:
            entry = next((e for e in entries if e.get(name) == level), None)
            if entry is None:
                continue  # a fraction may not run this level in this fit
            cfg = TrialConfig.from_dict({**shared, **entry}, components)
            try:
                torch.manual_seed(0)
                build_model(cfg, trial_levels(cfg, components), components, num_classes)
            except Exception as err:  # the user's code: where it failed, in one line
                raise SpecError(f"component {name!r} fails at level {level!r} (its apply raised "
                                f"{type(err).__name__}: {' '.join(str(err).split())[:200]}); fix it in its "
                                "--components file") from None
