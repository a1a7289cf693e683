"""Shared fixtures: one local Ray instance per test session (starting one costs seconds and 1-3 GB)."""
from __future__ import annotations

import contextlib
import io
import os

import pytest

# Keep W&B and Ray quiet and offline in tests; set before Ray starts so its workers inherit them.
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("WANDB_MODE", "offline")


# Tests that run real studies on Ray (through these fixtures) take minutes together: marked `slow`, so that
# `python -m pytest -q -m "not slow"` is a quick local loop. The default command runs them all.
SLOW_FIXTURES = {"ray_session", "smoke_study", "tuned_study", "local_cluster"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def ray_session():
    """A local Ray instance with 2 CPUs shared by every test that needs Ray; its GCS address for drivers."""
    import ray

    context = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()


@pytest.fixture(scope="session")
def digits_small():
    """The embedded digits at the smoke profile's size (decoded once, then cached on disk)."""
    from trainables.data import load_data

    return load_data(size=12)


@pytest.fixture(scope="session")
def smoke_study(ray_session, tmp_path_factory):
    """(exit code, run folder) of the default smoke study (8 configurations x 2 seeds, W&B offline, report),
    run once per test session and shared by every test that reads a real study's files. What it printed (to a
    non-terminal) is kept beside the run folder as console.txt (tests/test_console.py reads it)."""
    from ablation.run import main

    storage = tmp_path_factory.mktemp("runs")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["--profile", "smoke", "--storage", str(storage), "--name", "smoke", "--wandb", "offline"])
    (storage / "console.txt").write_text(printed.getvalue())
    return code, storage / "smoke"
