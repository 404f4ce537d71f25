"""Fixtures of the fault battery: small real inputs, a tiny model with fitted weights, runs.

Every case calls the real command line (``endobench ...``) and ends in a one-line ``Error:``
with exit status 2 and nothing lost or half-written, or in a correct result.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))

from pipeline_helpers import copy_sample, make_run  # noqa: E402
from pipeline_tiny_model import fit_weights, register  # noqa: E402


@pytest.fixture(scope="session")
def tiny_weights(sample_root, tmp_path_factory) -> Path:
    """Weights of the registered ``pipeline_tiny`` model, fitted on the bundled sample."""
    return fit_weights(
        sample_root / "clinicdb", tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    )


@pytest.fixture
def pairs(sample_root, tmp_path) -> Path:
    """Four CVC-ClinicDB sample pairs in ``<tmp>/set/{images,masks}``."""
    copy_sample(sample_root, tmp_path / "set", "clinicdb", 4)
    return tmp_path / "set"


@pytest.fixture
def gt_pred(pairs, tmp_path) -> tuple[Path, Path]:
    """A truth folder and a prediction folder: each truth grown by 2 px, as ``<name>_mask.png``."""
    pred = tmp_path / "pred"
    pred.mkdir()
    for mask in sorted((pairs / "masks").iterdir()):
        truth = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
        grown = cv2.dilate((truth > 127).astype(np.uint8) * 255, np.ones((5, 5), np.uint8))
        cv2.imwrite(str(pred / f"{mask.stem}_mask.png"), grown)
    return pairs / "masks", pred


@pytest.fixture
def hand_runs(pairs, tmp_path) -> list[Path]:
    """Two finished hand-made runs (no model) on the same four images."""
    root = tmp_path / "runs"
    images, masks = pairs / "images", pairs / "masks"
    return [
        make_run(root, "exact", images, masks, model="alpha", grow=0),
        make_run(root, "grown", images, masks, model="beta", grow=3),
    ]


@pytest.fixture
def run_args(tiny_weights):
    """``endobench run`` arguments for the tiny model (one thread, no workers, no progress)."""
    register()

    def args(images: Path, out: Path, name: str = "r", *extra: object) -> list[object]:
        return [
            "run",
            "--model",
            "pipeline_tiny",
            "--weights",
            tiny_weights,
            "--images",
            images,
            "--out",
            out,
            "--name",
            name,
            "--workers",
            "0",
            "--threads",
            "1",
            "--warmup",
            "0",
            "--no-progress",
            *extra,
        ]

    return args


def _mount_tmpfs(where: Path, *options: str) -> bool:
    """Mount a tmpfs at ``where`` (root only); say whether it worked."""
    if os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def read_only_folder(tmp_path):
    """A really read-only folder (a tmpfs mounted ``ro``): root bypasses ``chmod``, not this."""
    where = tmp_path / "read-only"
    where.mkdir()
    if not _mount_tmpfs(where, "ro", "size=64k"):
        pytest.skip("mounting a read-only tmpfs needs root (real read-only case)")
    yield where
    subprocess.run(["umount", str(where)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    """A real file system of 96 KiB (tmpfs), and a function that enlarges it ("space freed").

    Mounting needs root and a system that allows it; elsewhere the test is skipped.
    """
    where = tmp_path / "disk"
    where.mkdir()

    if not _mount_tmpfs(where, "size=96k"):
        pytest.skip("mounting a small tmpfs needs root (real full-disk case)")

    def enlarge() -> None:
        assert _mount_tmpfs(where, "remount", "size=64m")

    yield where, enlarge
    subprocess.run(["umount", str(where)], check=False)
