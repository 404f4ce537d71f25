"""``endobench export``: a model to one verified ONNX file that carries its own configuration.

The graph is the predictor's forward pass: ``image`` (B x 3 x S x S, normalised) -> ``probability``
(B x 1 x S x S, sigmoid of the model's prediction). Before anything is written:

* fp32: ONNX Runtime must give PyTorch's probabilities within ``tolerance`` (1e-4) on a real image
  of the bundled sample (and at a second size with ``dynamic_size``);
* int8: the masks ONNX Runtime gives after the model's usual restore and binarise steps must agree
  with PyTorch's on every bundled sample image: mean Dice at least ``min_dice``.

Otherwise the export is refused and nothing is written. The file is written atomically.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from endobench.backends.ort import BATCH_AXIS, INPUT_NAME, METADATA_FORMAT, OUTPUT_NAME
from endobench.errors import ConfigError, EndobenchError

EXPORT_PRECISIONS = ("fp32", "int8")
OPSET = 17


class ExportCheckError(EndobenchError):
    """ONNX Runtime does not reproduce PyTorch closely enough: the export is refused."""


@dataclass
class ExportResult:
    """A written export: where, at which precision, and what its checks measured."""

    path: Path
    precision: str
    input_size: int
    metadata: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class ProbabilityGraph(nn.Module):
    """The exported computation: the sigmoid of a model's last output (its prediction)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(image)[-1].float())


def export_onnx(
    model: str,
    out: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    size: int | None = None,
    dynamic_size: bool = False,
    precision: str = "fp32",
    calibration: str | os.PathLike | None = None,
    calibration_images: int = 64,
    data_root: str | None = None,
    force: bool = False,
    allow_random: bool = False,
    tolerance: float = 1e-4,
    min_dice: float = 0.97,
) -> ExportResult:
    """Export a registered model to a verified ONNX file.

    Args:
        model: Registered model name.
        out: The ``.onnx`` file to write.
        weights: Weights file or ``"default"`` (default: the model's packaged weights).
        size: Square input side (default: the model's).
        dynamic_size: Let the file take other sides (multiples of the model's ``size_multiple``).
        precision: ``fp32`` or ``int8``.
        calibration: int8 only: image folder or named data set to calibrate on.
        calibration_images: int8 only: how many of its images (evenly spaced).
        data_root: Where named data sets are found.
        force: Overwrite an existing file.
        allow_random: Export random weights when the model has none (tests, speed benchmarks).
        tolerance: fp32: largest absolute probability difference allowed.
        min_dice: int8: smallest mean Dice between ONNX Runtime's and PyTorch's sample masks.

    Returns:
        The written file and its metadata.

    Raises:
        ConfigError: Bad options or an existing file without ``force``.
        ExportCheckError: ONNX Runtime disagrees with PyTorch (nothing written).
    """
    from endobench.predictor import Predictor

    began = time.perf_counter()
    out = _check_options(out, weights, precision, calibration, force)
    predictor = Predictor(
        model, weights=weights, size=size, device="cpu", optimise=False, allow_random=allow_random
    )
    if precision == "fp32":
        return export_predictor(predictor, out, tolerance=tolerance, dynamic_size=dynamic_size)
    side = predictor.input_size
    references = reference_images()
    with tempfile.TemporaryDirectory(prefix="endobench-export-") as scratch:
        fp32_path = Path(scratch) / "fp32.onnx"
        trace(predictor, fp32_path, dynamic_size)
        checks = {"fp32": verify_fp32(predictor, fp32_path, references, tolerance, dynamic_size)}
        from endobench.export.int8 import calibration_arrays, quantise

        arrays, described = calibration_arrays(
            calibration, predictor.preprocess.to_array, calibration_images, data_root
        )
        final = Path(scratch) / "int8.onnx"
        settings, checks["int8"] = quantise(
            fp32_path, final, arrays, lambda f: verify_masks(predictor, f, references, min_dice)
        )
        extra = {"quantisation": settings | {"calibration": described}}
        metadata = export_metadata(predictor, precision, dynamic_size, checks) | extra
        _write(final, out, metadata)
    return ExportResult(out, precision, side, metadata, time.perf_counter() - began)


