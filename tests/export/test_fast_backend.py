"""The CPU fast path: ONNX Runtime when its masks match eager fp32 and it is faster, cached once."""

from __future__ import annotations

import json

import pytest
from export_tiny_model import TINY

from endobench import backends
from endobench.export import cache, fast_backend
from endobench.export.fast_backend import select_fast_backend
from endobench.predictor import Predictor


@pytest.fixture
def timed(monkeypatch):
    """Fixed forward times: eager 10 ms, ONNX Runtime 4 ms (change ``speeds`` to reverse them)."""
    speeds = {"torch": 10.0, "onnxruntime": 4.0}

    def median_ms(forward, x):
        forward(x)  # the real pass still runs
        owner = forward.__self__
        return speeds[owner.backend]

    monkeypatch.setattr(fast_backend, "_median_ms", median_ms)
    return speeds


def _eager(weights, **kwargs) -> Predictor:
    return Predictor(TINY, weights=str(weights), device="cpu", **kwargs)


def test_onnx_runtime_is_chosen_once_verified_and_read_from_the_cache(
    tmp_path, tiny_weights, timed, monkeypatch
):
    eager = _eager(tiny_weights)
    chosen = select_fast_backend(eager, cache_dir=tmp_path)
    assert chosen.backend == "onnxruntime" and chosen.predictor.backend == "onnxruntime"
    assert chosen.reason.startswith("onnxruntime: same masks (min per-image mask Dice")
    assert "2.5x faster: 4.0 ms against eager 10.0 ms" in chosen.reason
    check = chosen.check
    assert check["min_dice"] >= 0.99 and len(check["images"]) == 10 and not chosen.cached
    assert chosen.predictor.weights_sha256 == eager.weights_sha256
    files = sorted(p.name for p in (tmp_path / cache.EXPORTS_DIR).iterdir())
    assert len(files) == 2 and files[0].startswith(f"{TINY}-64-") and files[1].endswith(".onnx")
    record = chosen.record()
    assert record["backend"] == "onnxruntime" and record["onnx_file"].endswith(".onnx")
    json.dumps(record, allow_nan=False)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr("endobench.export.onnx.export_predictor", no_export)
    again = select_fast_backend(_eager(tiny_weights), cache_dir=tmp_path)
    assert (again.backend, again.reason) == (chosen.backend, chosen.reason)
    assert again.cached and again.record() == chosen.record()


def test_a_slower_or_disagreeing_export_keeps_eager_pytorch_and_says_why(
    tmp_path, tiny_weights, timed
):
    timed["onnxruntime"] = 12.0
    slower = select_fast_backend(_eager(tiny_weights), cache_dir=tmp_path / "a")
    assert slower.backend == "torch" and slower.predictor.backend == "torch"
    assert slower.reason.startswith("eager PyTorch: the verified ONNX export is not faster")
    differ = select_fast_backend(_eager(tiny_weights), cache_dir=tmp_path / "b", min_dice=1.01)
    assert differ.backend == "torch" and differ.onnx_file is None
    assert differ.reason.startswith("eager PyTorch: the ONNX export's masks differ")


def test_a_damaged_cached_export_is_built_again(tmp_path, tiny_weights, timed):
    first = select_fast_backend(_eager(tiny_weights), cache_dir=tmp_path)
    with open(first.onnx_file, "ab") as handle:
        handle.write(b"tampered")
    second = select_fast_backend(_eager(tiny_weights), cache_dir=tmp_path)
    assert second.backend == "onnxruntime" and not second.cached


def test_a_refused_export_keeps_eager_pytorch_with_the_reason(tmp_path, tiny_weights, monkeypatch):
    from endobench.export.onnx import ExportCheckError

    def refuse(predictor, out, **kwargs):
        raise ExportCheckError("probabilities differ by 1e-2")

    monkeypatch.setattr("endobench.export.onnx.export_predictor", refuse)
    kept = select_fast_backend(_eager(tiny_weights), cache_dir=tmp_path)
    assert kept.backend == "torch"
    assert kept.reason == (
        "eager PyTorch: its ONNX export was refused (probabilities differ by 1e-2)"
    )


def test_what_stays_eager_and_why(tmp_path, tiny_weights, tiny_onnx, monkeypatch):
    def reason(predictor, requested="auto"):
        selection = select_fast_backend(predictor, requested=requested, cache_dir=tmp_path)
        assert selection.predictor is predictor and selection.check is None
        return selection.reason

    eager = _eager(tiny_weights)
    assert reason(eager, "torch") == "--backend torch: eager PyTorch, as asked"
    random = Predictor(TINY, device="cpu", allow_random=True)
    assert reason(random).startswith("random weights")
    ensemble = Predictor(TINY, weights=[str(tiny_weights)] * 2, device="cpu")
    assert reason(ensemble).startswith("a fold ensemble")
    onnx = Predictor(None, weights=str(tiny_onnx))
    assert reason(onnx).startswith("the weights are an exported .onnx file")
    monkeypatch.setattr(backends, "cpu_supports_bf16", lambda flags=None: True)
    assert reason(_eager(tiny_weights, precision="bf16")).startswith("precision bf16 asked")
    assert not (tmp_path / cache.EXPORTS_DIR).exists()


def test_the_cache_folder_rule_and_key(monkeypatch, tmp_path):
    monkeypatch.setenv("ENDOBENCH_CACHE", str(tmp_path / "explicit"))
    assert cache.cache_root() == tmp_path / "explicit"
    monkeypatch.delenv("ENDOBENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "endobench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_root() == tmp_path / "home" / ".cache" / "endobench"
    key = cache.export_key("ab" * 32, "brp_lite", 352, "1.20.0", 17)
    onnx, record = cache.export_paths(key, tmp_path)
    assert onnx.parent == tmp_path / "onnx" and onnx.name.startswith("brp_lite-352-")
    assert record == onnx.with_suffix(".json")
    for change in ({"input_size": 384}, {"onnxruntime": "1.21.0"}, {"weights_sha256": "cd" * 32}):
        assert cache.export_paths(key | change, tmp_path)[0] != onnx
