"""The run folder and its one owner, :class:`RunFolder`: creation rules, ``run.json``, journal, scores.

Reading a finished folder goes through the small functions below (``read_run_json``,
:func:`endobench.writers.manifest.read_manifest`, :func:`scores_paths`); writing one goes through
:class:`RunFolder` alone.

Layout of ``submissions/<run>/``::

    run.json                     configuration, versions, device, weights sha256, manifest hash, seed
    timing.json                  FPS (batch-1 forward), batched throughput, end-to-end images/s
    manifest.json                every input image: set, id, name, source file, original size
    EndoCV2021/segmentation/<set>_pred/<name>_mask.jpg     the submission (0/255, original size)
    EndoCV2021/segmentation/<set>_pred/timeElaspsed<set>.txt   the toolkit's per-image times
    probabilities/<set>/<name>_prob.png                   with --save-prob
    scores/<set>.json, scores/<set>.csv, scores/<set>_standard.json   sets with ground truth
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from endobench.errors import ConfigError
from endobench.io import remove_temporaries, write_json_atomic
from endobench.writers.journal import (
    JOURNAL,
    RANK_JOURNAL,
    journal_appender,
    merge_rank_journals,
    read_journals,
)
from endobench.writers.manifest import (
    MANIFEST_JSON,
    fill_sizes,
    manifest_hash,
    read_manifest,
    read_run_file,
    write_manifest,
)
from endobench.writers.masks import (
    SUBMISSION_ROOT,
    mask_path,
    outputs_complete,
    prob_path,
    write_mask,
    write_prob,
)
from endobench.writers.time_file import write_time_file

RUN_JSON = "run.json"
TIMING_JSON = "timing.json"
SCORES_DIR = "scores"


def prepare_run_dir(run_dir: str | Path, force: bool = False, resume: bool = False) -> Path:
    """Create the run folder, refusing to overwrite an existing run unless asked.

    Args:
        run_dir: The run folder (``<out>/<name>``).
        force: Delete an existing run folder first.
        resume: Keep an existing run folder and its finished outputs.

    Returns:
        The run folder, existing and ready for writing.

    Raises:
        ConfigError: The folder exists and neither option was given, both options were given, or
            ``force`` would delete (``resume`` would write into) a folder that is not an endobench
            run.
    """
    path = Path(run_dir)
    if force and resume:
        raise ConfigError(
            f"force and resume (--force, --resume) contradict each other for {path}; pass one"
        )
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path} exists and is not a folder; choose another --name or --out")
    if path.is_dir() and any(path.iterdir()):
        if force:
            if not is_run_dir(path):
                raise ConfigError(
                    f"{path} is not an endobench run folder (no run.json or EndoCV2021/); "
                    "refusing to delete it with --force: choose another --name or --out"
                )
            shutil.rmtree(path)
        elif not resume:
            raise ConfigError(
                f"run folder {path} exists; pass --resume to continue it or --force to overwrite it"
            )
        elif not is_run_dir(path):
            raise ConfigError(
                f"{path} is not an endobench run folder (no run.json or EndoCV2021/); nothing to "
                "resume there: choose another --name or --out"
            )
        else:
            remove_temporaries(path)  # left by a process killed mid-write; never a result
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_run_dir(path: str | Path) -> bool:
    """Say whether ``path`` looks like a run folder written by endobench."""
    path = Path(path)
    return (path / RUN_JSON).is_file() or (path / SUBMISSION_ROOT.parts[0]).is_dir()


def check_resumable(run_dir: str | Path, config: Mapping[str, Any], keys: Iterable[str]) -> None:
    """Refuse to resume a run made with a different model, weights or input size.

    Args:
        run_dir: The existing run folder.
        config: The new run's configuration.
        keys: Configuration keys that must be equal for outputs to be reused.

    Raises:
        ConfigError: A key differs from the recorded run.
    """
    recorded = read_run_json(run_dir, required=False)
    if recorded is None:
        return
    previous = recorded.get("config", {})
    for key in keys:
        if key in previous and previous[key] != config.get(key):
            raise ConfigError(
                f"cannot resume {Path(run_dir) / RUN_JSON}: it was made with {key}={previous[key]!r}, "
                f"not {config.get(key)!r}; pass --force to start over or use another --name"
            )


def read_run_json(run_dir: str | Path, required: bool = True) -> dict[str, Any] | None:
    """Read ``run.json`` from a run folder.

    Raises:
        ConfigError: It is missing (when ``required``) or not valid JSON.
    """
    path = Path(run_dir) / RUN_JSON
    if not path.is_file():
        if required:
            raise ConfigError(f"{path} not found: {run_dir} is not a finished endobench run folder")
        return None
    return read_run_file(path)


def write_run_json(run_dir: str | Path, info: Mapping[str, Any]) -> Path:
    """Write ``run.json`` atomically."""
    return write_json_atomic(Path(run_dir) / RUN_JSON, dict(info))


def write_timing_json(run_dir: str | Path, timing: Mapping[str, Any]) -> Path:
    """Write ``timing.json`` atomically."""
    return write_json_atomic(Path(run_dir) / TIMING_JSON, dict(timing))


def scores_paths(run_dir: str | Path, set_name: str) -> dict[str, Path]:
    """Return the paths of a set's toolkit JSON, per-image CSV and standard-metrics JSON."""
    base = Path(run_dir) / SCORES_DIR
    return {
        "json": base / f"{set_name}.json",
        "csv": base / f"{set_name}.csv",
        "standard": base / f"{set_name}_standard.json",
    }