def export_predictor(
    predictor, out: str | os.PathLike, *, tolerance: float = 1e-4, dynamic_size: bool = False
) -> ExportResult:
    """Export a built PyTorch predictor (one module, its weights loaded) to a verified fp32 file.

    The same trace, check and metadata as :func:`export_onnx` at fp32, for a caller that already
    holds the predictor (the CPU fast path of :mod:`endobench.export.fast_backend`). ``out`` is
    written atomically, replacing a file there.

    Raises:
        ExportCheckError: ONNX Runtime's probabilities differ by more than ``tolerance``.
    """
    began = time.perf_counter()
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="endobench-export-") as scratch:
        path = Path(scratch) / "fp32.onnx"
        trace(predictor, path, dynamic_size)
        checks = {"fp32": verify_fp32(predictor, path, reference_images(), tolerance, dynamic_size)}
        metadata = export_metadata(predictor, "fp32", dynamic_size, checks)
        _write(path, out, metadata)
    return ExportResult(out, "fp32", predictor.input_size, metadata, time.perf_counter() - began)


def _check_options(out, weights, precision: str, calibration, force: bool) -> Path:
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"--out {out}: name the file with the .onnx suffix")
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to overwrite it")
    if precision not in EXPORT_PRECISIONS:
        raise ConfigError(
            f"--precision {precision!r}: export writes {' or '.join(EXPORT_PRECISIONS)} "
            "(bf16 runs with --backend torch)"
        )
    if precision == "int8" and calibration is None:
        raise ConfigError("--precision int8 needs --calibration DIR_OR_DATASET (e.g. kvasir:train)")
    if precision != "int8" and calibration is not None:
        raise ConfigError("--calibration is for --precision int8 only")
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ConfigError("export takes one --weights file, not an ensemble")
    return out


def reference_images() -> list[tuple[str, np.ndarray]]:
    """Return the bundled sample's real images as ``(id, HxWx3 uint8 RGB)``: the checks' inputs."""
    from endobench.data import SAMPLE_SETS, read_image, sample_dataset

    out = []
    for name in SAMPLE_SETS:
        for sample in sample_dataset(name).samples:
            out.append((sample.id, read_image(sample.image)))
    return out


def trace(predictor, path: Path, dynamic_size: bool) -> None:
    """Write the predictor's torch module as an ONNX graph (TorchScript exporter, opset 17)."""
    graph = ProbabilityGraph(predictor.module).eval()
    side = predictor.input_size
    example = torch.zeros(1, 3, side, side)
    axes = {0: BATCH_AXIS} | ({2: "height", 3: "width"} if dynamic_size else {})
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation notes, not the user's concern
        torch.onnx.export(
            graph,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes},
            opset_version=OPSET,
            dynamo=False,
        )


def _session(path: Path) -> Any:
    """An ONNX Runtime session of a graph without endobench metadata yet (the checks' runner)."""
    import onnxruntime as ort

    from endobench.backends.ort import providers_for, session_options

    return ort.InferenceSession(str(path), session_options(), providers=providers_for("cpu"))


