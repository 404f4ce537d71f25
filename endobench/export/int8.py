"""int8 static quantisation of an fp32 export with ONNX Runtime, and the calibration images.

Only what is safe is quantised: convolutions, with their ReLU/ReLU6 (``Relu``/``Clip``) so that the
activation's range, not the unbounded pre-activation range, sets the int8 scale. Sigmoids, resizes,
the reverse-attention products, additions and concatenations stay float (QDQ format, weights
per output channel). The caller checks the masks against PyTorch's before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from endobench.backends.ort import INPUT_NAME
from endobench.errors import ConfigError

#: ONNX operators the quantiser may touch (activations only where they follow a convolution).
QUANTISED_OPS = ("Conv", "Relu", "Clip")


def calibration_arrays(
    source: str | os.PathLike,
    to_array: Callable[[np.ndarray], np.ndarray],
    count: int = 64,
    data_root: str | None = None,
) -> tuple[list[np.ndarray], str]:
    """Return up to ``count`` evenly spaced preprocessed images (1 x 3 x S x S) and a description.

    Args:
        source: An image folder (any layout endobench reads) or a named data set
            (``kvasir:train``, ``sample/kvasir`` ...).
        to_array: The predictor's preprocessing (``HxWx3 uint8 -> 3xSxS float32``).
        count: How many images at most.
        data_root: Where named data sets are found.

    Raises:
        ConfigError: The source holds no image.
        DataError: An unknown name or an unreadable image.
    """
    from endobench.data import read_image
    from endobench.runner.sources import resolve_inputs
    from endobench.runner.timing import evenly_spaced

    text = str(source)
    if Path(text).is_dir():
        (found,) = resolve_inputs([], [text], [], data_root)
    else:
        (found,) = resolve_inputs([text], [], [], data_root)
    samples = list(found.dataset.samples)
    if not samples:
        raise ConfigError(f"--calibration {text}: no images there; give a folder of images")
    chosen = [samples[i] for i in evenly_spaced(len(samples), count)]
    arrays = [to_array(read_image(sample.image))[None] for sample in chosen]
    return arrays, f"{len(arrays)} of {len(samples)} images of {text} (evenly spaced)"


class _Reader:
    """ONNX Runtime's calibration-reader protocol over a list of arrays."""

    def __init__(self, arrays: list[np.ndarray]):
        self._arrays: Iterator[np.ndarray] = iter(arrays)

    def get_next(self) -> dict[str, np.ndarray] | None:
        array = next(self._arrays, None)
        return None if array is None else {INPUT_NAME: array}


def fold_constants(source: Path, dest: Path) -> None:
    """Write ``source`` after ONNX Runtime's basic graph optimisations (constant folding, no
    Identity nodes); hardware-independent, so the file stays portable."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(dest)
    options.log_severity_level = 3
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def quantise(fp32_path: Path, int8_path: Path, arrays: list[np.ndarray]) -> dict[str, object]:
    """Write the int8 QDQ model of ``fp32_path`` to ``int8_path``, calibrated on ``arrays``.

    Args:
        fp32_path: The verified fp32 export.
        int8_path: Where to write the quantised graph (a temporary file of the caller).
        arrays: Preprocessed calibration images, 1 x 3 x S x S each.

    Returns:
        The settings used (recorded in the file's metadata).
    """
    import logging

    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    settings = {
        "method": "onnxruntime static quantisation, QDQ, MinMax calibration",
        "operators": list(QUANTISED_OPS),
        "weights": "int8, per output channel",
        "activations": "uint8, per tensor",
        "float": "sigmoid, resize, reverse attention, additions, concatenations",
    }
    # The TorchScript exporter hands some weights to convolutions through Identity nodes; the
    # quantiser then sees no constant weight and leaves the convolution float. ONNX Runtime's basic
    # (hardware-independent) graph optimisations fold them first.
    basic = int8_path.with_name(int8_path.stem + ".basic.onnx")
    fold_constants(fp32_path, basic)
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser's advice goes to the root logger
    try:
        quantize_static(
            str(basic),
            str(int8_path),
            _Reader(arrays),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTISED_OPS),
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
    finally:
        logging.getLogger().setLevel(quiet)
    done, total = count_int8_convolutions(int8_path)
    return settings | {"convolutions": f"{done} of {total} in int8"}


def count_int8_convolutions(path: Path) -> tuple[int, int]:
    """Return ``(convolutions with int8 weights, all convolutions)`` of a QDQ graph."""
    import onnx

    graph = onnx.load(str(path)).graph
    int8 = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.INT8}
    producers = {out: node for node in graph.node for out in node.output}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    done = sum(
        1
        for conv in convs
        if conv.input[1] in producers and producers[conv.input[1]].input[0] in int8
    )
    return done, len(convs)
