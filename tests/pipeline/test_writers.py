"""Mask files, the toolkit's time file and the run-folder rules."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from endobench.errors import ConfigError
from endobench.metrics import score_pair
from endobench.writers.manifest import manifest_hash, read_manifest
from endobench.writers.masks import (
    encode_mask_jpeg,
    mask_path,
    outputs_complete,
    read_prediction,
    write_mask,
)
from endobench.writers.run_folder import prepare_run_dir, read_run_json, write_run_json
from endobench.writers.time_file import format_time_file, parse_time_file


def _real_mask(sample_root):
    path = sorted((sample_root / "kvasir" / "masks").iterdir())[0]
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 127


def test_written_jpeg_is_near_binary_and_scores_close_to_the_lossless_mask(sample_root, tmp_path):
    truth = _real_mask(sample_root)
    path = write_mask(tmp_path / "x_mask.jpg", truth)
    raw = cv2.imread(str(path))[..., 0]
    # Quality 100: only values within 2 of 0 or 255 come back.
    assert set(np.unique(raw)) <= {0, 1, 2, 253, 254, 255}
    as_toolkit = read_prediction(path)
    assert as_toolkit.shape == truth.shape
    flipped = as_toolkit != truth
    # Every difference is a background pixel read as polyp, next to the mask's edge (same 8x8 block).
    assert not (truth & ~as_toolkit).any()
    near_edge = cv2.dilate(truth.astype(np.uint8), np.ones((17, 17), np.uint8)).astype(bool)
    assert not (flipped & ~near_edge).any()
    scores = score_pair(truth, raw)
    assert 0.995 < scores.dice < 1.0
    assert scores.recall == pytest.approx(1.0)


def test_jpeg_encoding_rejects_non_2d_masks():
    with pytest.raises(ValueError):
        encode_mask_jpeg(np.zeros((4, 4, 3), bool))


def test_time_file_has_the_toolkit_format():
    text = format_time_file([("a", 12.5), ("b", 7.5)])
    assert text == "a -----> 12.5 \nb -----> 7.5 \naverage_t -----> 10.0 \n"
    assert parse_time_file(text) == [("a", 12.5), ("b", 7.5), ("average_t", 10.0)]


def test_outputs_complete_checks_existence_and_size(tmp_path):
    mask = np.zeros((30, 40), bool)
    mask[5:10, 5:20] = True
    assert not outputs_complete(tmp_path, "s", "a", (30, 40), save_prob=False)
    write_mask(mask_path(tmp_path, "s", "a"), mask)
    assert outputs_complete(tmp_path, "s", "a", (30, 40), save_prob=False)
    assert not outputs_complete(tmp_path, "s", "a", (31, 40), save_prob=False)
    assert not outputs_complete(tmp_path, "s", "a", (30, 40), save_prob=True)
    mask_path(tmp_path, "s", "a").write_bytes(b"\xff\xd8 broken")
    assert not outputs_complete(tmp_path, "s", "a", (30, 40), save_prob=False)


def test_run_folder_is_never_overwritten_without_force(tmp_path):
    run = tmp_path / "r"
    prepare_run_dir(run)
    write_run_json(run, {"name": "r"})
    with pytest.raises(ConfigError, match="--force"):
        prepare_run_dir(run)
    assert prepare_run_dir(run, resume=True) == run and (run / "run.json").is_file()
    prepare_run_dir(run, force=True)
    assert not (run / "run.json").exists()
    with pytest.raises(ConfigError):
        prepare_run_dir(run, force=True, resume=True)


def test_force_refuses_to_delete_a_folder_that_is_not_a_run(tmp_path):
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "thesis.tex").write_text("x")
    with pytest.raises(ConfigError, match="not an endobench run"):
        prepare_run_dir(folder, force=True)
    assert (folder / "thesis.tex").is_file()


def test_resume_refuses_a_folder_that_is_not_a_run(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(ConfigError, match="nothing to resume"):
        prepare_run_dir(folder, resume=True)
    assert prepare_run_dir(tmp_path / "empty", resume=True).is_dir()


def test_manifest_hash_ignores_order_but_not_content():
    a = {
        "s": [
            {"name": "a", "height": 1, "width": 2, "sha256": "x"},
            {"name": "b", "height": 1, "width": 2, "sha256": "y"},
        ]
    }
    b = {"s": list(reversed(a["s"]))}
    c = {"s": [dict(a["s"][0], sha256="z"), a["s"][1]]}
    assert manifest_hash(a) == manifest_hash(b) != manifest_hash(c)


def test_a_corrupt_manifest_or_run_json_is_one_error_naming_the_file(tmp_path):
    (tmp_path / "manifest.json").write_text('{"kvasir": [', encoding="utf-8")
    (tmp_path / "run.json").write_text('{"name": "r", "sta', encoding="utf-8")
    for read, name in ((read_manifest, "manifest.json"), (read_run_json, "run.json")):
        with pytest.raises(ConfigError, match=rf"{name} is not valid JSON .*--force"):
            read(tmp_path)