def verify_fp32(
    predictor, path: Path, references, tolerance: float, dynamic_size: bool
) -> dict[str, Any]:
    """Compare ONNX Runtime's probabilities with PyTorch's on a real image; refuse past ``tolerance``.

    With ``dynamic_size`` the comparison runs at the export side and at one size-multiple more.

    Raises:
        ExportCheckError: The largest absolute difference exceeds ``tolerance``.
    """
    from endobench.predictor import Preprocess

    session = _session(path)
    image_id, image = references[0]
    sides = [predictor.input_size]
    if dynamic_size:
        sides.append(predictor.input_size + int(predictor.config.get("size_multiple", 32)))
    worst = 0.0
    for side in sides:
        prep = Preprocess(side, predictor.preprocess.mean, predictor.preprocess.std)
        x = prep.to_array(image)[None]
        expected = predictor.forward_batch(torch.from_numpy(x)).numpy()
        got = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
        if got.shape != expected.shape:
            raise ExportCheckError(
                f"ONNX Runtime returned shape {got.shape} for {expected.shape} at {side} px; "
                "the file was not written"
            )
        diff = float(np.abs(got - expected).max())
        worst = max(worst, diff)
        if not diff <= tolerance:
            raise ExportCheckError(
                f"ONNX Runtime's probabilities differ from PyTorch's by {diff:.2e} (> {tolerance:g}) "
                f"on sample image {image_id} at {side} px; the file was not written"
            )
    return {"image": image_id, "sides": sides, "max_abs_diff": worst, "tolerance": tolerance}


def verify_masks(predictor, path: Path, references, min_dice: float) -> dict[str, Any]:
    """Compare the int8 file's masks with PyTorch's on every sample image (restored, binarised).

    Raises:
        ExportCheckError: Their mean Dice is below ``min_dice``.
    """
    from endobench.metrics import mask_dice

    session = _session(path)
    dices = []
    for _, image in references:
        x = predictor.preprocess.to_array(image)[None]
        shape = image.shape[:2]
        expected = predictor.binarize(
            predictor.restore(predictor.forward_batch(torch.from_numpy(x))[0, 0], shape)
        )
        got = predictor.binarize(
            predictor.restore(session.run([OUTPUT_NAME], {INPUT_NAME: x})[0][0, 0], shape)
        )
        dices.append(mask_dice(np.asarray(got, bool), np.asarray(expected, bool)))
    mean = float(np.mean(dices))
    if mean < min_dice:
        raise ExportCheckError(
            f"int8 masks agree with PyTorch's at mean Dice {mean:.4f} (< {min_dice:g}) on the "
            f"{len(dices)} bundled sample images; the file was not written (export fp32 instead)"
        )
    return {
        "images": len(dices),
        "mean_dice": mean,
        "min_dice": float(np.min(dices)),
        "required_mean_dice": min_dice,
    }


def export_metadata(
    predictor, precision: str, dynamic_size: bool, checks: dict[str, Any]
) -> dict[str, Any]:
    """The model configuration and provenance stored in the file (see ``endobench.backends.ort``)."""
    import onnxruntime

    from endobench import __version__

    config = predictor.config
    config["input_size"] = predictor.input_size
    config["postprocess"] = predictor.postprocess_params
    sha = predictor.weights_sha256
    return {
        "format": METADATA_FORMAT,
        "model": predictor.model_name,
        "config": config,
        "input_size": predictor.input_size,
        "dynamic_size": dynamic_size,
        "size_multiple": int(config.get("size_multiple", 32)),
        "mean": list(predictor.preprocess.mean),
        "std": list(predictor.preprocess.std),
        "postprocess": predictor.postprocess_params,
        "weights_sha256": sha,
        "random_weights": sha is None,
        "precision": precision,
        "endobench_version": __version__,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "opset": OPSET,
        "input": f"{INPUT_NAME}: B x 3 x S x S float32, normalised with mean/std",
        "output": f"{OUTPUT_NAME}: B x 1 x S x S float32, sigmoid of the prediction",
        "checks": checks,
        "exported_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _write(source: Path, out: Path, metadata: dict[str, Any]) -> None:
    """Write ``source`` with ``metadata`` to ``out`` atomically (a reader never sees half a file)."""
    import onnx

    from endobench.backends.ort import encode_metadata
    from endobench.io import atomic_path

    proto = onnx.load(str(source))
    del proto.metadata_props[:]
    for key, value in encode_metadata(metadata).items():
        proto.metadata_props.add(key=key, value=value)
    with atomic_path(out) as tmp:
        onnx.save(proto, str(tmp))
