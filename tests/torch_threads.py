"""One torch thread for the tests of small networks (imported as a fixture by their modules)."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # These small nets run as fast on one thread as on two, and one thread does not collapse (10x and worse)
    # when other processes share the cores, as they do on a CI box.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
