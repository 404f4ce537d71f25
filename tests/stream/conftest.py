"""Fixtures of the stream tests: the scripted model in place of the real one."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from stream_helpers import ScriptedPredictor


@pytest.fixture
def scripted_model(monkeypatch):
    """``run_stream`` opens the scripted predictor (bright frames are polyp) instead of a model."""
    import endobench.export.fast_backend as fast_backend
    import endobench.stream.run as run_module

    predictor = ScriptedPredictor()
    monkeypatch.setattr(run_module, "open_predictor", lambda *args, **kwargs: predictor)
    # the command's fast-path choice keeps the scripted predictor (it has no model to export)
    kept = SimpleNamespace(predictor=predictor, record=lambda: {"backend": "scripted"})
    monkeypatch.setattr(fast_backend, "select_fast_backend", lambda *args, **kwargs: kept)
    return predictor
