"""The experiment spec: a profile's defaults, then the command line's overrides, resolved once and saved.

The resolved spec is written as `<storage>/<name>/spec.yaml` before any trial starts; `--resume` reads it back so
a resumed study runs exactly what the interrupted one meant to run. Reading it back trusts nothing: a file that is
empty, truncated, not YAML, has unknown keys or values of the wrong type is refused with one line (SpecError).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import yaml

import runstore
from analysis.defaults import MAX_FAILURES, WANDB_PROJECT
from search_spaces.factors import get_factors
from search_spaces.profiles import Profile
from trainables.components import get as get_component

SPEC_FILE = "spec.yaml"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=+-]{0,119}")
MAX_IMAGE_SIZE = 1024  # beyond this the decoded data alone outgrows any machine this runs on
MAX_WIDTH = 512  # first-stage channels; 64 is ResNet-34, 512 makes a 1.3-billion-parameter network


class SpecError(ValueError):
    """A spec that cannot be used (from the command line or from spec.yaml); the message is one line."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise SpecError(f"--name {name!r} must be a plain folder name: letters, digits and . _ = + - (at most 120 "
                        "characters, starting with a letter or digit)")
    return name


@dataclass(frozen=True)
class StudySpec:
    name: str
    storage: str  # absolute local path or URI, credentials removed
    profile: Profile
    seeds: tuple[int, ...]
    data: str | None = None  # None: the embedded digits
    images: str | None = None
    address: str | None = None
    wandb: str = "offline"
    wandb_project: str = WANDB_PROJECT
    max_failures: int = MAX_FAILURES
    # Fingerprint of the decoded data's content (not of its split); a resume refuses data that changed.
    data_fingerprint: str = ""
    # User component files (--components): [{"path": absolute path, "sha256": digest of its source}].
    components: tuple[dict[str, str], ...] = ()
    # A fractional design (--fraction/--resolution), as search_spaces.designs writes it; {}: the full grid.
    design: dict[str, Any] = field(default_factory=dict)
    # --until-settled: {"start", "wave", "max_seeds", "min_effect", "schedule"}, fixed when the study starts so
    # that a resumed driver repeats the same looks; {}: a fixed number of seeds.
    sequential: dict[str, Any] = field(default_factory=dict)
    tuned: dict[str, dict[str, float]] = field(default_factory=dict)  # config id -> tuned hyperparameters
    # --tune-first: the tuning budget, the same for every configuration ({"trials", "epochs", "concurrency"});
    # empty: no tuning stage. Saved so that a resumed study finishes an interrupted tuning stage the same way.
    tuning: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.profile
        check_name(self.name)
        get_factors(p.factors)
        get_component("depth").check(p.depth)
        checks = [
            (len(self.seeds) >= 1, f"need at least 1 seed, got {len(self.seeds)}"),
            (list(self.seeds) == list(range(len(self.seeds))), f"seeds must be 0..N-1, got {list(self.seeds)}"),
            (p.epochs >= 1, f"epochs must be >= 1, got {p.epochs}"),
            (8 <= p.image_size <= MAX_IMAGE_SIZE, f"image size must be in 8..{MAX_IMAGE_SIZE}, got {p.image_size}"),
            (1 <= p.width <= MAX_WIDTH, f"width must be in 1..{MAX_WIDTH}, got {p.width}"),
            (p.batch_size >= 2, f"batch size must be >= 2, got {p.batch_size}"),
            (p.cpus_per_trial > 0, f"--cpus-per-trial must be > 0, got {p.cpus_per_trial}"),
            (p.gpus_per_trial >= 0, f"--gpus-per-trial must be >= 0, got {p.gpus_per_trial}"),
            (0 < p.val_fraction < 1, f"val fraction must be in (0, 1), got {p.val_fraction}"),
            (p.lr > 0 and p.weight_decay >= 0 and 0 <= p.label_smoothing < 1,
             f"lr must be > 0, weight decay >= 0 and label smoothing in [0, 1); got {p.lr}, {p.weight_decay}, "
             f"{p.label_smoothing}"),
            (0 < p.crop_scale_min <= 1, f"crop_scale_min must be in (0, 1], got {p.crop_scale_min}"),
            (p.checkpoint_every >= 1, f"checkpoint_every must be >= 1, got {p.checkpoint_every}"),
            (self.max_failures >= 0, f"--max-failures must be >= 0 (0: no retries), got {self.max_failures}"),
            (self.wandb in ("offline", "online", "disabled"),
             f"--wandb must be offline, online or disabled, got {self.wandb!r}"),
        ]
        if self.tuning:  # --tune-first
            checks += [(self.tuning.get(key, 0) >= 1, f"--tune-{key} must be >= 1, got {self.tuning.get(key)}")
                       for key in ("trials", "epochs", "concurrency")]
        for ok, message in checks:
            if not ok:
                raise SpecError(message)

    @property
    def run_dir(self) -> str:
        return runstore.join(self.storage, self.name)

    @property
    def factor_levels(self) -> dict[str, list[Any]]:
        """The varied factors and their levels in order (the analysis reads this as the authority)."""
        return {name: list(get_component(name).levels) for name in self.profile.factors}

    def to_yaml(self) -> str:
        body = asdict(self)
        body["storage"] = runstore.redact(self.storage)
        body["seeds"] = list(self.seeds)
        body["components"] = [dict(c) for c in self.components]
        body["profile"]["factors"] = list(self.profile.factors)
        body["factors"] = self.factor_levels
        return yaml.safe_dump(body, sort_keys=False)

    @classmethod
    def from_yaml(cls, text: str, where: str = SPEC_FILE) -> "StudySpec":
        """Parse and validate a saved spec; SpecError (one line, naming `where`) for anything malformed."""
        try:
            body = yaml.safe_load(text)
        except yaml.YAMLError as err:
            first = " ".join(str(err).split())[:200]
            raise SpecError(f"{where} is not valid YAML ({first}); restore it or start a new study") from None
        if not isinstance(body, dict):
            raise SpecError(f"{where} is empty or not a mapping of settings; restore it or start a new study")
        body = dict(body)
        body.pop("factors", None)  # derived from the profile's factors, written for readers
        profile = body.pop("profile", None)
        if not isinstance(profile, dict):
            raise SpecError(f"{where} has no `profile:` section; restore it or start a new study")
        profile = _typed(Profile, profile, f"{where}: profile")
        spec_fields = _typed(cls, {k: v for k, v in body.items()}, where, skip=("profile",))
        try:
            return cls(profile=Profile(**profile), **spec_fields)
        except (TypeError, ValueError) as err:
            raise SpecError(f"{where}: {err}") from None


