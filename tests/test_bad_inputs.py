"""Bad input, as a careful (and a careless) user gives it: exit code 2, exactly one line on stderr naming the flag,
file or value at fault, no traceback, and no run folder left behind (a resumed study's folder left as it was).

Every case runs the real command line in this process (real files, real symlinks and FIFOs in tmp_path); none
trains. The few that need Ray use the session's local instance.
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ablation.run import main
from ablation.spec import StudySpec
from search_spaces.profiles import get_profile

NAME = "bad"
HERE = Path(__file__).resolve().parent


def _image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (10, 10, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def _tree(root: Path, per_class: int = 3) -> Path:
    for c, label in enumerate(("cat", "dog")):
        for i in range(per_class):
            _image(root / label / f"{i}.png", seed=10 * c + i)
    return root


def _csv(root: Path, rows: list[str], header: str = "filename,label") -> Path:
    _tree(root)
    path = root / "labels.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _study(storage: Path, text_edit=None) -> None:
    """A study folder as a started study leaves it (spec.yaml), optionally with its spec edited."""
    spec = StudySpec(name=NAME, storage=str(storage), profile=get_profile("smoke"), seeds=(0, 1))
    text = spec.to_yaml()
    (storage / NAME).mkdir(parents=True)
    (storage / NAME / "spec.yaml").write_text(text_edit(text) if text_edit else text)


def _components(tmp_path: Path, source: str) -> str:
    path = tmp_path / "mine.py"
    path.write_text(source)
    return str(path)


# (id, setup(tmp_path, storage) -> extra argv, text the one line must hold, a study folder existed before)
def _cli_cases() -> list[tuple]:
    """The cases that need nothing but flags, from bad_cli_inputs.tsv (id, shell words, expected text)."""
    rows = [line.split("\t") for line in (HERE / "bad_cli_inputs.tsv").read_text().splitlines()
            if line and not line.startswith("#")]
    return [(case, lambda t, s, words=words: shlex.split(words), expected, False) for case, words, expected in rows]


# Cases with files: (id, setup(tmp_path, storage) -> extra argv, text the one line must hold, a study folder existed)
FILE_CASES = [
    ("components-missing", lambda t, s: ["--components", str(t / "nope.py")], "nope.py: no such file", False),
    ("components-syntax", lambda t, s: ["--components", _components(t, "def broken(:\n")],
     "mine.py: loading it failed: SyntaxError", False),
    ("components-empty", lambda t, s: ["--components", _components(t, "x = 1\n")], "registered no component", False),
    ("storage-under-a-file", lambda t, s: ["--storage", str(_file(t / "blocker") / "runs")], "is not writable",
     False),
    ("data-missing", lambda t, s: ["--data", str(t / "nowhere")], "nowhere: no such file or folder", False),
    ("data-neither", lambda t, s: ["--data", str(_file(t / "notes.txt"))], "notes.txt: neither a folder nor a .csv",
     False),
    ("data-one-class", lambda t, s: ["--data", str(_one_class(t / "d"))], "found only 1 class", False),
    ("data-class-links-to-root", lambda t, s: ["--data", str(_root_link(t / "d"))], "all", False),
    ("data-dangling-symlink", lambda t, s: ["--data", str(_dangling(t / "d"))], "ghost.jpg", False),
    ("data-fifo", lambda t, s: ["--data", str(_fifo(t / "d"))], "p.jpg: not a regular file", False),
    ("data-corrupt-image", lambda t, s: ["--data", str(_corrupt(t / "d"))], "broken.png", False),
    ("csv-escapes-folder", lambda t, s: ["--data", str(_csv(t / "c", ["../../../../etc/passwd,cat",
                                                                       "cat/0.png,cat", "dog/0.png,dog"]))],
     "line 2", False),
    ("csv-same-file-twice", lambda t, s: ["--data", str(_csv(t / "c", ["cat/0.png,cat", "cat/../cat/0.png,cat",
                                                                        "dog/0.png,dog"]))], "line", False),
    ("csv-header-twice", lambda t, s: ["--data", str(_csv(t / "c", ["cat/0.png,cat,cat"],
                                                          header="filename,label,label"))], "label", False),
    ("images-without-csv", lambda t, s: ["--data", str(_tree(t / "d")), "--images", str(t)],
     "only used with a labels CSV", False),
    ("resume-empty-spec", lambda t, s: _resume(s, lambda text: ""), "spec.yaml is empty or not a mapping", True),
    ("resume-truncated-spec", lambda t, s: _resume(s, lambda text: text[: len(text) // 3] + "\n  factors: [shortc"),
     "spec.yaml", True),
    ("resume-epochs-text", lambda t, s: _resume(s, lambda text: text.replace("epochs: 2", "epochs: two")),
     "epochs has the wrong type ('two')", True),
    ("resume-unknown-key", lambda t, s: _resume(s, lambda text: text + "colour: blue\n"),
     "unknown key(s) ['colour']", True),
    ("resume-stored-name-escapes", lambda t, s: _resume(s, lambda text: text.replace("name: bad",
                                                                                     "name: ../../elsewhere")),
     "must be a plain folder name", True),
    ("resume-fewer-seeds", lambda t, s: _resume(s, None, ["--seeds", "1"]), "--seeds 1 is below the study's 2",
     True),
    ("resume-other-epochs", lambda t, s: _resume(s, None, ["--epochs", "5"]), "--epochs cannot change", True),
    ("resume-fold-over-full-grid", lambda t, s: _resume(s, None, ["--fold-over"]), "needs a fractional study", True),
    ("resume-data-changed", lambda t, s: _resume(s, lambda text: text.replace(
        "data: null", f"data: {_tree(t / 'd')}").replace("data_fingerprint: ''", "data_fingerprint: 0123456789abcd")),
     "changed since it started (fingerprint 0123456789ab", True),
    ("resume-sequential-new-budget", lambda t, s: _resume(s, lambda text: text.replace(
        "sequential: {}", "sequential: {start: 2, wave: 2, max_seeds: 6, min_effect: 0.02, schedule: [2, 4, 6]}"),
        ["--max-seeds", "8"]), "--max-seeds cannot change: study 'bad' runs until settled", True),
    ("resume-component-changed", lambda t, s: _resume(s, lambda text: text.replace(
        "components: []", _changed_component(t)), ["--components", _components(t, _REGISTERING)]),
     "mine.py is not one study started with (its sha256", True),
    ("resume-spec-names-a-file-to-import", lambda t, s: _resume(s, lambda text: text.replace(
        "components: []", _planted_component(t))), "give them again with --components (the study never imports", True),
    ("components-sys-exit", lambda t, s: ["--components", _components(t, "import sys\nsys.exit(0)\n")],
     "mine.py: loading it failed: it called sys.exit(0)", False),
    ("components-apply-raises", lambda t, s: ["--components", _components(t, _RAISING), "--factors", "shortcut",
                                              "always_fails"],
     "component 'always_fails' fails at level True (its apply raised RuntimeError: broken on purpose)", False),
    ("data-two-empty-files", lambda t, s: ["--data", str(_empty_files(t / "d"))],
     "blank.png: empty file (0 bytes)", False),
    ("resume-seeds-edited-down", lambda t, s: _resume(s, lambda text: text.replace("seeds:\n- 0\n- 1\n",
                                                                                  "seeds:\n- 0\n"), ledger=True),
     "lists seeds 0..0 but its ledger holds finished trials of seed(s) 1", True),
    ("resume-spec-a-list", lambda t, s: _resume(s, lambda text: "- name: bad\n- seeds: [0]\n"),
     "spec.yaml is empty or not a mapping", True),
    ("lock-empty", lambda t, s: _empty_lock(s), "empty or unreadable lock file", True),
    ("new-over-a-study", lambda t, s: _existing(s, "spec.yaml"), "already exists", True),
    ("new-over-other-files", lambda t, s: _existing(s, "notes.txt"), "is not a study (no spec.yaml)", True),
]
CASES = _cli_cases() + FILE_CASES


_REGISTERING = ("from trainables.components import Component, register\n"
                "register(Component('mine_flag', (False, True), 'mf', False, recipe_field='label_smoothing'))\n")


_RAISING = ("from trainables.components import Component, register\n"
            "def fail(model, level):\n    if level:\n        raise RuntimeError('broken on purpose')\n"
            "register(Component('always_fails', (False, True), 'af', False, apply=fail))\n")


def _planted_component(tmp_path: Path) -> str:
    """spec.yaml naming, with its true digest, a file someone with write access to the storage planted: resuming
    without --components must not import it (the marker file it would write must never appear)."""
    import hashlib

    marker = tmp_path / "planted-ran"
    path = _components(tmp_path, f"open({str(marker)!r}, 'w').write('ran')\n")
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return f"components:\n- path: {path}\n  sha256: {digest}"


def _empty_files(root: Path) -> Path:
    _tree(root)
    (root / "cat" / "blank.png").write_bytes(b"")
    (root / "dog" / "blank.png").write_bytes(b"")
    return root


def _empty_lock(storage: Path) -> list[str]:
    _study(storage)
    (storage / NAME / ".lock").write_text("")
    return ["--resume", "--name", NAME]


def _changed_component(tmp_path: Path) -> str:
    """spec.yaml's `components:` naming a file whose digest is not the recorded one; it must never run."""
    path = _components(tmp_path, "raise RuntimeError('a changed component file must not run')\n")
    return f"components:\n- path: {path}\n  sha256: '0000'"