class RunFolder:
    """The one owner of a run folder: opens it, starts it, writes each set, finishes it.

    A run goes ``RunFolder.open`` (the ``--force``/``--resume`` checks) -> :meth:`start` (checks
    against an earlier session, ``run.json`` marked running, ``manifest.json``) -> per image
    :meth:`write_prediction` and a journal line -> per set :meth:`write_times` and
    :meth:`write_scores` -> :meth:`write_timing` -> :meth:`finish` (``run.json`` marked complete).
    Everything is written atomically; the journal is append-only so a killed run resumes.

    Attributes:
        path: The run folder.
        info: The ``run.json`` content of this session (empty before :meth:`start`).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.info: dict[str, Any] = {}
        #: Under torchrun: this process's rank, whose journal lines go to its own file.
        self.journal_rank: int | None = None

    @classmethod
    def open(
        cls,
        path: str | Path,
        config: Mapping[str, Any],
        *,
        force: bool = False,
        resume: bool = False,
        resume_keys: Iterable[str] = (),
    ) -> RunFolder:
        """Create (or reopen, with ``resume``) a run folder for writing.

        Args:
            path: The run folder (``<out>/<name>``).
            config: The run's configuration as ``run.json`` records it.
            force: Delete an existing run folder first.
            resume: Keep an existing run folder whose ``resume_keys`` match ``config``.
            resume_keys: Configuration keys that must be equal for earlier outputs to be reused.

        Raises:
            ConfigError: See :func:`prepare_run_dir` and :func:`check_resumable`.
        """
        path = Path(path)
        if resume and path.is_dir():
            check_resumable(path, config, resume_keys)
        folder = cls(prepare_run_dir(path, force=force, resume=resume))
        folder.info = {"name": folder.name, "config": dict(config)}
        return folder

    @property
    def name(self) -> str:
        """The run's name (the folder's)."""
        return self.path.name

    def start(
        self,
        manifest: dict[str, list[dict[str, Any]]],
        sets: Mapping[str, Mapping[str, Any]],
        **facts: Any,
    ) -> None:
        """Check the folder's earlier session, then write ``run.json`` (running) and the manifest.

        Image sizes that no header gave are taken from an earlier session's manifest first.

        Args:
            manifest: Per set, one entry per image (filled in place).
            sets: Per set: ``source``, ``images``, ``has_truth``.
            **facts: What ``run.json`` records besides: ``model_config``, ``weights_sha256``,
                ``device``, ``device_name``, ``backend``, ``backend_choice`` (which backend and
                why), ``precision``, ``seed``, ``environment``.

        Raises:
            ConfigError: An earlier session ran on other input images or with other weights.
        """
        if (self.path / MANIFEST_JSON).is_file():
            fill_sizes(manifest, read_manifest(self.path))
        manifest_sha = manifest_hash(manifest)
        previous = read_run_json(self.path, required=False) or {}
        self._check_previous(previous, manifest_sha, facts.get("weights_sha256"))
        self.info = {
            "name": self.name,
            "status": "running",
            "created": previous.get("created") or _utc_now(),
            "config": self.info.get("config", {}),
            "model_config": facts.get("model_config"),
            "weights_sha256": facts.get("weights_sha256"),
            "device": facts.get("device"),
            "device_name": facts.get("device_name"),
            "backend": facts.get("backend"),
            "backend_choice": facts.get("backend_choice"),
            "precision": facts.get("precision"),
            "manifest_sha256": manifest_sha,
            "seed": facts.get("seed"),
            "environment": facts.get("environment"),
            "sets": {name: dict(entry) for name, entry in sets.items()},
        }
        write_run_json(self.path, self.info)
        write_manifest(self.path, manifest)

    def write_manifest(self, manifest: dict[str, list[dict[str, Any]]]) -> Path:
        """Write ``manifest.json`` again (sizes that decoding filled in)."""
        return write_manifest(self.path, manifest)

    def _check_previous(self, previous: Mapping[str, Any], manifest_sha: str, weights) -> None:
        if previous and previous.get("manifest_sha256") not in (None, manifest_sha):
            raise ConfigError(
                f"cannot resume {self.path}: its input images changed since it started; "
                "pass --force to start over"
            )
        if previous and previous.get("weights_sha256") != weights:
            raise ConfigError(
                f"cannot resume {self.path}: it was made with other weights (sha256 "
                f"{str(previous.get('weights_sha256'))[:12]}); pass --force to start over"
            )

    @contextlib.contextmanager
    def rank_journal(self, rank: int) -> Iterator[None]:
        """Append journal lines to ``rank``'s own journal while inside (a rank under torchrun)."""
        self.journal_rank = rank
        try:
            yield
        finally:
            self.journal_rank = None

    def note_detection(self, figures: Mapping[str, Any]) -> None:
        """Record the detection figures of the run's sets pooled, for ``run.json``."""
        self.info["detection"] = dict(figures)

    @property
    def journal_path(self) -> Path:
        """The append-only journal (this rank's own under torchrun): one JSON line per image."""
        if self.journal_rank is not None:
            return self.path / RANK_JOURNAL.format(rank=self.journal_rank)
        return self.path / JOURNAL

    def read_journal(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Return the entries of the journal and every rank's journal by ``(set, name)``."""
        return read_journals(self.path)

    def merge_journals(self) -> int:
        """Fold the ranks' journals into the run's journal (rank 0, once every rank is done)."""
        return merge_rank_journals(self.path)

    def journal_writer(self) -> contextlib.AbstractContextManager[Callable[[Mapping], None]]:
        """Return a context yielding a function that appends one flushed entry to the journal."""
        return journal_appender(self.journal_path)

    def outputs_complete(
        self, set_name: str, name: str, size: tuple[int, int] | None, with_prob: bool
    ) -> bool:
        """Say whether an image's outputs exist and decode at its size (``--resume``)."""
        return outputs_complete(self.path, set_name, name, size, with_prob)

    def write_prediction(
        self, set_name: str, name: str, mask: np.ndarray, probability: np.ndarray | None = None
    ) -> None:
        """Write an image's submission mask, and its probability map when one is given."""
        write_mask(mask_path(self.path, set_name, name), mask)
        if probability is not None:
            write_prob(prob_path(self.path, set_name, name), probability)

    def write_times(self, set_name: str, entries: Iterable[tuple[str, float]]) -> Path:
        """Write a set's ``timeElaspsed<set>.txt`` from ``(name, milliseconds)`` pairs."""
        return write_time_file(self.path, set_name, entries)

    def read_timing(self) -> dict[str, Any] | None:
        """Return ``timing.json`` of an earlier session, or None."""
        path = self.path / TIMING_JSON
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def write_timing(self, timing: Mapping[str, Any]) -> Path:
        """Write ``timing.json``."""
        return write_timing_json(self.path, timing)

    def write_scores(
        self,
        set_name: str,
        summary: Mapping[str, Any],
        rows: Iterable[Any],
        standard: Mapping[str, Any],
        detection: Mapping[str, Any] | None = None,
        pranet_eval: Mapping[str, Any] | None = None,
    ) -> dict[str, Path]:
        """Write a set's toolkit JSON, per-image CSV and standard metrics; note them in ``run.json``.

        Args:
            set_name: The set.
            summary: The EndoCV2021 toolkit JSON.
            rows: Per-image rows for the CSV.
            standard: The standard metrics.
            detection: The frame-level detection figures, written under ``"detection"`` beside
                the toolkit's key.
            pranet_eval: PraNet's eval/main.m figures, written under ``"pranet_eval"``.

        Returns:
            The paths written, as :func:`scores_paths` names them.
        """
        from endobench.metrics.endocv_summary import write_per_image_csv, write_summary_json

        paths = scores_paths(self.path, set_name)
        extra = {} if detection is None else {"detection": dict(detection)}
        if pranet_eval is not None:
            extra["pranet_eval"] = dict(pranet_eval)
        write_summary_json(paths["json"], dict(summary) | extra, overwrite=True)
        write_per_image_csv(paths["csv"], rows, overwrite=True)
        write_json_atomic(paths["standard"], dict(standard))
        self.info.setdefault("sets", {}).setdefault(set_name, {}).update(
            scores_json=str(paths["json"].relative_to(self.path)),
            scores_csv=str(paths["csv"].relative_to(self.path)),
            standard_json=str(paths["standard"].relative_to(self.path)),
        )
        return paths

    def write_detection(self, set_name: str, detection: Mapping[str, Any]) -> Path:
        """Write the detection figures of a set without EndoCV scores (polyp frames without
        masks) as its ``scores/<set>.json``: ``{"detection": {...}}``; note it in ``run.json``."""
        path = scores_paths(self.path, set_name)["json"]
        write_json_atomic(path, {"detection": dict(detection)})
        self.info.setdefault("sets", {}).setdefault(set_name, {}).update(
            scores_json=str(path.relative_to(self.path))
        )
        return path

    def interrupt(self) -> Path:
        """Mark the run interrupted in ``run.json`` (stopped on request; ``--resume`` continues)."""
        self.info["status"] = "interrupted"
        self.info["interrupted"] = _utc_now()
        return write_run_json(self.path, self.info)

    def finish(self) -> Path:
        """Mark the run complete in ``run.json``."""
        self.info["status"] = "complete"
        self.info["finished"] = _utc_now()
        return write_run_json(self.path, self.info)


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