def _expected_type(cls, name: str):
    """The type a field's value must have, read from its default (and its annotation where the default is None)."""
    f = next(f for f in fields(cls) if f.name == name)
    annotation = str(f.type)
    if "tuple" in annotation:
        return (list, tuple)
    if "dict" in annotation:
        return dict
    if annotation.startswith("str"):
        return str
    if annotation.startswith("bool"):
        return bool
    if annotation.startswith("int"):
        return int
    if annotation.startswith("float"):
        return (int, float)
    return object


def _typed(cls, body: dict, where: str, skip: tuple[str, ...] = ()) -> dict:
    """`body` checked against the dataclass `cls`: no unknown keys, every value of its field's type (None allowed
    where the field's default is None); lists become tuples where the field holds a tuple."""
    known = {f.name: f for f in fields(cls) if f.name not in skip}
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise SpecError(f"{where} has unknown key(s) {unknown}; valid keys: {sorted(known)}")
    out = {}
    for name, value in body.items():
        expected = _expected_type(cls, name)
        optional = known[name].default is None
        wrong_bool = isinstance(value, bool) and expected in (int, (int, float))
        if (value is None and not optional) or (value is not None and (not isinstance(value, expected) or wrong_bool)):
            raise SpecError(f"{where}: {name} has the wrong type ({value!r}); restore it or start a new study")
        out[name] = tuple(value) if isinstance(value, list) and expected == (list, tuple) else value
    return out
