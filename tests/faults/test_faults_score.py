"""Bad inputs and faults of ``endobench score``: each a one-line error or a correct result."""

from __future__ import annotations

import errno
import json
import shutil

import cv2
import numpy as np
import pytest
from fault_helpers import (
    FailingWrites,
    assert_ok,
    assert_one_line_error,
    invoke,
    leftovers,
    snapshot,
    truncate,
)


def _score(gt, pred, *extra):
    return invoke("score", "--gt", gt, "--pred", pred, "--no-progress", *extra)


def test_truncated_prediction_jpeg_is_named(gt_pred, tmp_path):
    gt, pred = gt_pred
    victim = sorted(pred.iterdir())[1]
    jpeg = victim.with_suffix(".jpg")
    cv2.imwrite(str(jpeg), cv2.imread(str(victim)), [cv2.IMWRITE_JPEG_QUALITY, 100])
    victim.unlink()
    truncate(jpeg, 0.6)
    assert_one_line_error(_score(gt, pred), jpeg.name)


def test_truncated_truth_png_is_named(gt_pred):
    gt, pred = gt_pred
    victim = truncate(sorted(gt.iterdir())[0], 0.5)
    assert_one_line_error(_score(gt, pred), victim.name)


def test_prediction_of_random_bytes_is_named(gt_pred):
    gt, pred = gt_pred
    victim = sorted(pred.iterdir())[2]
    victim.write_bytes(np.random.default_rng(0).bytes(3000))
    assert_one_line_error(_score(gt, pred), victim.name)


def test_empty_prediction_file_is_named(gt_pred):
    gt, pred = gt_pred
    victim = sorted(pred.iterdir())[0]
    victim.write_bytes(b"")
    assert_one_line_error(_score(gt, pred), victim.name)


def test_empty_prediction_folder(gt_pred, tmp_path):
    gt, _ = gt_pred
    (tmp_path / "empty").mkdir()
    assert_one_line_error(_score(gt, tmp_path / "empty"), "empty")


def test_missing_prediction_folder(gt_pred, tmp_path):
    gt, _ = gt_pred
    assert_one_line_error(_score(gt, tmp_path / "nowhere"), "nowhere")


def test_prediction_of_another_size_is_resized_as_the_toolkit_does(gt_pred, tmp_path):
    gt, pred = gt_pred
    victim = sorted(pred.iterdir())[0]
    mask = cv2.imread(str(victim), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(victim), cv2.resize(mask, (mask.shape[1] // 2, mask.shape[0] // 2)))
    assert_ok(_score(gt, pred, "--csv", tmp_path / "rows.csv"))
    rows = (tmp_path / "rows.csv").read_text().splitlines()
    assert len(rows) == 5 and any(row.startswith(victim.stem.removesuffix("_mask")) for row in rows)


def test_odd_formats_score_as_their_lossless_copies(gt_pred, tmp_path):
    """16-bit PNG and RGBA truths, BMP and TIFF predictions: the same numbers as the originals."""
    gt, pred = gt_pred
    assert_ok(_score(gt, pred, "--json", tmp_path / "plain.json"))
    odd_gt, odd_pred = tmp_path / "odd_gt", tmp_path / "odd_pred"
    odd_gt.mkdir()
    odd_pred.mkdir()
    for i, mask_file in enumerate(sorted(gt.iterdir())):
        mask = cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE)
        if i % 2:
            cv2.imwrite(str(odd_gt / mask_file.name), mask.astype(np.uint16) * 257)
        else:
            rgba = cv2.cvtColor(mask, cv2.COLOR_GRAY2BGRA)
            cv2.imwrite(str(odd_gt / mask_file.name), rgba)
        pred_mask = cv2.imread(str(pred / f"{mask_file.stem}_mask.png"), cv2.IMREAD_GRAYSCALE)
        ext = ".bmp" if i % 2 else ".tif"
        cv2.imwrite(str(odd_pred / f"{mask_file.stem}_mask{ext}"), pred_mask)
    assert_ok(_score(odd_gt, odd_pred, "--json", tmp_path / "odd.json"))
    plain = json.loads((tmp_path / "plain.json").read_text())
    odd = json.loads((tmp_path / "odd.json").read_text())
    assert odd == plain


@pytest.mark.parametrize("name", ["with space", "ünïcødé-息肉", "-leading-dash", "a_b_c"])
def test_odd_file_names_score_correctly(gt_pred, tmp_path, name):
    gt, pred = gt_pred
    first = sorted(gt.iterdir())[0]
    first.rename(gt / f"{name}.png")
    (pred / f"{first.stem}_mask.png").rename(pred / f"{name}_mask.png")
    out = tmp_path / f"{name} scores.json"
    assert_ok(_score(gt, pred, "--json", out, "--csv", tmp_path / "rows.csv"))
    assert f"{name}," in (tmp_path / "rows.csv").read_text()
    summary = json.loads(out.read_text())
    assert 0.5 < next(iter(summary.values()))["dice"]["value"] < 1


def test_json_under_a_file_is_one_line(gt_pred, tmp_path):
    gt, pred = gt_pred
    (tmp_path / "blocker").write_text("a file, not a folder")
    target = tmp_path / "blocker" / "scores.json"
    assert_one_line_error(_score(gt, pred, "--json", target), str(target), "not a folder")


def test_json_name_too_long(gt_pred, tmp_path):
    gt, pred = gt_pred
    target = tmp_path / ("s" * 300 + ".json")
    assert_one_line_error(_score(gt, pred, "--json", target), "path too long")
    assert leftovers(tmp_path) == []


def test_json_that_is_a_folder(gt_pred, tmp_path):
    gt, pred = gt_pred
    (tmp_path / "out.json").mkdir()
    assert_one_line_error(_score(gt, pred, "--json", tmp_path / "out.json"), "folder")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "no space left"),
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only"),
    ],
)
def test_disk_full_or_unwritable_while_writing_json(gt_pred, tmp_path, monkeypatch, code, words):
    gt, pred = gt_pred
    out = tmp_path / "out"
    out.mkdir()
    (out / "scores.json").write_text("previous scores\n")
    before = snapshot(out)
    FailingWrites(monkeypatch, out, code)
    result = _score(gt, pred, "--json", out / "scores.json", "--overwrite")
    assert_one_line_error(result, str(out / "scores.json"), words)
    assert snapshot(out) == before  # the old file intact, no temporary left


def test_existing_json_is_kept_without_overwrite(gt_pred, tmp_path):
    gt, pred = gt_pred
    target = tmp_path / "scores.json"
    target.write_text("keep me\n")
    assert_one_line_error(_score(gt, pred, "--json", target), "--overwrite")
    assert target.read_text() == "keep me\n"


def test_truth_folder_with_a_thumbs_db_and_ds_store(gt_pred, tmp_path):
    gt, pred = gt_pred
    (gt / "Thumbs.db").write_bytes(b"\x00" * 100)
    (gt / ".DS_Store").write_bytes(b"\x00" * 100)
    assert_ok(_score(gt, pred, "--json", tmp_path / "s.json"))


def test_folder_names_with_spaces_and_unicode(gt_pred, tmp_path):
    gt, pred = gt_pred
    odd = tmp_path / "my truths ü"
    shutil.copytree(gt, odd)
    assert_ok(_score(odd, pred, "--json", tmp_path / "s.json"))


def test_json_into_a_really_read_only_folder(gt_pred, read_only_folder):
    gt, pred = gt_pred
    target = read_only_folder / "scores.json"
    assert_one_line_error(_score(gt, pred, "--json", target), str(target), "read-only")
    assert snapshot(read_only_folder) == {}
