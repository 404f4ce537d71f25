"""What ``endobench run`` is asked to do, checked before anything is loaded."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from endobench.devices import check_device
from endobench.errors import ConfigError

DTYPES = ("float32", "bfloat16", "float16")
#: Configuration keys that must match for ``--resume`` to reuse earlier outputs.
RESUME_KEYS = (
    "model",
    "random_weights",
    "size",
    "dtype",
    "backend",
    "precision",
    "optimise",
    "sets",
)
# (weights are compared by their sha256, not by the path given)


@dataclass
class RunConfig:
    """The options of one benchmark run.

    Attributes:
        model: Registered model name (``endobench models``); None with an exported ``.onnx``
            file as weights (the file names its model).
        weights: Weights file, ``"default"`` for the packaged weights, a list of files (a fold
            ensemble: probability maps averaged), or None (the model's packaged weights).
        datasets: Named data sets (``kvasir``, ``polypgen/C1``, ``sample/kvasir``...).
        images: Image folders (any layout ``open_dataset`` knows, or plain image folders).
        masks: Mask folders paired with ``images`` in order (``--masks``), optional.
        negatives: Folders of polyp-free frames (``--negatives``), each a set with all-background
            truth.
        positives: Folders of polyp frames without masks (``--positives``), each a set scored
            for frame-level sensitivity only.
        data_root: Where named data sets are found (default: the data layer's default).
        skip_problems: Leave out and list the inputs' pairing problems and unreadable files
            (``--skip-problems``) instead of refusing the set.
        size: Input side in pixels (default: the model's).
        sizes: Several input sides: a sweep, one run folder per size (``<name>-<size>``).
        batch_size: Images per forward pass.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (:mod:`endobench.devices`).
        dtype: ``float32``, ``bfloat16`` or ``float16`` (autocast-free: the model is cast).
        out: Root folder of run folders.
        name: Run folder name (default: ``<model>-<size>-<UTC time>``).
        save_prob: Also write 8-bit probability maps.
        force: Overwrite an existing run folder.
        resume: Continue an existing run folder, skipping images whose outputs are complete.
        record: Add the run's record to the leaderboard afterwards.
        leaderboard: The leaderboard folder for ``record`` (default: the checkout's).
        seed: Seed of torch, numpy and random (recorded; inference is deterministic anyway).
        num_workers: DataLoader workers decoding and preprocessing images (0: in the main process).
        writers: Threads restoring and writing outputs behind inference (None: the thread plan's
            choice, :func:`endobench.runner.conditions.plan_threads`; 0: in the inference loop).
        random_weights: Run without weights (random initialisation): speed measurements only.
        optimise: Fold batch norms and use channels-last memory on the CPU (faster, same function).
        threads: torch's intra-op CPU threads for the run (default: torch's choice); part of every
            FPS figure.
        warmup: Untimed batch-1 forward passes before timing.
        fps_images: With ``batch_size > 1``: how many images (evenly spaced) are also timed at batch 1.
        score: Score every set that has ground truth.
        progress: Show progress bars and the summary table.
    """

    model: str | None
    weights: str | list[str] | None = None
    datasets: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    masks: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    positives: list[str] = field(default_factory=list)
    data_root: str | None = None
    skip_problems: bool = False
    size: int | None = None
    sizes: list[int] = field(default_factory=list)
    batch_size: int = 1
    device: str = "auto"
    dtype: str = "float32"
    out: str = "submissions"
    name: str | None = None
    save_prob: bool = False
    force: bool = False
    resume: bool = False
    record: bool = False
    leaderboard: str | None = None
    seed: int = 0
    num_workers: int = 2
    writers: int | None = None
    random_weights: bool = False
    optimise: bool = False
    threads: int | None = None
    warmup: int = 5
    fps_images: int = 100
    score: bool = True
    progress: bool = True
    #: ``auto`` (ONNX Runtime for an ``.onnx`` file; on a CPU, the fastest backend verified to
    #: give eager fp32's masks, see ``endobench.export.fast_backend``), ``torch`` or
    #: ``onnxruntime``. After the engine is built, the backend that runs.
    backend: str = "auto"
    #: ``fp32``, ``bf16``, ``fp16``, ``int8`` or None (from ``dtype``, or the exported file).
    precision: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RunConfig:
        """The configuration of ``endobench run``'s options, given by their names.

        The options are the fields, except ``dataset`` (``datasets``) and ``workers``
        (``num_workers``); one ``--weights`` is a file, several an ensemble; paths become text.

        Raises:
            TypeError: An option that is no field (a command and its configuration disagree).
        """
        renamed = {"dataset": "datasets", "workers": "num_workers"}
        values = {renamed.get(key, key): value for key, value in options.items()}
        weights = values.get("weights")
        if isinstance(weights, (list, tuple)):
            values["weights"] = (weights[0] if len(weights) == 1 else list(weights)) or None
        for key in ("datasets", "images", "masks", "negatives", "positives"):
            values[key] = [str(item) for item in values.get(key) or []]
        for key in ("out", "leaderboard", "data_root"):
            if values.get(key) is not None:
                values[key] = str(values[key])
        return cls(**values)

    def validate(self) -> RunConfig:
        """Check the options and return self.

        Raises:
            ConfigError: An option is out of range or options contradict each other.
        """
        if not (self.datasets or self.images or self.negatives or self.positives):
            raise ConfigError(
                "no input: pass --dataset NAME, --images DIR, --negatives DIR or --positives DIR"
            )
        if self.masks and len(self.masks) != len(self.images):
            raise ConfigError(
                f"{len(self.masks)} --masks for {len(self.images)} --images; give one mask folder per image folder"
            )
        check_device(self.device)
        if self.dtype not in DTYPES:
            raise ConfigError(f"--dtype {self.dtype!r} is not one of {', '.join(DTYPES)}")
        if self.model is None and not str(self.weights or "").lower().endswith(".onnx"):
            raise ConfigError("pass --model NAME (or --weights FILE.onnx from endobench export)")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, not {self.batch_size}")
        if self.writers is not None and self.writers < 0:
            raise ConfigError(f"--writers must be 0 or more, not {self.writers}")
        if self.num_workers < 0:
            raise ConfigError(f"--workers must be 0 or more, not {self.num_workers}")
        if self.force and self.resume:
            raise ConfigError("--force and --resume contradict each other; pass one of them")
        if self.size is not None and self.sizes:
            raise ConfigError("pass --size or --sizes, not both")
        for side in [self.size, *self.sizes]:
            if side is not None and side < 32:
                raise ConfigError(f"input size {side} is too small; use 32 or more")
        if self.name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@+-]*", self.name):
            raise ConfigError(f"--name {self.name!r}: use letters, digits and . _ - @ + only")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, not {self.threads}")
        if self.warmup < 0 or self.fps_images < 0:
            raise ConfigError("--warmup and --fps-images must be 0 or more")
        return self

    def run_name(self, size: int) -> str:
        """Return the run folder's name for an input size."""
        if self.name:
            return self.name
        return f"{self.model}-{size}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"

    def for_size(self, size: int, sweep: bool) -> RunConfig:
        """Return the configuration of one size of a sweep (name suffixed with ``-<size>``)."""
        base = self.run_name(size)
        name = f"{base}-{size}" if sweep and self.name else base
        return replace(self, size=size, sizes=[], name=name)

    def settled(self, model: str, size: int, backend: str, precision: str) -> RunConfig:
        """The configuration as the engine settled it: its model (an ``.onnx`` file names its
        own), input size, backend and precision, and the run folder's name for that size."""
        settled = replace(self, model=model, size=size, backend=backend, precision=precision)
        return replace(settled, name=settled.run_name(size))

    def run_dir(self) -> Path:
        """Return ``<out>/<name>`` (``name`` must be set)."""
        if not self.name:
            raise ConfigError("run name not set")
        return Path(self.out) / self.name

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as recorded in ``run.json``."""
        return asdict(self)
