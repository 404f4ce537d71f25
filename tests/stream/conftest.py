"""Fixtures of the stream tests: the scripted model in place of the real one."""

from __future__ import annotations

import pytest
from stream_helpers import ScriptedPredictor


@pytest.fixture
def scripted_model(monkeypatch):
    """``run_stream`` opens the scripted predictor (bright frames are polyp) instead of a model."""
    import endobench.stream.run as run_module

    predictor = ScriptedPredictor()
    monkeypatch.setattr(run_module, "open_predictor", lambda *args, **kwargs: predictor)
    return predictor