def _file(path: Path) -> Path:
    path.write_text("not a folder")
    return path


def _one_class(root: Path) -> Path:
    for i in range(3):
        _image(root / "cat" / f"{i}.png", seed=i)
    return root


def _root_link(root: Path) -> Path:
    _tree(root)
    os.symlink(".", root / "all")
    return root


def _dangling(root: Path) -> Path:
    _tree(root)
    os.symlink(root / "missing.png", root / "cat" / "ghost.jpg")
    return root


def _fifo(root: Path) -> Path:
    _tree(root)
    os.mkfifo(root / "cat" / "p.jpg")
    return root


def _corrupt(root: Path) -> Path:
    _tree(root)
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root


def _resume(storage: Path, edit, extra: list[str] | None = None, ledger: bool = False) -> list[str]:
    _study(storage, edit)
    if ledger:  # finished trials of both seeds, as a study that ran leaves them
        (storage / NAME / "ledger").mkdir()
        for seed in (0, 1):
            (storage / NAME / "ledger" / f"shortcut=1-se=0-act=relu-s{seed}.json").write_text("{}")
    return ["--resume", "--name", NAME, *(extra or [])]


def _existing(storage: Path, filename: str) -> list[str]:
    (storage / NAME).mkdir(parents=True)
    (storage / NAME / filename).write_text("kept")
    return []


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    return code, capsys.readouterr().err.splitlines()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_table_holds_at_least_40_distinct_bad_inputs():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case, setup, expected, existed", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_exit_2_and_leaves_nothing(case, setup, expected, existed, tmp_path, capsys):
    storage = tmp_path / "runs"
    storage.mkdir()
    extra = setup(tmp_path, storage)
    args = ["--profile", "smoke", "--wandb", "disabled", "--storage", str(storage)]
    if "--name" not in extra and case not in ("resume-without-name", "plan-without-name"):
        args += ["--name", NAME]
    before = _snapshot(storage)
    code, lines = run_cli([*args, *extra] if "--profile" not in extra else [*extra, *args[2:]], capsys)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in lines[0]
    assert not (tmp_path / "planted-ran").exists()  # no file named by the storage folder was imported
    if existed:
        assert _snapshot(storage) == before  # a resumed study's folder is left exactly as it was
    else:
        assert not (storage / NAME).exists() and not list(storage.iterdir())


