"""int8 static quantisation of an fp32 export with ONNX Runtime, and the calibration images.

Only what is safe is quantised: convolutions, with their ReLU/ReLU6 (``Relu``/``Clip``) so that the
activation's range, not the unbounded pre-activation range, sets the int8 scale. Sigmoids, resizes,
the reverse-attention products, additions and concatenations stay float (QDQ format, weights
per output channel). The caller's check compares the masks with PyTorch's; when they disagree,
the decoder's convolutions, then also the encoder's first, stay float too (:func:`float_steps`),
and the first file that passes is kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    from endobench.data.inputs import evenly_spaced, open_source

    text = str(source)
    samples = list(open_source(text, data_root).samples)
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


#: Convolutions of the encoder: their ONNX node names hold this (the models' ``backbone`` module).
ENCODER_MARK = "/backbone/"


def float_steps(conv_names: list[str]) -> list[tuple[str, list[str]]]:
    """What stays float at each try, least first: nothing; then the decoder (every convolution
    outside the encoder); then also the encoder's first convolution, which sees raw pixels.

    Args:
        conv_names: The graph's convolution node names, in graph order.

    Returns:
        ``(description, convolutions kept float)`` per try (one try for a graph without an encoder
        mark, or one that is all encoder).
    """
    encoder = [name for name in conv_names if ENCODER_MARK in name]
    decoder = [name for name in conv_names if ENCODER_MARK not in name]
    steps = [("none", [])]
    if encoder and decoder:
        steps.append(("the decoder's convolutions", decoder))
        steps.append(("the decoder's and the encoder's first convolution", decoder + encoder[:1]))
    return steps


def quantise(
    fp32_path: Path,
    int8_path: Path,
    arrays: list[np.ndarray],
    check: Callable[[Path], dict[str, Any]],
    steps: list[tuple[str, list[str]]] | None = None,
) -> tuple[dict[str, object], dict[str, Any]]:
    """Write the int8 QDQ model of ``fp32_path`` to ``int8_path`` that passes ``check``.

    Quantises as much as the check allows: the tries of :func:`float_steps` in order, the first
    that passes is kept.

    Args:
        fp32_path: The verified fp32 export.
        int8_path: Where to write the quantised graph (a temporary file of the caller).
        arrays: Preprocessed calibration images, 1 x 3 x S x S each.
        check: Verifies a quantised file: returns its figures or raises an
            :class:`~endobench.errors.EndobenchError` (the masks disagree).
        steps: The tries (default: :func:`float_steps` of the graph).

    Returns:
        The settings used (recorded in the file's metadata) and the passing check's figures.

    Raises:
        EndobenchError: No try passed: the last try's error, with every try's outcome.
    """
    import onnx

    from endobench.errors import EndobenchError

    # The TorchScript exporter hands some weights to convolutions through Identity nodes; the
    # quantiser then sees no constant weight and leaves the convolution float. ONNX Runtime's basic
    # (hardware-independent) graph optimisations fold them first.
    basic = int8_path.with_name(int8_path.stem + ".basic.onnx")
    fold_constants(fp32_path, basic)
    if steps is None:
        convs = [n.name for n in onnx.load(str(basic)).graph.node if n.op_type == "Conv"]
        steps = float_steps(convs)
    failures: list[str] = []
    last: EndobenchError | None = None
    for kept_float, exclude in steps:
        _quantise_static(basic, int8_path, arrays, exclude)
        try:
            figures = check(int8_path)
        except EndobenchError as err:
            failures.append(f"{kept_float} float: {err}")
            last = err
            continue
        done, total = count_int8_convolutions(int8_path)
        settings = {
            "method": "onnxruntime static quantisation, QDQ, MinMax calibration",
            "operators": list(QUANTISED_OPS),
            "weights": "int8, per output channel",
            "activations": "uint8, per tensor",
            "float": "sigmoid, resize, reverse attention, additions, concatenations",
            "convolutions kept float": kept_float,
            "tries": len(failures) + 1,
            "convolutions": f"{done} of {total} in int8",
        }
        return settings, figures
    if len(failures) == 1:
        raise last
    raise type(last)(f"no int8 file passed ({len(failures)} tries): " + "; ".join(failures))


def _quantise_static(basic: Path, out: Path, arrays: list[np.ndarray], exclude: list[str]) -> None:
    import logging

    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser's advice goes to the root logger
    try:
        quantize_static(
            str(basic),
            str(out),
            _Reader(arrays),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTISED_OPS),
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=list(exclude),
        )
    finally:
        logging.getLogger().setLevel(quiet)


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
