"""The GPU fast path's logic on the CPU: graph replay per shape and its fallback, the precision
choice (reduced only where masks agree), what is recorded, and when ``select_fast_backend`` takes it.

CUDA graphs themselves need a GPU (``make gpu-check`` runs them); here a stand-in capture records
what would be captured, and the rest runs as it does on a GPU.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from export_tiny_model import TINY

from endobench import backends
from endobench.backends.cuda_graphs import MAX_SHAPES, GraphedForward
from endobench.export import fast_backend, gpu_path
from endobench.export.gpu_path import choose_precision, select_gpu_path
from endobench.predictor import Predictor


def _stand_in_capture(captured: list):
    """A capture that runs the step once per replay (what a graph replays), counting captures."""

    def capture(step, warmup):
        for _ in range(warmup):
            step()
        captured.append(step)
        return step

    return capture


def test_one_graph_per_shape_replays_the_forward_pass():
    captured: list = []
    graphed = GraphedForward(lambda x: x * 2, warmup=2, capture=_stand_in_capture(captured))
    a, b = torch.ones(2, 3), torch.arange(6.0).view(2, 3)
    assert torch.equal(graphed(a), a * 2) and torch.equal(graphed(b), b * 2)
    out = graphed(torch.ones(1, 3))
    assert torch.equal(out, torch.full((1, 3), 2.0))
    assert len(captured) == 2 and graphed.shapes == [(2, 3), (1, 3)]
    first = graphed(a)
    graphed(b)
    assert torch.equal(first, a * 2)  # a result is a copy, not the static output
    for n in range(3, 3 + MAX_SHAPES):
        graphed(torch.ones(n, 3))
    assert len(graphed.shapes) == MAX_SHAPES and graphed.describe() == "cuda_graph"


def test_a_failed_capture_runs_eagerly_and_says_why():
    def refuse(step, warmup):
        raise RuntimeError("operation not permitted when stream is capturing\nmore")

    graphed = GraphedForward(lambda x: x + 1, capture=refuse)
    assert torch.equal(graphed(torch.zeros(2)), torch.ones(2))
    assert graphed.failure == "RuntimeError: operation not permitted when stream is capturing"
    assert graphed.describe().startswith("cuda_graph (failed, eager: RuntimeError")
    assert torch.equal(graphed(torch.zeros(3)), torch.ones(3)) and graphed.shapes == []


def test_the_fastest_agreeing_precision_is_chosen_and_the_others_explained():
    agreement = {
        "bf16": {"status": "ok", "min_dice": 0.951},
        "fp16": {"status": "ok", "min_dice": 0.995},
    }
    chosen, why = choose_precision(agreement, {"fp32": 5.0, "fp16": 3.0})
    assert chosen == "fp16" and why.startswith("fp16 is the fastest agreeing precision (3.00 ms")
    assert "fp32 5.00 ms" in why and "bf16 masks differ (min Dice 0.9510 < 0.99)" in why
    chosen, why = choose_precision(agreement, {"fp32": 2.0, "fp16": 3.0})
    assert chosen == "fp32" and "fp16 masks agree (min Dice 0.9950), 3.00 ms" in why
    skipped = {"bf16": {"status": "skipped", "reason": "this GPU does not support bf16"}}
    assert choose_precision(skipped, {"fp32": 4.0})[1].endswith(
        "bf16 skipped (this GPU does not support bf16)"
    )


@pytest.fixture
def timed(monkeypatch):
    times = {"fp32": 6.0, "bf16": 2.0, "fp16": 3.0}
    monkeypatch.setattr(gpu_path, "_median_ms", lambda predictor, x: times[predictor.precision])
    monkeypatch.setattr(backends, "cpu_supports_bf16", lambda flags=None: True)
    return times


def test_selection_takes_bf16_where_its_masks_agree(tiny_weights, timed):
    predictor = Predictor(TINY, weights=str(tiny_weights), device="cpu", optimise=False)
    chosen = select_gpu_path(predictor, min_dice=0.0)
    assert chosen.predictor is predictor and chosen.backend == "torch"
    assert predictor.precision == "bf16" and predictor.dtype == torch.bfloat16
    assert predictor.inference_path == "torch + channels_last bf16"  # no graph on the CPU
    assert chosen.reason.startswith("torch + channels_last bf16: bf16 is the fastest agreeing")
    assert chosen.check["times_ms"] == {"fp32": 6.0, "bf16": 2.0}
    assert (
        chosen.check["agreement"]["fp16"]["reason"] == "fp16 autocast is not supported on the CPU"
    )
    assert predictor.predict([torch.zeros(40, 50, 3, dtype=torch.uint8).numpy()])[0].shape == (
        40,
        50,
    )


def test_selection_keeps_fp32_where_reduced_masks_differ(tiny_weights, timed):
    predictor = Predictor(TINY, weights=str(tiny_weights), device="cpu", optimise=False)
    eager = predictor.predict_masks([_image()])[0]
    chosen = select_gpu_path(predictor, min_dice=1.01)
    assert predictor.precision == "fp32" and chosen.check["times_ms"] == {"fp32": 6.0}
    assert "bf16 masks differ" in chosen.reason
    assert (predictor.predict_masks([_image()])[0] == eager).all()  # channels-last, same masks


def test_an_asked_precision_is_kept(tiny_weights, timed):
    predictor = Predictor(TINY, weights=str(tiny_weights), device="cpu", precision="bf16")
    chosen = select_gpu_path(predictor)
    assert chosen.reason == "torch + channels_last bf16: precision bf16, as asked"


def test_a_cuda_predictor_on_auto_takes_the_gpu_path(monkeypatch):
    calls = []
    monkeypatch.setattr(gpu_path, "select_gpu_path", lambda p, **kw: calls.append(kw) or "gpu")
    cuda = SimpleNamespace(device=torch.device("cuda", 0), backend="torch", precision="fp32")
    assert fast_backend.select_fast_backend(cuda) == "gpu" and len(calls) == 1
    asked = fast_backend.select_fast_backend(cuda, requested="torch")
    assert asked.reason == "--backend torch: eager PyTorch, as asked" and len(calls) == 1


def _image():
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(48, 56, 3), dtype=np.uint8)
