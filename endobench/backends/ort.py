"""Running an exported ``.onnx`` file with ONNX Runtime, and the metadata that file carries.

``endobench export`` writes one graph, ``image`` (B x 3 x S x S, normalised float32) ->
``probability`` (B x 1 x S x S, the sigmoid of the model's prediction), and stores the model's
configuration in the file's ``metadata_props`` under keys starting with ``endobench.`` (each value
JSON). :class:`OrtModel` reads them back so that a predictor needs nothing but the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from endobench.errors import ConfigError, WeightsError

INPUT_NAME = "image"
OUTPUT_NAME = "probability"
#: Name of the graph's dynamic batch dimension.
BATCH_AXIS = "batch"
METADATA_PREFIX = "endobench."
#: Version of the metadata layout; a file with a newer one is refused.
METADATA_FORMAT = 1
#: Keys every endobench export carries (without the prefix).
REQUIRED_KEYS = ("format", "model", "config", "input_size", "precision", "endobench_version")


def encode_metadata(values: dict[str, Any]) -> dict[str, str]:
    """Return ONNX ``metadata_props`` entries: prefixed keys, JSON values."""
    return {
        f"{METADATA_PREFIX}{key}": json.dumps(value, sort_keys=True)
        for key, value in values.items()
    }


def decode_metadata(props: dict[str, str], source: str | os.PathLike) -> dict[str, Any]:
    """Return the endobench entries of ``metadata_props`` (prefix removed, JSON decoded).

    Raises:
        WeightsError: The file was not written by ``endobench export``, or by a newer version.
    """
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key.startswith(METADATA_PREFIX):
            try:
                out[key[len(METADATA_PREFIX) :]] = json.loads(value)
            except json.JSONDecodeError:
                raise WeightsError(
                    f"{source}: metadata entry {key!r} is not JSON; export the file again with "
                    "`endobench export`"
                ) from None
    missing = [key for key in REQUIRED_KEYS if key not in out]
    if missing:
        raise WeightsError(
            f"{source}: no endobench metadata ({', '.join(missing)} missing); export it with "
            "`endobench export --model M --out F.onnx`"
        )
    if int(out["format"]) > METADATA_FORMAT:
        raise WeightsError(
            f"{source}: metadata format {out['format']} is newer than this endobench reads "
            f"({METADATA_FORMAT}); upgrade endobench"
        )
    return out


def session_options(threads: int | None = None, batch: int | None = None):
    """ONNX Runtime session options: ``threads`` intra-op threads (default torch's), one inter-op.

    ``batch`` fixes the graph's batch dimension, so that ONNX Runtime plans static shapes (about a
    fifth faster for ``brp_lite`` at batch 1 on a CPU).
    """
    import onnxruntime as ort

    if threads is None:
        import torch

        threads = torch.get_num_threads()
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: shape-inference notes are not the user's concern
    if batch is not None:
        options.add_free_dimension_override_by_name(BATCH_AXIS, int(batch))
    return options


def providers_for(device_type: str) -> list[str]:
    """Return the execution providers for a device type (``cpu``, or ``cuda`` when installed).

    Raises:
        ConfigError: The device has no ONNX Runtime provider in this installation.
    """
    import onnxruntime as ort

    if device_type == "cpu":
        return ["CPUExecutionProvider"]
    if device_type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise ConfigError(
        f"--device {device_type}: this ONNX Runtime has no provider for it (the CPU wheel); "
        "use --device cpu, or --backend torch"
    )


def _ort_load_errors() -> tuple[type[BaseException], ...]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ("Fail", "InvalidProtobuf", "InvalidGraph", "NoSuchFile", "InvalidArgument")
    return tuple(getattr(state, name) for name in names if hasattr(state, name))


class OrtModel:
    """An ONNX Runtime session of an endobench export, with the model configuration it carries.

    Args:
        path: The ``.onnx`` file.
        device_type: ``cpu`` (or ``cuda`` with a GPU build of ONNX Runtime).
        threads: Intra-op threads (default: torch's current number, as PyTorch would use).

    Raises:
        WeightsError: The file is missing, unreadable, or not an endobench export.
        ConfigError: No provider for the device.
    """

    def __init__(
        self, path: str | os.PathLike, device_type: str = "cpu", threads: int | None = None
    ):
        import onnxruntime as ort

        from endobench.io import sha256_file

        load_errors = _ort_load_errors()
        self.path = Path(path)
        if not self.path.is_file():
            raise WeightsError(
                f"{self.path}: no such ONNX file; export one with `endobench export --model M "
                f"--out {self.path.name}`"
            )
        self._providers = providers_for(device_type)
        try:
            # Batch 1 (what FPS measures) gets a session with static shapes; other batch sizes
            # get a general one when they first come.
            self.session = ort.InferenceSession(
                str(self.path), session_options(threads, batch=1), providers=self._providers
            )
        except load_errors as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise WeightsError(
                f"{self.path}: ONNX Runtime cannot load it ({first[:160]}); export it again"
            ) from None
        props = self.session.get_modelmeta().custom_metadata_map
        self.metadata = decode_metadata(props, self.path)
        self.file_sha256 = sha256_file(self.path)
        self.threads = self.session.get_session_options().intra_op_num_threads
        self._batched = None

    @property
    def config(self) -> dict[str, Any]:
        """The model configuration stored at export (name, input size, mean/std, post-processing)."""
        return dict(self.metadata["config"])

    @property
    def model_name(self) -> str:
        """The registered model the file was exported from."""
        return str(self.metadata["model"])

    @property
    def input_size(self) -> int:
        """The square side the file was exported (and verified) at."""
        return int(self.metadata["input_size"])

    @property
    def dynamic_size(self) -> bool:
        """Whether the file accepts other input sides (multiples of the model's ``size_multiple``)."""
        return bool(self.metadata.get("dynamic_size", False))

    @property
    def precision(self) -> str:
        """``fp32`` or ``int8``."""
        return str(self.metadata["precision"])

    def weights_record(self) -> dict[str, Any]:
        """What a predictor records of its weights: the source weights' sha256 and the file's."""
        return {
            "format": "onnx",
            "path": str(self.path),
            "sha256": self.metadata.get("weights_sha256"),
            "onnx_sha256": self.file_sha256,
            "precision": self.precision,
        }

    def check_size(self, size: int) -> None:
        """Refuse an input side the file cannot take.

        Raises:
            ConfigError: A fixed-size export asked for another side.
        """
        if size != self.input_size and not self.dynamic_size:
            raise ConfigError(
                f"{self.path.name} was exported at {self.input_size} px; use --size "
                f"{self.input_size}, or export again with --size {size} or --dynamic-size"
            )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Return the B x 1 x S x S float32 probabilities of a normalised B x 3 x S x S batch."""
        batch = np.ascontiguousarray(x, dtype=np.float32)
        session = self.session
        if batch.shape[0] != 1:
            if self._batched is None:
                import onnxruntime as ort

                self._batched = ort.InferenceSession(
                    str(self.path), session_options(self.threads), providers=self._providers
                )
            session = self._batched
        return session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
