"""Bad inputs and faults of ``endobench run``: wrong weights, damaged images, full disks, kills."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from fault_helpers import (
    FailingWrites,
    assert_ok,
    assert_one_line_error,
    invoke,
    leftovers,
    snapshot,
    truncate,
)

from endobench.models import save_checkpoint


def _masks(run_dir: Path) -> dict[str, str]:
    """The finished submission masks of a run: relative path -> sha256."""
    return {
        k: v
        for k, v in snapshot(run_dir / "EndoCV2021").items()
        if k.endswith("_mask.jpg") and not Path(k).name.startswith(".")
    }


def test_a_good_run(run_args, pairs, tmp_path):
    assert_ok(invoke(*run_args(pairs, tmp_path / "out")))
    assert len(_masks(tmp_path / "out" / "r")) == 4


def test_truncated_input_image_is_named(run_args, pairs, tmp_path):
    victim = truncate(sorted((pairs / "images").iterdir())[2], 0.5)
    assert_one_line_error(invoke(*run_args(pairs, tmp_path / "out")), victim.name)


def test_input_image_of_random_bytes_is_named(run_args, pairs, tmp_path):
    victim = sorted((pairs / "images").iterdir())[0]
    victim.write_bytes(np.random.default_rng(1).bytes(5000))
    assert_one_line_error(invoke(*run_args(pairs, tmp_path / "out")), victim.name)


def test_empty_image_folder(run_args, tmp_path):
    (tmp_path / "nothing" / "images").mkdir(parents=True)
    assert_one_line_error(invoke(*run_args(tmp_path / "nothing", tmp_path / "out")))


def test_missing_image_folder(run_args, tmp_path):
    assert_one_line_error(invoke(*run_args(tmp_path / "nowhere", tmp_path / "out")), "nowhere")


@pytest.mark.parametrize("kind", ["random bytes", "truncated", "other model", "missing", "pth"])
def test_wrong_weights_are_named(run_args, pairs, tmp_path, tiny_weights, kind):
    bad = tmp_path / "bad.safetensors"
    if kind == "random bytes":
        bad.write_bytes(np.random.default_rng(2).bytes(4096))
    elif kind == "truncated":
        shutil.copy(tiny_weights, bad)
        truncate(bad, 0.5)
    elif kind == "other model":
        save_checkpoint(bad, {"encoder.weight": torch.zeros(4, 3, 3, 3)}, {"model": "other"})
    elif kind == "pth":
        bad = tmp_path / "bad.pth"
        bad.write_bytes(b"not a pickle at all")
    args = run_args(pairs, tmp_path / "out")
    args[args.index("--weights") + 1] = bad
    assert_one_line_error(invoke(*args), bad.name)


def test_out_under_a_file(run_args, pairs, tmp_path):
    (tmp_path / "file").write_text("x")
    assert_one_line_error(invoke(*run_args(pairs, tmp_path / "file" / "runs")), "file")


def test_run_name_too_long(run_args, pairs, tmp_path):
    line = assert_one_line_error(invoke(*run_args(pairs, tmp_path / "out", "n" * 300)))
    assert "too long" in line


def test_run_folder_without_permission(run_args, pairs, tmp_path, monkeypatch):
    real_mkdir = Path.mkdir
    out = tmp_path / "locked"

    def mkdir(path, *args, **kwargs):
        if str(path).startswith(str(out)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    assert_one_line_error(invoke(*run_args(pairs, out)), "locked", "permission denied")


def test_size_not_a_multiple_names_the_neighbours(run_args, pairs, tmp_path):
    line = assert_one_line_error(invoke(*run_args(pairs, tmp_path / "out", "r", "--size", "300")))
    assert "288 or 320" in line


def test_unknown_data_set_lists_the_names(run_args, tmp_path):
    args = run_args(tmp_path, tmp_path / "out")
    at = args.index("--images")
    args[at : at + 2] = ["--dataset", "no-such-set", "--data-root", tmp_path]
    line = assert_one_line_error(invoke(*args), "no-such-set")
    assert "polypgen/positive" in line or "positive" in line


def test_odd_names_run_and_keep_their_names(run_args, pairs, tmp_path):
    odd = tmp_path / "my set ü"
    shutil.copytree(pairs, odd)
    for folder in ("images", "masks"):
        files = sorted((odd / folder).iterdir())
        files[0].rename(files[0].with_name(f"-dash{files[0].suffix}"))
        files[1].rename(files[1].with_name(f"息肉 polyp{files[1].suffix}"))
    assert_ok(invoke(*run_args(odd, tmp_path / "out")))
    names = sorted(Path(name).name for name in _masks(tmp_path / "out" / "r"))
    assert "-dash_mask.jpg" in names and "息肉 polyp_mask.jpg" in names and len(names) == 4


def test_mask_of_another_size_than_its_image(run_args, pairs, tmp_path):
    victim = sorted((pairs / "masks").iterdir())[0]
    mask = cv2.imread(str(victim), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(victim), cv2.resize(mask, (mask.shape[1] // 2, mask.shape[0] // 2)))
    assert_one_line_error(invoke(*run_args(pairs, tmp_path / "out")), victim.stem)


def test_full_disk_mid_run_then_resume_gives_the_same_masks(run_args, pairs, tmp_path, monkeypatch):
    assert_ok(invoke(*run_args(pairs, tmp_path / "whole")))
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        FailingWrites(patch, out, errno.ENOSPC, after=4)
        assert_one_line_error(invoke(*run_args(pairs, out)), str(out), "no space left")
    assert leftovers(out) == []
    assert 0 < len(_masks(out / "r")) < 4  # stopped part-way, every written mask whole
    assert_ok(invoke(*run_args(pairs, out, "r", "--resume")))
    assert _masks(out / "r") == _masks(tmp_path / "whole" / "r")
    assert json.loads((out / "r" / "run.json").read_text())["status"] == "complete"


def test_a_really_full_disk_then_space_freed_then_resume(run_args, pairs, tmp_path, small_disk):
    """No simulation: a 96 KiB file system fills up mid-run; after it grows, --resume finishes."""
    disk, enlarge = small_disk
    assert_ok(invoke(*run_args(pairs, tmp_path / "whole", "r", "--save-prob")))
    line = assert_one_line_error(invoke(*run_args(pairs, disk, "r", "--save-prob")))
    assert "no space left" in line and str(disk) in line
    enlarge()
    assert_ok(invoke(*run_args(pairs, disk, "r", "--save-prob", "--resume")))
    assert _masks(disk / "r") == _masks(tmp_path / "whole" / "r")
    assert leftovers(disk) == []


def test_run_into_a_really_read_only_folder(run_args, pairs, read_only_folder):
    line = assert_one_line_error(invoke(*run_args(pairs, read_only_folder)))
    assert str(read_only_folder) in line and "read-only" in line
    assert snapshot(read_only_folder) == {}


def test_kill_9_mid_run_then_resume_gives_the_same_masks(run_args, pairs, tmp_path):
    """A real SIGKILL (no clean-up at all) after two masks; ``--resume`` finishes the run."""
    assert_ok(invoke(*run_args(pairs, tmp_path / "whole")))
    out = tmp_path / "out"
    args = [str(arg) for arg in run_args(pairs, out)]
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1] / "pipeline")!r})
        from pipeline_tiny_model import register
        register()
        from pathlib import Path
        real, calls = Path.write_bytes, []
        def write_bytes(path, data):
            if "_mask." in path.name:  # the temporary file of a submission mask
                if len(calls) == 2:
                    os.kill(os.getpid(), signal.SIGKILL)
                calls.append(path)
            return real(path, data)
        Path.write_bytes = write_bytes
        from endobench.cli import main
        main({args!r})
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=600)
    assert killed.returncode == -9, killed.stderr.decode()
    assert len(_masks(out / "r")) == 2 and len(leftovers(out)) == 1  # killed inside a write
    assert_ok(invoke(*run_args(pairs, out, "r", "--resume")))
    assert _masks(out / "r") == _masks(tmp_path / "whole" / "r")
    assert leftovers(out) == []


def test_a_real_process_prints_one_line_and_no_traceback(gt_pred, tmp_path):
    """The console script itself (not the test runner): a bad --json path, exit status 2."""
    gt, pred = gt_pred
    (tmp_path / "file").write_text("x")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "endobench",
            "score",
            "--gt",
            gt,
            "--pred",
            pred,
            "--json",
            tmp_path / "file" / "s.json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert "s.json" in lines[0] and "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("kind", ["grey", "rgba", "16-bit", "tiff", "bmp", "png named .jpg"])
def test_odd_format_input_images_run_like_their_plain_copies(run_args, pairs, tmp_path, kind):
    """An input in another format or depth gives the masks of its plain 8-bit RGB copy."""
    odd = tmp_path / "odd"
    shutil.copytree(pairs, odd)
    victim = sorted((odd / "images").iterdir())[0]
    image = cv2.imread(str(victim), cv2.IMREAD_COLOR)
    plain = tmp_path / "plain"
    shutil.copytree(pairs, plain)
    if kind == "grey":  # the plain copy holds the same grey values in three channels
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        cv2.imwrite(str(victim), grey)
        cv2.imwrite(str(plain / "images" / victim.name), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    elif kind == "rgba":
        cv2.imwrite(str(victim), cv2.cvtColor(image, cv2.COLOR_BGR2BGRA))
    elif kind == "16-bit":
        cv2.imwrite(str(victim), image.astype(np.uint16) * 257)
    else:
        victim.unlink()
        suffix = {"tiff": ".tif", "bmp": ".bmp", "png named .jpg": ".jpg"}[kind]
        data = cv2.imencode(".png" if kind == "png named .jpg" else suffix, image)[1].tobytes()
        victim.with_suffix(suffix).write_bytes(data)
    result = invoke(*run_args(odd, tmp_path / "out"))
    if result.exit_code == 2:  # refusing a format is allowed, in one line naming the file
        assert_one_line_error(result, victim.stem)
        return
    assert_ok(result)
    assert_ok(invoke(*run_args(plain, tmp_path / "out", "plain")))
    odd_masks = {Path(k).name: v for k, v in _masks(tmp_path / "out" / "r").items()}
    plain_masks = {Path(k).name: v for k, v in _masks(tmp_path / "out" / "plain").items()}
    assert odd_masks == plain_masks


def test_an_interrupted_run_is_refused_by_package_compare_and_leaderboard(
    run_args, pairs, hand_runs, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        FailingWrites(patch, out, errno.ENOSPC, after=4)
        assert_one_line_error(invoke(*run_args(pairs, out)), "no space left")
    run = out / "r"
    zip_path = tmp_path / "sub.zip"
    assert_one_line_error(invoke("package", run, "--out", zip_path), "unfinished", "--resume")
    assert not zip_path.exists()
    assert_one_line_error(invoke("compare", hand_runs[0], run), str(run))
    board = tmp_path / "board"
    assert_one_line_error(invoke("leaderboard", "add", run, "--dir", board), str(run))
    assert not (board / "results").exists() or not any((board / "results").iterdir())
    assert_one_line_error(invoke(*run_args(pairs, out)), "--resume")  # nothing overwritten
