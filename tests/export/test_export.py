"""endobench export: metadata, the checks that refuse a wrong file, int8, and round trips."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from export_tiny_model import TINY, TINY_SIZE

from endobench import __version__
from endobench.backends.ort import decode_metadata
from endobench.errors import ConfigError
from endobench.export import ExportCheckError, export_onnx
from endobench.export.onnx import ProbabilityGraph, reference_images
from endobench.io import sha256_file
from endobench.metrics import mask_dice
from endobench.predictor import Predictor


def _metadata(path):
    proto = onnx.load(str(path))
    return decode_metadata({p.key: p.value for p in proto.metadata_props}, path)


def test_fp32_export_carries_the_model_config(tiny_onnx, tiny_weights):
    meta = _metadata(tiny_onnx)
    torch_predictor = Predictor(TINY, weights=str(tiny_weights), device="cpu")
    assert meta["model"] == TINY
    assert meta["input_size"] == TINY_SIZE
    assert meta["mean"] == list(torch_predictor.preprocess.mean)
    assert meta["std"] == list(torch_predictor.preprocess.std)
    assert meta["postprocess"] == torch_predictor.postprocess_params
    assert meta["config"]["name"] == TINY
    assert meta["weights_sha256"] == sha256_file(tiny_weights)
    assert meta["endobench_version"] == __version__
    assert meta["precision"] == "fp32"
    check = meta["checks"]["fp32"]
    assert check["max_abs_diff"] <= 1e-4
    assert check["image"] == reference_images()[0][0]
    graph = onnx.load(str(tiny_onnx)).graph
    assert [i.name for i in graph.input] == ["image"]
    assert [o.name for o in graph.output] == ["probability"]


def test_onnx_predictor_gives_the_torch_probabilities_and_masks(tiny_onnx, tiny_weights):
    images = [image for _, image in reference_images()]
    runtime = Predictor(None, weights=tiny_onnx)
    eager = Predictor(TINY, weights=str(tiny_weights), device="cpu")
    assert (runtime.backend, runtime.precision, runtime.model_name) == ("onnxruntime", "fp32", TINY)
    assert runtime.weights_sha256 == eager.weights_sha256
    for image, got, want in zip(
        images, runtime.predict(images), eager.predict(images), strict=True
    ):
        assert got.shape == image.shape[:2]
        assert np.abs(got - want).max() <= 1e-4
        assert mask_dice(runtime.binarize(got), eager.binarize(want)) >= 0.999


def test_a_broken_export_is_refused_and_nothing_is_written(monkeypatch, tiny_weights, tmp_path):
    def off_by_a_little(self, image):
        return torch.sigmoid(self.model(image)[-1]) + 1e-3

    monkeypatch.setattr(ProbabilityGraph, "forward", off_by_a_little)
    out = tmp_path / "broken.onnx"
    with pytest.raises(ExportCheckError, match=r"differ from PyTorch's by .* \(> 0\.0001\)"):
        export_onnx(TINY, out, weights=str(tiny_weights))
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_needs_force(tiny_onnx, tiny_weights):
    before = tiny_onnx.read_bytes()
    with pytest.raises(ConfigError, match="exists; pass --force"):
        export_onnx(TINY, tiny_onnx, weights=str(tiny_weights))
    assert tiny_onnx.read_bytes() == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"precision": "int8"}, "needs --calibration"),
        ({"precision": "bf16"}, "export writes fp32 or int8"),
        ({"calibration": "sample/kvasir"}, "for --precision int8 only"),
    ],
)
def test_export_options_are_checked(tmp_path, tiny_weights, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        export_onnx(TINY, tmp_path / "x.onnx", weights=str(tiny_weights), **kwargs)


def test_dynamic_size_export_runs_at_other_sides(tiny_weights, tmp_path, tiny_onnx):
    out = export_onnx(TINY, tmp_path / "dyn.onnx", weights=str(tiny_weights), dynamic_size=True)
    assert out.metadata["checks"]["fp32"]["sides"] == [TINY_SIZE, TINY_SIZE + 32]
    image = reference_images()[1][1]
    runtime = Predictor(None, weights=out.path, size=96)
    eager = Predictor(TINY, weights=str(tiny_weights), size=96, device="cpu")
    assert np.abs(runtime.predict([image])[0] - eager.predict([image])[0]).max() <= 1e-4
    with pytest.raises(ConfigError, match="exported at 64 px"):
        Predictor(None, weights=tiny_onnx, size=96)


def test_int8_export_quantises_convolutions_only(tiny_weights, tmp_path):
    out = export_onnx(
        TINY,
        tmp_path / "int8.onnx",
        weights=str(tiny_weights),
        precision="int8",
        calibration="sample/kvasir",
        min_dice=0.9,
    )
    meta = _metadata(out.path)
    assert meta["precision"] == "int8"
    assert meta["checks"]["int8"]["images"] == len(reference_images())
    assert meta["checks"]["int8"]["mean_dice"] >= 0.9
    assert "10 of 10 images of sample/kvasir" in meta["quantisation"]["calibration"]
    assert meta["quantisation"]["convolutions"] == "3 of 3 in int8"
    graph = onnx.load(str(out.path)).graph
    producers = {o: n for n in graph.node for o in n.output}
    int8_weights = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.INT8}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert convs and all(producers[n.input[1]].input[0] in int8_weights for n in convs)
    for node in graph.node:
        if node.op_type in ("Sigmoid", "Resize"):  # kept float: fed by float ops, not int8 ones
            assert all(
                producers[i].op_type != "QuantizeLinear" for i in node.input if i in producers
            )
    runtime = Predictor(None, weights=out.path)
    assert (runtime.backend, runtime.precision) == ("onnxruntime", "int8")


def test_int8_export_below_the_mask_agreement_is_refused(tiny_weights, tmp_path):
    out = tmp_path / "int8.onnx"
    with pytest.raises(ExportCheckError, match=r"int8 masks agree .* \(< 1\.01\)"):
        export_onnx(
            TINY,
            out,
            weights=str(tiny_weights),
            precision="int8",
            calibration="sample/kvasir",
            calibration_images=4,
            min_dice=1.01,
        )
    assert not out.exists()


def test_float_steps_keep_the_decoder_then_also_the_first_convolution_float():
    from endobench.export.int8 import float_steps

    names = ["/model/backbone/conv_stem/Conv", "/model/backbone/b0/Conv", "/model/ra2/conv/Conv"]
    assert float_steps(names) == [
        ("none", []),
        ("the decoder's convolutions", [names[2]]),
        ("the decoder's and the encoder's first convolution", [names[2], names[0]]),
    ]
    assert float_steps(["/model/a/Conv", "/model/b/Conv"]) == [("none", [])]  # no encoder mark
    assert float_steps(names[:2]) == [("none", [])]  # nothing outside the encoder


def test_int8_keeps_the_first_try_whose_masks_pass_the_check(tiny_onnx, tmp_path):
    from endobench.export.int8 import count_int8_convolutions, quantise

    first = next(n.name for n in onnx.load(str(tiny_onnx)).graph.node if n.op_type == "Conv")
    rng = np.random.default_rng(0)
    arrays = [rng.random((1, 3, TINY_SIZE, TINY_SIZE), dtype=np.float32) for _ in range(4)]
    steps = [("none", []), ("the first convolution", [first])]
    tried = []

    def all_int8_disagrees(path):
        done, total = count_int8_convolutions(path)
        tried.append(done)
        if done == total:
            raise ExportCheckError("int8 masks agree at mean Dice 0.5")
        return {"mean_dice": 0.99}

    settings, figures = quantise(tiny_onnx, tmp_path / "q.onnx", arrays, all_int8_disagrees, steps)
    assert tried == [3, 2] and figures == {"mean_dice": 0.99}
    assert settings["tries"] == 2 and settings["convolutions"] == "2 of 3 in int8"
    assert settings["convolutions kept float"] == "the first convolution"

    def never(path):
        raise ExportCheckError("int8 masks agree at mean Dice 0.5")

    with pytest.raises(
        ExportCheckError, match=r"no int8 file passed \(2 tries\): none float: .*; the first"
    ):
        quantise(tiny_onnx, tmp_path / "r.onnx", arrays, never, steps)


@pytest.mark.slow
def test_brp_lite_round_trip_at_a_small_size(tmp_path):
    out = export_onnx("brp_lite", tmp_path / "brp_lite.onnx", size=64)
    meta = _metadata(out.path)
    eager = Predictor("brp_lite", size=64, device="cpu")
    assert meta["weights_sha256"] == eager.weights_sha256
    assert meta["postprocess"] == eager.postprocess_params
    assert meta["checks"]["fp32"]["max_abs_diff"] <= 1e-4
    runtime = Predictor(None, weights=out.path)
    images = [image for _, image in reference_images()]
    for got, want in zip(runtime.predict_masks(images), eager.predict_masks(images), strict=True):
        assert mask_dice(got, want) >= 0.99


def test_batches_run_through_a_general_session(tiny_onnx, tiny_weights):
    runtime = Predictor(None, weights=tiny_onnx)
    eager = Predictor(TINY, weights=str(tiny_weights), device="cpu")
    images = [image for _, image in reference_images()[:3]]
    x = torch.stack([runtime.preprocess(image) for image in images])
    batched = runtime.forward_batch(x)
    assert batched.shape == (3, 1, TINY_SIZE, TINY_SIZE)
    assert float((batched - eager.forward_batch(x)).abs().max()) <= 1e-4
    assert float((batched[1:2] - runtime.forward_batch(x[1:2])).abs().max()) <= 1e-5


def test_cli_export_writes_a_checked_file_and_refuses_to_overwrite(tiny_weights, tmp_path):
    from typer.testing import CliRunner

    from endobench.cli import app

    out = tmp_path / "cli.onnx"
    args = ["export", "--model", TINY, "--weights", str(tiny_weights), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert "checked: ONNX Runtime within" in result.output
    assert f"wrote {out} (fp32, {TINY_SIZE} px" in result.output
    assert _metadata(out)["model"] == TINY
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2
    assert again.output.strip() == f"Error: {out} exists; pass --force to overwrite it"