@pytest.mark.parametrize("extra, expected", [
    (["--gpus-per-trial", "0.5"], "asks for a GPU but the Ray cluster has none"),
    (["--cpus-per-trial", "64"], "--cpus-per-trial 64.0 exceeds the largest node's"),
])
def test_requests_the_cluster_can_never_satisfy_leave_nothing(extra, expected, ray_session, tmp_path, capsys):
    storage = tmp_path / "runs"
    code, lines = run_cli(["--profile", "smoke", "--wandb", "disabled", "--storage", str(storage), "--name", NAME,
                           *extra], capsys)
    assert code == 2 and len(lines) == 1 and expected in lines[0], lines
    assert not (storage / NAME).exists()


def test_credentials_in_the_storage_uri_are_never_printed_or_written(tmp_path, capsys):
    """A refused storage URI's error hides its secrets; a study's spec and every file it writes hold none."""
    code, lines = run_cli(["--profile", "smoke", "--name", NAME, "--storage",
                           "s3://AKIAEXAMPLEKEY:VERYSECRET@bucket/runs?endpoint_override=127.0.0.1:1&scheme=http"],
                          capsys)
    assert code == 2 and len(lines) == 1
    assert "VERYSECRET" not in lines[0] and "AKIAEXAMPLEKEY" not in lines[0] and "s3://bucket/runs" in lines[0]
    spec = StudySpec(name=NAME, storage="s3://AKIAEXAMPLEKEY:VERYSECRET@bucket/runs", profile=get_profile("smoke"),
                     seeds=(0,))
    assert "VERYSECRET" not in spec.to_yaml() and "s3://***@bucket/runs" in spec.to_yaml()


def test_a_second_driver_of_a_new_study_is_refused_while_the_first_starts(tmp_path, capsys):
    """The first driver holds the lock before it writes anything else; the second is told whose it is."""
    import json
    import socket

    storage = tmp_path / "runs"
    (storage / NAME).mkdir(parents=True)
    lock = storage / NAME / ".lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": "now", "token": "t"}))
    code, lines = run_cli(["--profile", "smoke", "--name", NAME, "--storage", str(storage)], capsys)
    assert code == 2 and len(lines) == 1 and f"in use by another driver (pid {os.getpid()}" in lines[0]
    assert [p.name for p in (storage / NAME).iterdir()] == [".lock"]  # the first driver's lock is untouched


def test_a_locked_study_is_refused_while_its_driver_lives(tmp_path, capsys):
    import json
    import socket

    storage = tmp_path / "runs"
    _study(storage)
    lock = storage / NAME / ".lock"
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": "now", "token": "t"}))
    code, lines = run_cli(["--resume", "--name", NAME, "--storage", str(storage)], capsys)
    assert code == 2 and len(lines) == 1 and f"in use by another driver (pid {os.getpid()}" in lines[0]
    assert lock.exists() and (storage / NAME / "spec.yaml").exists()


def test_resume_uses_the_name_given_not_the_one_stored(tmp_path):
    """A copied or renamed study folder resumes into itself: the stored name is never used as a path."""
    from ablation.cli import parse_args
    from ablation.request import resolve

    storage = tmp_path / "runs"
    _study(storage)
    (storage / NAME).rename(storage / "copy")
    request = resolve(parse_args(["--resume", "--name", "copy", "--storage", str(storage)]))
    assert request.spec.name == "copy" and request.spec.run_dir == str(storage / "copy")
