"""What a study prints: one line per trial with its accuracy in %, elapsed time and an ETA; no Ray table unless
--verbose; a progress bar on a terminal and plain lines elsewhere."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from PIL import Image

from ablation import console
from ablation.callbacks import TrialLinePrinter, clock_time
from ablation.cli import parse_args
from trainables.data import load_data
from trainables.progress import PLAIN_LINES, progress

REPO = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^\[(\d+)/(\d+)\] finished (\S+) \((\S+)\) seed (\d+): val acc (\d+\.\d\d)%, epoch (\d+), "
                  r"\d+\.\d s; elapsed (\d+:\d\d), ETA (\d+:\d\d) \(ends about \d\d:\d\d\)$")


def _seconds(text: str) -> int:
    minutes, seconds = text.split(":")
    return 60 * int(minutes) + int(seconds)


def test_a_study_prints_one_line_per_trial_and_no_ray_table(smoke_study):
    code, run_dir = smoke_study
    assert code == 0
    printed = (run_dir.parent / "console.txt").read_text()
    lines = printed.splitlines()
    trial_lines = [LINE.match(line) for line in lines if line.startswith("[")]
    assert len(trial_lines) == 16 and all(trial_lines), printed
    assert [int(m.group(1)) for m in trial_lines] == list(range(1, 17))
    assert {int(m.group(2)) for m in trial_lines} == {16}
    # The accuracy is the trial's final validation accuracy in percent, as trials.csv holds it (a fraction).
    trials = pd.read_csv(run_dir / "results" / "trials.csv")
    final = {(r.config, r.seed): r.final_val_acc for r in trials.itertuples()}
    for m in trial_lines:
        assert float(m.group(6)) == round(100 * final[(m.group(4), int(m.group(5)))], 2)
    elapsed = [_seconds(m.group(8)) for m in trial_lines]
    assert elapsed == sorted(elapsed) and elapsed[-1] > 0
    assert trial_lines[-1].group(9) == "0:00"  # nothing left after the last trial
    # What will run, then the trials, then the summary: one screen plus one line per trial.
    assert any(re.fullmatch(r"running 16 trial\(s\), 2 at a time \(1 CPU each\)", line) for line in lines)
    assert any(line.startswith("study smoke: 16/16 trials completed") for line in lines)
    assert len(lines) - 16 <= 12, printed
    for ray_text in ("== Status ==", "Trial name", "+----", "Logical resource usage", "INFO", "Total run time"):
        assert ray_text not in printed


def test_verbose_shows_ray_tunes_status_table(ray_session, tmp_path):
    # A driver of its own, as a user runs it (one study per process), joining the session's Ray; its stdout a pipe.
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    run = subprocess.run([sys.executable, str(REPO / "ablation" / "run.py"), "--profile", "smoke", "--factors",
                          "shortcut", "--seeds", "1", "--epochs", "1", "--storage", str(tmp_path), "--name", "loud",
                          "--wandb", "disabled", "--no-report", "--verbose", "--address", ray_session],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "== Status ==" in run.stdout and "Trial name" in run.stdout
    assert len([line for line in run.stdout.splitlines() if LINE.match(line)]) == 2


def test_verbose_is_off_unless_asked():
    assert parse_args([]).verbose is False and parse_args(["--verbose"]).verbose is True
    console.set_verbose(False)
    assert (console.tune_verbosity(), console.ray_logging_level()) == (0, 30)
    console.set_verbose(True)
    assert (console.tune_verbosity(), console.ray_logging_level()) == (1, 20)
    console.set_verbose(False)


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _trial(trial_id: str, config: str, seed: int, acc: float = 0.5):
    # The three attributes of a Tune trial the printer reads.
    return SimpleNamespace(trial_id=trial_id, last_result={"val_acc": acc, "epoch": 3},
                           config={"trial": {"config_id": config, "model_name": config.upper(), "seed": seed}})


def test_the_eta_takes_each_configuration_at_its_own_pace(capsys):
    # Two configurations, 3 seeds each, 2 slots: "slow" trials take 30 s, "fast" ones 10 s.
    entries = [{"config_id": c, "seed": s} for c in ("slow", "fast") for s in range(3)]
    clock = _Clock()
    printer = TrialLinePrinter(entries, slots=2, clock=clock)
    slow0, fast0 = _trial("a", "slow", 0, 0.4567), _trial("b", "fast", 0)
    printer.on_trial_start(0, [], slow0)
    printer.on_trial_start(0, [], fast0)
    clock.now = 10.0
    printer.on_trial_complete(0, [], fast0)
    # Only a fast trial has finished: every other trial is priced at 10 s, the running slow one 10 s in: 4 x 10 / 2.
    assert printer.seconds_left(clock.now) == 20.0
    fast1 = _trial("c", "fast", 1)
    printer.on_trial_start(0, [], fast1)
    clock.now = 20.0
    printer.on_trial_complete(0, [], fast1)
    clock.now = 30.0
    printer.on_trial_complete(0, [], slow0)
    # Left: slow x2 at 30 s, fast x1 at 10 s, none running: 70 / 2 slots.
    assert printer.seconds_left(clock.now) == 35.0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1/6] finished FAST (fast) seed 0: val acc 50.00%, epoch 3")
    assert lines[2].startswith("[3/6] finished SLOW (slow) seed 0: val acc 45.67%, epoch 3")
    assert "elapsed 0:30, ETA 0:35 (ends about " in lines[2]
    failed = _trial("d", "slow", 1)
    failed.last_result = {}
    printer.on_trial_start(0, [], failed)
    printer.on_trial_error(0, [], failed)
    assert capsys.readouterr().out.startswith("[4/6] FAILED SLOW (slow) seed 1: no epoch finished")
    assert printer.walls["slow"] == [30.0]  # a failed trial's time does not price the finished ones


def test_clock_time():
    assert [clock_time(s) for s in (0, 59.6, 83.4, 3600, 3725)] == ["0:00", "1:00", "1:23", "1:00:00", "1:02:05"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_few_lines_elsewhere():
    log = io.StringIO()
    with progress(1000, "decoding", "img", stream=log) as step:
        for _ in range(1000):
            step()
    lines = log.getvalue().splitlines()
    assert len(lines) == PLAIN_LINES == 4
    assert [re.match(r"decoding: (\d+)/1000 img \((\d+)%\), \d+\.\d s$", line).group(2) for line in lines] == \
        ["25", "50", "75", "100"]
    terminal = _Terminal()
    with progress(1000, "decoding", "img", stream=terminal) as step:
        for _ in range(1000):
            step()
    drawn = terminal.getvalue()
    assert "\r" in drawn and "1000/1000" in drawn and "100%" in drawn  # tqdm's bar, redrawn in place


def test_decoding_an_image_folder_reports_its_progress(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        for i in range(6):
            (tmp_path / "imgs" / label).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(tmp_path / "imgs" / label /
                                                                                     f"{i}.png")
    load_data(tmp_path / "imgs", size=8, cache_dir=tmp_path / "cache")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("decoding")]
    assert [re.search(r": (\d+)/12 img", line).group(1) for line in lines] == ["3", "6", "9", "12"]
    load_data(tmp_path / "imgs", size=8, cache_dir=tmp_path / "cache")  # from the cache: nothing to decode
    assert "decoding" not in capsys.readouterr().out


def test_the_eta_follows_an_autoscaler_adding_slots():
    entries = [{"config_id": "c", "seed": s} for s in range(8)]
    clock = _Clock()
    printer = TrialLinePrinter(entries, slots=1, clock=clock)  # no worker yet when the fit began
    trials = [_trial(str(s), "c", s) for s in range(4)]
    for trial in trials:
        printer.on_trial_start(0, [], trial)
    clock.now = 10.0
    for trial in trials:
        printer.on_trial_complete(0, [], trial)
    assert printer.slots == 4 and printer.seconds_left(clock.now) == 4 * 10.0 / 4
