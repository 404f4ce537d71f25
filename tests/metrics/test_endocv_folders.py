"""Folder and in-memory scoring against the toolkit's per-folder flow, pairing and reading rules."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from mask_cases import blob, noise
from toolkit_reference import reference_folder

from endobench.data.readers import read_mask_channel
from endobench.errors import DataError, ScoringError
from endobench.metrics import ScoringWarning, read_truth, score_arrays, score_folders


def _write(path: Path, mask01: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), mask01.astype(np.uint8) * 255)


def _assert_close_to_reference(result, gt_dir, pred_dir):
    per_image, summary = reference_folder(str(gt_dir), str(pred_dir))
    assert list(result.summary["EndoCV2021_seg"]) == list(summary["EndoCV2021_seg"])
    for key, entry in summary["EndoCV2021_seg"].items():
        assert result.summary["EndoCV2021_seg"][key]["value"] == pytest.approx(
            float(entry["value"]), abs=1e-12, rel=0
        ), key
    assert sorted(per_image) == [name for name, _ in result.rows]
    # Per image: bit for bit. The means may differ in the last bits: the toolkit sums in glob order.
    for name, scores in result.rows:
        for key, value in scores.as_dict().items():
            assert value == float(per_image[name][key]), (name, key)


@pytest.fixture()
def toolkit_folder(tmp_path):
    """JPEG truths and predictions named as in the challenge, with sizes and edge cases mixed."""
    rng = np.random.default_rng(11)
    gt_dir, pred_dir = tmp_path / "GT", tmp_path / "pred"
    shapes = [(288, 384), (288, 384), (300, 360), (288, 384), (250, 300)]
    for i, shape in enumerate(shapes):
        truth = blob(shape, rng) if i != 3 else np.zeros(shape, np.uint8)  # one negative frame
        pred_shape = shape if i % 2 == 0 else (shape[0] * 2, shape[1] * 2)  # some at another size
        pred = blob(pred_shape, rng, 3) if i != 4 else np.zeros(pred_shape, np.uint8)
        _write(gt_dir / f"img{i}.jpg", truth)
        _write(pred_dir / f"img{i}_mask.jpg", pred | noise(pred_shape, rng, 0.001))
    return gt_dir, pred_dir


def test_score_folders_equals_the_toolkit_flow(toolkit_folder, tmp_path):
    gt_dir, pred_dir = toolkit_folder
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScoringWarning)  # nothing to warn about here
        result = score_folders(gt_dir, pred_dir, progress=False, test_type="testType1")
    assert result.test_type == "testType1" and len(result.rows) == 5
    _assert_close_to_reference(result, gt_dir, pred_dir)
    written = result.write_csv(tmp_path / "out" / "per_image.csv")
    assert (
        written.read_text().splitlines()[0] == "image,jaccard,dice,f2,ppv,recall,accuracy,hausdorff"
    )


def test_toolkit_layout_with_semantic_masks_folder(toolkit_folder, tmp_path):
    gt_dir, pred_dir = toolkit_folder
    nested = tmp_path / "participant" / "semantic_masks"
    nested.parent.mkdir()
    pred_dir.rename(nested)
    result = score_folders(gt_dir, nested.parent, progress=False)
    _assert_close_to_reference(result, gt_dir, nested)


def test_names_with_underscores_pair_by_full_name_and_warn(tmp_path):
    rng = np.random.default_rng(3)
    a, b = blob((100, 120), rng), blob((100, 120), rng)
    _write(tmp_path / "gt" / "case_1.jpg", a)
    _write(tmp_path / "gt" / "case_2.png", b)
    _write(tmp_path / "pred" / "case_1_mask.jpg", a)
    _write(tmp_path / "pred" / "case_2.png", np.zeros_like(b))
    with pytest.warns(ScoringWarning, match=r"mis-pair 2 predictions"):
        result = score_folders(tmp_path / "gt", tmp_path / "pred", progress=False)
    scores = dict(result.rows)
    assert scores["case_1"].dice == 1.0  # paired with its own truth, not with case_2
    assert scores["case_2"].recall < 1e-12


def test_missing_predictions_are_an_error_listing_them(tmp_path):
    mask = np.ones((20, 30), np.uint8)
    for name in ("a", "b", "c"):
        _write(tmp_path / "gt" / f"{name}.jpg", mask)
    _write(tmp_path / "pred" / "a_mask.jpg", mask)
    with pytest.raises(ScoringError, match=r"2 of 3 truths .*\(b, c\).*--missing-as-empty") as info:
        score_folders(tmp_path / "gt", tmp_path / "pred", progress=False)
    assert "\n" not in str(info.value)


def test_missing_as_empty_scores_them_and_orphans_warn(tmp_path):
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:20] = 1
    _write(tmp_path / "gt" / "a.png", mask)
    _write(tmp_path / "gt" / "b.png", mask)
    _write(tmp_path / "pred" / "a_mask.png", mask)
    _write(tmp_path / "pred" / "zzz_mask.png", mask)
    with pytest.warns(ScoringWarning) as record:
        result = score_folders(tmp_path / "gt", tmp_path / "pred", missing="empty", progress=False)
    messages = " | ".join(str(w.message) for w in record)
    assert "scored as empty (b)" in messages and "no truth and are ignored (zzz)" in messages
    assert result.missing == ["b"]
    scores = dict(result.rows)
    assert scores["a"].dice == 1.0 and scores["b"].ppv == 1.0 and scores["b"].recall < 1e-12


def test_ambiguous_and_empty_folders_are_errors(tmp_path):
    _write(tmp_path / "gt" / "a.jpg", np.ones((4, 4), np.uint8))
    _write(tmp_path / "pred" / "a.png", np.ones((4, 4), np.uint8))
    _write(tmp_path / "pred" / "a_mask.jpg", np.ones((4, 4), np.uint8))
    with pytest.raises(ScoringError, match="ambiguously"):
        score_folders(tmp_path / "gt", tmp_path / "pred", progress=False)
    (tmp_path / "none").mkdir()
    with pytest.raises(ScoringError, match="no prediction masks"):
        score_folders(tmp_path / "gt", tmp_path / "none", progress=False)
    with pytest.raises(ScoringError, match="no such folder"):
        score_folders(tmp_path / "missing", tmp_path / "pred", progress=False)


def test_unreadable_mask_is_a_data_error_naming_it(tmp_path):
    _write(tmp_path / "gt" / "a.jpg", np.ones((4, 4), np.uint8))
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "a_mask.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="a_mask.jpg"):
        score_folders(tmp_path / "gt", tmp_path / "pred", progress=False)


def test_tiff_masks_are_read_with_tifffile(tmp_path):
    truth = np.zeros((30, 40), np.uint8)
    truth[5:20, 10:30] = 255
    rgb = np.zeros((30, 40, 3), np.uint8)
    rgb[..., 2] = truth  # blue: OpenCV's channel 0
    rgb[..., 0] = 255  # red would make everything polyp if the channel were wrong
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "gray.tif", truth)
    # The toolkit's channel 0 of an RGB TIFF is blue; as a truth, a colour image is refused.
    np.testing.assert_array_equal(read_mask_channel(tmp_path / "rgb.tif") > 0, truth > 0)
    with pytest.raises(DataError, match="rgb.tif: is a colour image, not a grey mask"):
        read_truth(tmp_path / "rgb.tif")
    np.testing.assert_array_equal(read_truth(tmp_path / "gray.tif"), truth > 0)
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(DataError, match="broken.tif"):
        read_truth(tmp_path / "broken.tif")


def test_gt_threshold_option_changes_the_jpeg_rule(tmp_path):
    truth = np.zeros((64, 64), np.uint8)
    truth[13:45, 13:45] = 255  # not on the 8x8 JPEG blocks: edges get noise
    cv2.imwrite(str(tmp_path / "t.jpg"), truth, [cv2.IMWRITE_JPEG_QUALITY, 60])
    noisy = read_truth(tmp_path / "t.jpg")
    strict = read_truth(tmp_path / "t.jpg", threshold=127)
    assert noisy.sum() > strict.sum()
    assert abs(int(strict.sum()) - 32 * 32) < 64


def test_score_arrays_equals_score_folders_on_lossless_files(toolkit_folder, tmp_path):
    gt_dir, pred_dir = toolkit_folder
    pairs = []
    for gt_path in sorted(gt_dir.iterdir()):
        truth = cv2.imread(str(gt_path))[:, :, 0] > 0
        pred = cv2.imread(str(pred_dir / f"{gt_path.stem}_mask.jpg"))[:, :, 0]
        pairs.append((gt_path.stem, truth, pred))
    in_memory = score_arrays(iter(pairs))
    from_files = score_folders(gt_dir, pred_dir, progress=False)
    assert in_memory.rows == from_files.rows
    assert in_memory.summary == from_files.summary


@pytest.mark.shared("Kvasir-SEG", "CVC-ClinicDB")
def test_real_masks_from_shared_data(shared_data, tmp_path):
    """Real Kvasir-SEG (JPEG) and CVC-ClinicDB (PNG) truths, with perturbed predictions."""
    rng = np.random.default_rng(0)
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    kvasir = sorted((shared_data / "Kvasir-SEG" / "masks").glob("*.jpg"))[:2]
    clinic = sorted((shared_data / "CVC-ClinicDB" / "masks").glob("*.png"))[:2]
    for i, source in enumerate(kvasir + clinic):
        raw = cv2.imread(str(source))
        name = f"real{i}"
        if source.suffix == ".jpg":
            shutil.copy(source, gt_dir / f"{name}.jpg")  # the original JPEG bytes
        else:
            cv2.imwrite(str(gt_dir / f"{name}.jpg"), raw)  # the toolkit only reads .jpg truths
        truth = raw[:, :, 0] > 127
        shift = np.roll(truth, int(rng.integers(-15, 15)), axis=int(rng.integers(0, 2)))
        pred = cv2.dilate(shift.astype(np.uint8), np.ones((5, 5), np.uint8)) if i % 2 else shift
        small = cv2.resize(pred.astype(np.uint8) * 255, (pred.shape[1] // 2, pred.shape[0] // 2))
        _write(pred_dir / f"{name}_mask.jpg", small > 127)
    result = score_folders(gt_dir, pred_dir, progress=False)
    _assert_close_to_reference(result, gt_dir, pred_dir)
    assert 0.5 < result.summary["EndoCV2021_seg"]["dice"]["value"] < 1.0


def _truncate(path: Path, drop: int) -> Path:
    path.write_bytes(path.read_bytes()[:-drop])
    return path


@pytest.fixture()
def damaged_folder(toolkit_folder):
    """The toolkit folder with one truncated prediction JPEG (its end-of-image marker lost)."""
    gt_dir, pred_dir = toolkit_folder
    _truncate(pred_dir / "img1_mask.jpg", 2)
    return gt_dir, pred_dir


def test_truncated_prediction_is_an_error_naming_it(damaged_folder):
    """OpenCV would decode it with grey filler and only a libjpeg warning."""
    with pytest.raises(DataError, match=r"img1_mask.jpg: file is truncated") as caught:
        score_folders(*damaged_folder, progress=False)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_truncated_truth_is_an_error_naming_it(tmp_path, suffix):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    gt_dir.mkdir()
    truth = np.zeros((40, 50), np.uint8)
    truth[5:30, 10:40] = 255
    for name in ("a", "b"):
        if suffix == ".tif":
            tifffile.imwrite(gt_dir / f"{name}.tif", truth)
        else:
            assert cv2.imwrite(str(gt_dir / f"{name}{suffix}"), truth)
        _write(pred_dir / f"{name}_mask.jpg", truth > 0)
    _truncate(gt_dir / f"b{suffix}", 30)
    with pytest.raises(DataError, match=f"b{suffix}: file is truncated"):
        score_folders(gt_dir, pred_dir, progress=False)
    result = score_folders(gt_dir, pred_dir, progress=False, on_problem="skip")
    assert [name for name, _ in result.rows] == ["a"]
    assert len(result.skipped) == 1 and f"b{suffix}: file is truncated" in result.skipped[0]


def test_skip_problems_scores_the_rest_and_lists_what_it_left_out(damaged_folder):
    gt_dir, pred_dir = damaged_folder
    (pred_dir / "img4_mask.jpg").unlink()  # a truth without prediction
    (pred_dir / "img0_mask.png").write_bytes((pred_dir / "img0_mask.jpg").read_bytes())  # clash
    for folder in (gt_dir, pred_dir):  # system files are not masks
        (folder / "Thumbs.db").write_bytes(b"cache")
        (folder / "._img2.jpg").write_bytes(b"\x00\x05\x16\x07")
    with pytest.raises(ScoringError, match="pair ambiguously.*--skip-problems"):
        score_folders(gt_dir, pred_dir, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScoringWarning)
        result = score_folders(gt_dir, pred_dir, progress=False, on_problem="skip")
    assert [name for name, _ in result.rows] == ["img2", "img3"]
    assert result.skipped == [
        "prediction names pair ambiguously: img0_mask.jpg / img0_mask.png",
        "truth without prediction: img0.jpg",
        "truth without prediction: img4.jpg",
        f"{pred_dir / 'img1_mask.jpg'}: file is truncated; download or export it again",
    ]


def test_score_command_skip_problems_lists_five_then_more(damaged_folder, tmp_path):
    from typer.testing import CliRunner

    from endobench.cli import app

    gt_dir, pred_dir = damaged_folder
    for index in range(6):  # six more truths without prediction
        _write(gt_dir / f"extra{index}.jpg", np.ones((8, 8), np.uint8))
    refused = CliRunner().invoke(app, ["score", "--gt", str(gt_dir), "--pred", str(pred_dir)])
    assert refused.exit_code == 2 and "--skip-problems" in refused.output
    args = ["score", "--gt", str(gt_dir), "--pred", str(pred_dir), "--skip-problems"]
    result = CliRunner().invoke(app, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Skipped 7 problem(s)" in result.output and "... 2 more" in result.output
    assert "EndoCV2021 segmentation scores, 4 images" in result.output


def test_release_truths_pn_pair_with_frame_predictions(tmp_path):
    """ETIS-LaribPolypDB's `Ground Truth/pN.tif` pairs with the predictions `N_mask.png` of frame
    `N.tif`; the toolkit (which looks up `N.jpg`) would not find them, and says so."""
    gt_dir, pred_dir = tmp_path / "Ground Truth", tmp_path / "pred"
    gt_dir.mkdir()
    truth = np.zeros((30, 40), np.uint8)
    truth[5:20, 10:30] = 255
    for index in (1, 2, 10):
        tifffile.imwrite(gt_dir / f"p{index}.tif", truth)
        _write(pred_dir / f"{index}_mask.png", truth > 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScoringWarning)
        result = score_folders(gt_dir, pred_dir, progress=False)
    assert [name for name, _ in result.rows] == ["1", "10", "2"]
    assert result.summary["EndoCV2021_seg"]["dice"]["value"] == 1.0
    assert any("would mis-pair 3" in str(w.message) for w in caught)
    (pred_dir / "p3_mask.png").write_bytes((pred_dir / "1_mask.png").read_bytes())
    with pytest.raises(ScoringError, match="3 of 3 truths"):  # predictions named pN: keys kept
        score_folders(gt_dir, pred_dir, progress=False)
