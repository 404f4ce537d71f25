"""The predictor: preprocessing from the model config, restoring original sizes, ensembles, masks."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from endobench.errors import ConfigError, WeightsError
from endobench.models import create_model, save_checkpoint
from endobench.predictor import Predictor, Preprocess


def _images(seed=0):
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (37, 53, 3), dtype=np.uint8),
        rng.integers(0, 256, (80, 64, 3), dtype=np.uint8),
        rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
    ]


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("folds")
    paths = []
    for fold in range(2):
        torch.manual_seed(fold)
        model = create_model("brp_lite")
        paths.append(save_checkpoint(folder / f"fold{fold}.safetensors", model, {"fold": fold}))
    return paths


def test_preprocess_normalises_with_the_model_constants_and_pickles():
    prep = Preprocess(64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    image = np.zeros((37, 53, 3), np.uint8)
    image[..., 0] = 255
    x = pickle.loads(pickle.dumps(prep))(image)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.ones(64, 64)) and torch.allclose(x[1], -torch.ones(64, 64))
    with pytest.raises(ConfigError, match="RGB"):
        prep(np.zeros((8, 8), np.uint8))


def test_predict_restores_each_original_size(two_checkpoints):
    predictor = Predictor("brp_lite", weights=str(two_checkpoints[0]), size=64, device="cpu")
    assert predictor.model_name == "brp_lite" and predictor.input_size == 64
    assert predictor.preprocess.mean == (0.5, 0.5, 0.5)
    assert predictor.device == torch.device("cpu") and predictor.dtype == torch.float32
    images = _images()
    probs = predictor.predict(images)
    assert [p.shape for p in probs] == [(37, 53), (80, 64), (64, 64)]
    assert all(p.dtype == np.float32 and 0 <= p.min() and p.max() <= 1 for p in probs)
    masks = predictor.predict_masks(images)
    assert [m.shape for m in masks] == [(37, 53), (80, 64), (64, 64)]
    assert all(np.array_equal(m, p > 0.5) for m, p in zip(masks, probs, strict=True))


def test_restore_matches_the_network_output_at_input_size(two_checkpoints):
    predictor = Predictor("brp_lite", weights=str(two_checkpoints[0]), size=64, device="cpu")
    image = _images()[2]
    prob = predictor.forward_batch(predictor.preprocess(image)[None])
    assert prob.shape == (1, 1, 64, 64)
    np.testing.assert_allclose(predictor.predict([image])[0], prob[0, 0].numpy(), atol=1e-6)
    restored = Predictor.restore(
        np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64), (37, 53)
    )
    assert restored.shape == (37, 53) and restored[0, 0] < restored[-1, -1]


def test_ensemble_averages_probabilities(two_checkpoints):
    images = _images(1)
    single = [
        Predictor("brp_lite", weights=str(p), size=64, device="cpu").predict(images)
        for p in two_checkpoints
    ]
    ensemble = Predictor(
        "brp_lite", weights=[str(p) for p in two_checkpoints], size=64, device="cpu"
    )
    assert len(ensemble.weights_sha256) == 2
    for got, a, b in zip(ensemble.predict(images), *single, strict=True):
        np.testing.assert_allclose(got, (a + b) / 2, atol=1e-5)
        assert not np.allclose(a, b, atol=1e-3)  # the folds really differ


def test_post_model_binarises_with_its_parameters(two_checkpoints):
    params = {"reference_area": 0.2, "confidence": 0.6, "polarise": 0.3}
    predictor = Predictor(create_model("brp_lite_post", postprocess=params), size=64, device="cpu")
    assert predictor.postprocess_params == params
    polyp = np.full((10, 10), 0.35, np.float32)
    polyp[:5] = 0.9  # 50 % confident
    assert predictor.binarize(polyp).all()  # polarised at 0.3
    pending = polyp.copy()
    pending[1:] = 0.35  # 10 % confident
    assert not predictor.binarize(pending).any()


def test_batches_give_the_same_numbers_as_one_by_one(two_checkpoints):
    images = _images(2)
    batched = Predictor(
        "brp_lite", weights=str(two_checkpoints[1]), size=64, device="cpu", batch_size=3
    )
    single = Predictor(
        "brp_lite", weights=str(two_checkpoints[1]), size=64, device="cpu", batch_size=1
    )
    for a, b in zip(batched.predict(images), single.predict(images), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_optimised_predictor_matches(two_checkpoints):
    images = _images(3)
    path = str(two_checkpoints[0])
    plain = Predictor("brp_lite", weights=path, size=64, device="cpu", optimise=False)
    fast = Predictor("brp_lite", weights=path, size=64, device="cpu")  # "auto": on for the CPU
    for a, b in zip(plain.predict(images), fast.predict(images), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)
    module = create_model("brp_lite").eval()
    Predictor(module, size=64, device="cpu", optimise=True)
    assert isinstance(module.ra2_conv1.bn, torch.nn.BatchNorm2d)  # the caller's module is untouched


def test_no_weights_is_an_error_unless_random_is_allowed(monkeypatch, tmp_path):
    from endobench.models import checkpoint

    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(WeightsError, match="brp_lite.safetensors"):
        Predictor("brp_lite", size=64, device="cpu")
    predictor = Predictor("brp_lite", size=64, device="cpu", allow_random=True)
    assert predictor.weights_sha256 is None
    with pytest.raises(ConfigError, match="multiple of 32: use 64 or 96"):
        Predictor("brp_lite", size=70, device="cpu", allow_random=True)


@pytest.mark.needs("cpu_bf16")
def test_bfloat16_autocast_runs():
    predictor = Predictor("brp_lite", size=64, device="cpu", dtype="bf16", allow_random=True)
    assert predictor.dtype == torch.bfloat16
    prob = predictor.predict(_images()[:1])[0]
    assert prob.dtype == np.float32 and np.isfinite(prob).all()


@pytest.mark.shared("Kvasir-SEG")
def test_real_image_comes_back_at_its_own_size(shared_data):
    from endobench.data import read_image

    path = sorted((shared_data / "Kvasir-SEG" / "images").glob("*.jpg"))[0]
    image = read_image(path)
    predictor = Predictor("brp_lite_post", size=64, device="cpu", allow_random=True)
    prob = predictor.predict([image])[0]
    mask = predictor.predict_masks([image])[0]
    assert prob.shape == mask.shape == image.shape[:2]
    assert prob.dtype == np.float32 and mask.dtype == bool
