"""RUN_DIR/spec.yaml as the analysis reads it: the one parser (factor levels, the design, the W&B project).

The study writes spec.yaml (ablation/spec.py validates it strictly on resume); the analysis is lenient: a table
without a spec, or with an unreadable one, is still analysed, and the report says what it could not read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPEC_FILE = "spec.yaml"


@dataclass(frozen=True)
class SpecFile:
    body: dict[str, Any] = field(default_factory=dict)  # the mapping ({} where absent or unreadable)
    exists: bool = False
    error: str | None = None  # the first line of why it could not be read

    @property
    def factor_levels(self) -> dict[str, list]:
        """`factors: {name: [levels...]}` (also the older list-of-{name, levels} form); {} where absent."""
        factors = self.body.get("factors")
        entries = []
        if isinstance(factors, dict):
            entries = list(factors.items())
        elif isinstance(factors, list):
            entries = [(f.get("name"), f.get("levels")) for f in factors if isinstance(f, dict)]
        levels = {}
        for name, lv in entries:
            if isinstance(lv, dict):
                lv = lv.get("levels")
            if isinstance(name, str) and isinstance(lv, (list, tuple)) and lv:
                levels[name] = list(lv)
        return levels

    @property
    def design(self) -> dict[str, Any] | None:
        """The `design:` mapping of a fractional study; None for the full grid or where absent."""
        design = self.body.get("design")
        return design if isinstance(design, dict) and design else None


def read_spec(run_dir: str | Path) -> SpecFile:
    path = Path(run_dir) / SPEC_FILE
    if not path.is_file():
        return SpecFile()
    import yaml  # only where a spec exists

    try:
        body = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        return SpecFile(exists=True, error=first)
    if not isinstance(body, dict):
        return SpecFile(exists=True, error=f"it holds a {type(body).__name__}, not a mapping")
    return SpecFile(body, exists=True)
