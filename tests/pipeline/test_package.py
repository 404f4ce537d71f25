"""The EndoCV2021 zip: layout, and every planted defect caught by package_run and check_zip."""

from __future__ import annotations

import shutil
import zipfile

import cv2
import numpy as np
import pytest
from pipeline_helpers import make_run

from endobench.errors import EndobenchError
from endobench.writers.masks import mask_path, write_mask
from endobench.writers.package import PackageError, check_run, mask_problems, package_run
from endobench.writers.zip_check import check_zip


@pytest.fixture()
def run(sample_pairs, tmp_path):
    images, masks = sample_pairs
    return make_run(tmp_path, "r", images, masks, set_name="EndoCV_DATA1")


def test_package_writes_exactly_the_submission_tree(run, sample_pairs, tmp_path):
    out = tmp_path / "sub.zip"
    report = package_run(run, out)
    assert report.ok and report.sets == {"EndoCV_DATA1": 4}
    names = zipfile.ZipFile(out).namelist()
    stems = sorted(p.stem for p in sample_pairs[0].iterdir())
    expected_files = {f"EndoCV2021/segmentation/EndoCV_DATA1_pred/{s}_mask.jpg" for s in stems}
    expected_files.add("EndoCV2021/segmentation/EndoCV_DATA1_pred/timeElaspsedEndoCV_DATA1.txt")
    expected_dirs = {
        "EndoCV2021/",
        "EndoCV2021/segmentation/",
        "EndoCV2021/segmentation/EndoCV_DATA1_pred/",
    }
    assert set(names) == expected_files | expected_dirs
    # The zip made here validates against the original images.
    assert check_zip(out, sample_pairs[0]).ok
    with pytest.raises(EndobenchError, match="exists"):
        package_run(run, out)
    first = out.read_bytes()
    package_run(run, out, force=True)
    assert out.read_bytes() == first  # fixed timestamps and order: the same run gives the same zip


def _problems_after(run, tmp_path, plant) -> list[str]:
    plant(run)
    out = tmp_path / "bad.zip"
    with pytest.raises(PackageError) as caught:
        package_run(run, out)
    assert not out.exists()
    return caught.value.problems


def _first(run):
    return sorted(mask_path(run, "EndoCV_DATA1", "x").parent.glob("*_mask.jpg"))[0]


def test_missing_mask_is_caught(run, tmp_path):
    victim = _first(run)
    problems = _problems_after(run, tmp_path, lambda r: victim.unlink())
    assert problems == [f"missing mask EndoCV2021/segmentation/EndoCV_DATA1_pred/{victim.name}"]


