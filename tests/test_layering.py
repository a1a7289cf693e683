"""The house rules a maintainer relies on: imports point down only, and no file cites a document that is not here."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("ablation", "search_spaces", "trainables", "analysis", "runstore")
# What each package may import of the project (itself always): imports point down, never sideways or up.
ALLOWED = {
    "ablation": {"search_spaces", "trainables", "analysis", "runstore"},
    "search_spaces": {"trainables", "analysis", "runstore"},
    "trainables": {"runstore"},
    "analysis": {"runstore"},
    "runstore": set(),
}
NEVER = {"analysis": {"torch", "torchvision", "ray"}, "runstore": {"torch", "torchvision", "ray"}}


def _imports(path: Path) -> set[str]:
    """Top-level names of every module `path` imports (anywhere in the file, functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_down_only(package):
    wrong = []
    for path in sorted((REPO / package).rglob("*.py")):
        imported = _imports(path)
        upward = (imported & set(PACKAGES)) - ALLOWED[package] - {package}
        forbidden = imported & NEVER.get(package, set())
        if upward or forbidden:
            wrong.append(f"{path.relative_to(REPO)}: {sorted(upward | forbidden)}")
    assert not wrong, wrong


def _project_files():
    skip = {".git", "runs", "__pycache__", ".pytest_cache"}
    for path in REPO.rglob("*"):
        if path.is_file() and not skip & set(path.relative_to(REPO).parts) and path.suffix in (
                ".py", ".md", ".yaml", ".toml", ".txt", ".cfg") or path.name == "run" and ".ci" in path.parts:
            yield path


def test_no_file_cites_a_document_the_repository_does_not_hold():
    held = {p.name for p in REPO.rglob("*.md")} | {"report.md"}  # report.md: what a study writes
    cited = re.compile(r"\b([A-Za-z0-9_-]+\.md)\b")
    missing = []
    for path in _project_files():
        for name in set(cited.findall(path.read_text(errors="ignore"))):
            if name not in held:
                missing.append(f"{path.relative_to(REPO)} cites {name}")
    assert not missing, missing


def test_no_script_edits_sys_path():
    """Packages come from the editable install (requirements.txt: -e .), for the CLIs, Ray's workers and tests."""
    edits = [str(p.relative_to(REPO)) for p in REPO.rglob("*.py")
             if ".git" not in p.parts and re.search(r"sys\.path\s*(\[|\.insert|\.append)", p.read_text())
             and p.name != "test_layering.py"]
    assert not edits, edits


# Inside analysis/: what is read, the design algebra and the inference never depend on how it is written.
ANALYSIS_LAYERS = {  # subpackage: the analysis modules it may import besides itself
    "results": {"analysis.defaults"},
    "doe": {"analysis.defaults"},
    "stats": {"analysis.defaults", "analysis.results", "analysis.doe", "analysis.study_analysis", "analysis.simulate"},
}
NO_PROSE_LIBRARIES = {"matplotlib"}


def _project_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


@pytest.mark.parametrize("layer", sorted(ANALYSIS_LAYERS))
def test_analysis_layers_point_down(layer):
    allowed = ANALYSIS_LAYERS[layer] | {f"analysis.{layer}"}
    wrong = []
    for path in sorted((REPO / "analysis" / layer).rglob("*.py")):
        for name in _project_modules(path):
            inside = name.startswith("analysis.") and not any(name == a or name.startswith(a + ".") for a in allowed)
            if inside or name.split(".")[0] in NO_PROSE_LIBRARIES or (layer == "doe" and name == "pandas"):
                wrong.append(f"{path.relative_to(REPO)} imports {name}")
    assert not wrong, wrong
