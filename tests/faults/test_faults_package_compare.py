"""Bad inputs and faults of ``endobench package`` and ``endobench compare``."""

from __future__ import annotations

import errno
import os
import shutil
import zipfile

import pytest
from fault_helpers import (
    assert_ok,
    assert_one_line_error,
    invoke,
    leftovers,
    snapshot,
    truncate,
)

from endobench.writers.masks import mask_path


def _masks(run):
    return sorted(mask_path(run, "clinicdb", "x").parent.glob("*_mask.jpg"))


def test_package_then_check_a_good_run(hand_runs, pairs, tmp_path):
    out = tmp_path / "sub.zip"
    assert_ok(invoke("package", hand_runs[0], "--out", out))
    assert_ok(invoke("package", "--check", out, "--images", pairs / "images"))


def test_package_a_run_with_a_missing_mask(hand_runs, tmp_path):
    _masks(hand_runs[0])[1].unlink()
    out = tmp_path / "sub.zip"
    assert_one_line_error(invoke("package", hand_runs[0], "--out", out), listing=True)
    assert not out.exists() and leftovers(tmp_path) == []


def test_package_a_run_with_a_truncated_mask(hand_runs, tmp_path):
    victim = truncate(_masks(hand_runs[0])[0], 0.4)
    out = tmp_path / "sub.zip"
    line = assert_one_line_error(invoke("package", hand_runs[0], "--out", out), listing=True)
    assert victim.stem in line or victim.name in line or "problem" in line
    assert not out.exists()


def test_package_a_folder_that_is_no_run(tmp_path):
    (tmp_path / "notarun").mkdir()
    (tmp_path / "notarun" / "x.txt").write_text("hello")
    assert_one_line_error(invoke("package", tmp_path / "notarun", "--out", tmp_path / "s.zip"))


def test_package_into_a_folder_or_under_a_file(hand_runs, tmp_path):
    (tmp_path / "is_a_folder.zip").mkdir()
    assert_one_line_error(
        invoke("package", hand_runs[0], "--out", tmp_path / "is_a_folder.zip", "--force"),
        "is_a_folder.zip",
    )
    (tmp_path / "file").write_text("x")
    assert_one_line_error(
        invoke("package", hand_runs[0], "--out", tmp_path / "file" / "s.zip"), "not a folder"
    )


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_package_on_a_full_or_read_only_disk(hand_runs, tmp_path, monkeypatch, code):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    real_replace = os.replace

    def failing_replace(src, dst, *args, **kwargs):
        if str(dst).startswith(str(out_dir)):
            raise OSError(code, os.strerror(code))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", failing_replace)
    assert_one_line_error(invoke("package", hand_runs[0], "--out", out_dir / "s.zip"), "s.zip")
    assert snapshot(out_dir) == {}


def test_check_a_zip_with_a_truncated_member(hand_runs, pairs, tmp_path):
    good = tmp_path / "good.zip"
    assert_ok(invoke("package", hand_runs[0], "--out", good))
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        masks = [info.filename for info in src.infolist() if info.filename.endswith("_mask.jpg")]
        victim = masks[1]
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[: len(data) // 2] if info.filename == victim else data)
    result = invoke("package", "--check", bad, "--images", pairs / "images")
    assert_one_line_error(result, listing=True)
    assert victim.rsplit("/", 1)[-1] in result.stderr


def test_check_a_file_that_is_no_zip(pairs, tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    assert_one_line_error(
        invoke("package", "--check", fake, "--images", pairs / "images"), "fake.zip"
    )


def test_compare_two_good_runs(hand_runs):
    result = invoke("compare", *hand_runs, "--format", "csv")
    assert_ok(result)
    assert "alpha" in result.stdout and "beta" in result.stdout


def test_compare_a_folder_that_is_no_run(hand_runs, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(invoke("compare", hand_runs[0], tmp_path / "empty"), "empty")


def test_compare_a_run_with_a_corrupt_run_json(hand_runs):
    (hand_runs[1] / "run.json").write_text('{"name": "grown", "sta')
    assert_one_line_error(invoke("compare", *hand_runs), "run.json")


def test_compare_runs_on_different_images(hand_runs, pairs, tmp_path):
    from pipeline_helpers import make_run

    fewer = tmp_path / "fewer"
    shutil.copytree(pairs, fewer)
    victim = sorted((fewer / "images").iterdir())[0]
    victim.unlink()
    next((fewer / "masks").glob(victim.stem + ".*")).unlink()
    other = make_run(tmp_path / "more", "fewer", fewer / "images", fewer / "masks", model="gamma")
    assert_one_line_error(invoke("compare", hand_runs[0], other), victim.stem)


def test_compare_out_exists_or_cannot_be_written(hand_runs, tmp_path):
    out = tmp_path / "table.md"
    out.write_text("my table\n")
    assert_one_line_error(invoke("compare", *hand_runs, "--out", out), "--force")
    assert out.read_text() == "my table\n"
    (tmp_path / "file").write_text("x")
    assert_one_line_error(
        invoke("compare", *hand_runs, "--out", tmp_path / "file" / "t.md"), "not a folder"
    )


def test_compare_plot_into_a_read_only_folder(hand_runs, tmp_path, monkeypatch):
    import matplotlib.figure

    plots = tmp_path / "plots"
    real_savefig = matplotlib.figure.Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        if str(fname).startswith(str(plots)):
            raise OSError(errno.EROFS, "Read-only file system", str(fname))
        return real_savefig(self, fname, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    assert_one_line_error(invoke("compare", *hand_runs, "--plot", plots), "read-only")
    assert leftovers(plots) == []


def test_package_leaves_out_system_files_and_temporaries(hand_runs, tmp_path):
    folder = _masks(hand_runs[0])[0].parent
    (folder / "Thumbs.db").write_bytes(b"\0" * 64)
    (folder / ".DS_Store").write_bytes(b"\0" * 64)
    (folder / ".134_mask.k3j_x9q2.tmp.jpg").write_bytes(b"")  # a write killed half-way
    out = tmp_path / "sub.zip"
    assert_ok(invoke("package", hand_runs[0], "--out", out))
    with zipfile.ZipFile(out) as archive:
        names = [name.rsplit("/", 1)[-1] for name in archive.namelist()]
    assert sorted(n for n in names if n) == sorted(p.name for p in _masks(hand_runs[0])) + [
        "timeElaspsedclinicdb.txt"
    ]