def test_package_cli_lists_every_problem(run, tmp_path):
    from typer.testing import CliRunner

    from endobench.cli import app

    _first(run).unlink()
    write_mask(
        sorted(mask_path(run, "EndoCV_DATA1", "x").parent.glob("*_mask.jpg"))[0],
        np.zeros((5, 5), bool),
    )
    result = CliRunner().invoke(app, ["package", str(run), "--out", str(tmp_path / "z.zip")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "  - missing mask" in result.output and "  - EndoCV2021/" in result.output
    assert "Error: run" in result.output and not (tmp_path / "z.zip").exists()


def test_extra_files_are_caught(run, tmp_path):
    def plant(r):
        (mask_path(r, "EndoCV_DATA1", "x").parent / "notes.txt").write_text("hi")
        write_mask(mask_path(r, "EndoCV_DATA1", "nosuchimage"), np.ones((288, 384), bool))
        (r / "EndoCV2021" / "stray.jpg").write_bytes(b"x")

    problems = _problems_after(run, tmp_path, plant)
    assert len(problems) == 3
    assert all(p.startswith("extra file") for p in problems)
    assert any("nosuchimage" in p for p in problems)


def test_wrong_size_is_caught(run, tmp_path):
    victim = _first(run)
    problems = _problems_after(
        run, tmp_path, lambda r: write_mask(victim, np.zeros((100, 120), bool))
    )
    assert len(problems) == 1 and "size 100x120" in problems[0] and "288x384" in problems[0]


def test_non_binary_mask_is_caught(run, tmp_path):
    victim = _first(run)
    ramp = np.tile(np.linspace(0, 255, 384).astype(np.uint8), (288, 1))

    problems = _problems_after(run, tmp_path, lambda r: cv2.imwrite(str(victim), ramp))
    assert len(problems) == 1 and "not binary" in problems[0]


def test_zero_one_mask_is_caught(run, tmp_path):
    victim = _first(run)
    ones = np.zeros((288, 384), np.uint8)
    ones[50:100, 50:100] = 1
    problems = _problems_after(run, tmp_path, lambda r: cv2.imwrite(str(victim), ones))
    assert len(problems) == 1 and "0/1" in problems[0]


def test_every_problem_is_listed_at_once(run, tmp_path):
    masks = sorted(mask_path(run, "EndoCV_DATA1", "x").parent.glob("*_mask.jpg"))

    def plant(r):
        masks[0].unlink()
        write_mask(masks[1], np.zeros((10, 10), bool))

    assert len(_problems_after(run, tmp_path, plant)) == 2
    assert len(check_run(run).problems) == 2


def test_check_zip_catches_defects_in_a_zip_made_elsewhere(run, sample_pairs, tmp_path):
    good = tmp_path / "good.zip"
    package_run(run, good)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        names = [n for n in src.namelist() if n.endswith("_mask.jpg")]
        for name in src.namelist():
            if name != names[0]:
                dst.writestr(name, src.read(name))
        dst.writestr("__MACOSX/._junk", b"")
        ok, grey = cv2.imencode(".png", np.full((288, 384), 128, np.uint8))
        dst.writestr(names[1].replace("_mask.jpg", "_mask.tif"), grey.tobytes())
    report = check_zip(bad, sample_pairs[0])
    text = "\n".join(report.problems)
    assert not report.ok
    assert "missing mask" in text and "__MACOSX/._junk" in text and "more than one mask" in text
    assert "not binary" in text


def test_check_zip_pairs_set_subfolders(run, sample_pairs, tmp_path):
    out = tmp_path / "s.zip"
    package_run(run, out)
    images = tmp_path / "test_images" / "EndoCV_DATA1"
    shutil.copytree(sample_pairs[0], images)
    assert check_zip(out, tmp_path / "test_images").ok


def test_binary_rule_tolerates_jpeg_but_not_probabilities():
    rng = np.random.default_rng(0)
    mask = np.zeros((64, 64), bool)
    mask[10:40, 12:50] = True
    for quality in (75, 95, 100):
        ok, data = cv2.imencode(
            ".jpg", mask.astype(np.uint8) * 255, [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        assert mask_problems(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE), (64, 64)) == []
    assert mask_problems(rng.integers(0, 256, (64, 64), dtype=np.uint8), (64, 64))


def _rezip(good, bad, change) -> None:
    """Copy zip ``good`` to ``bad``, passing each member's name and bytes through ``change``."""
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            kept = change(name, src.read(name))
            if kept is not None:
                dst.writestr(name, kept)


@pytest.mark.parametrize("member", ["jpg", "tif"])
def test_truncated_zip_member_is_a_problem(run, sample_pairs, tmp_path, member):
    """OpenCV would decode a truncated member with grey filler; the one reading rule refuses it."""
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    package_run(run, good)
    victim = sorted(n for n in zipfile.ZipFile(good).namelist() if n.endswith("_mask.jpg"))[0]
    tif_name = victim.replace(".jpg", ".tif")

    def truncate(name, data):
        if name != victim:
            return data
        if member == "jpg":
            return data[:-2]  # the end-of-image marker lost
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        ok, tif = cv2.imencode(".tif", pixels)
        return None if not ok else tif.tobytes()[:-100]

    _rezip(good, bad, truncate)
    if member == "tif":  # the challenge also took .tif masks
        with zipfile.ZipFile(bad) as src:
            data = {n: src.read(n) for n in src.namelist()}
        with zipfile.ZipFile(bad, "w") as dst:
            for name, content in data.items():
                dst.writestr(tif_name if name == victim else name, content)
    report = check_zip(bad, sample_pairs[0])
    shown = victim if member == "jpg" else tif_name
    assert report.problems == [f"{shown}: file is truncated; download or export it again"]


def test_check_cli_lists_five_problems_then_how_many_more(run, sample_pairs, tmp_path):
    from typer.testing import CliRunner

    from endobench.cli import app

    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    package_run(run, good)
    _rezip(good, bad, lambda name, data: None if name.endswith("_mask.jpg") else data)
    with zipfile.ZipFile(bad, "a") as archive:
        for index in range(8):
            archive.writestr(f"EndoCV2021/stray{index}.txt", b"x")
    args = ["package", "--check", str(bad), "--images", str(sample_pairs[0])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.count("  - ") == 6 and "  - ... 7 more" in result.output
    assert "12 problems" in result.output


def test_check_skips_unreadable_and_ignores_system_files_in_the_images(run, sample_pairs, tmp_path):
    from typer.testing import CliRunner

    from endobench.cli import app

    out = tmp_path / "sub.zip"
    package_run(run, out)
    images = tmp_path / "images"
    shutil.copytree(sample_pairs[0], images)
    for junk in ("Thumbs.db", "desktop.ini", ".DS_Store", "._1.png"):
        (images / junk).write_bytes(b"\x00\x05\x16\x07")
    assert check_zip(out, images).ok
    first = sorted(p for p in images.glob("*.png") if not p.name.startswith("."))[0]
    first.write_bytes(b"\x89PNG\r\n\x1a\n")  # the header itself is cut: its size is unknown
    args = ["package", "--check", str(out), "--images", str(images)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and f"{first.name}: file is truncated" in refused.output
    result = CliRunner().invoke(app, [*args, "--skip-problems"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 unreadable test image" in result.output and "valid" in result.output
    report = check_zip(out, images, skip_problems=True)
    assert report.ok and len(report.skipped) == 1 and first.name in report.skipped[0]
