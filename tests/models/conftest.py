"""Model tests run single-threaded: tiny tensors gain nothing from threads, and on a shared machine
OpenMP threads that spin while waiting for a busy core slow every call down many times."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
