"""The original CVC-ColonDB release as it comes, and the one pairing rule: what ``endobench
datasets`` lists is what ``run``, ``train`` and ``score`` accept.

The fixture copies the release's naming with tiny synthetic TIFFs: 380 frames ``N.tiff`` (frames
77-97 end in ``.tif``), masks ``pN.tiff`` and the polyp contours ``cpN.tiff`` in one folder, plus the
files other systems leave there (``Thumbs.db``, ``.DS_Store``, ``desktop.ini``, AppleDouble
``._N.tiff``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from endobench.cli import app
from endobench.data import detect_layout, find_datasets, load_dataset, open_dataset
from endobench.errors import DataError

PAIRS = 380
TIF_FRAMES = range(77, 98)
HEIGHT, WIDTH = 10, 12


def _frame_name(index: int) -> str:
    return f"{index}.tif" if index in TIF_FRAMES else f"{index}.tiff"


def _write_release(folder: Path) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(1, PAIRS + 1):
        frame = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        tifffile.imwrite(folder / _frame_name(index), frame, photometric="rgb")
        mask = np.zeros((HEIGHT, WIDTH), np.uint8)
        mask[2 + index % 3 : 7, 3:9] = 255
        tifffile.imwrite(folder / f"p{index}.tiff", mask)
        contour = mask.copy()
        contour[3:-3, 4:-4] = 0  # the outline only
        tifffile.imwrite(folder / f"cp{index}.tiff", contour)
    (folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 thumbnail cache")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / "desktop.ini").write_text("[.ShellClassInfo]\n")
    (folder / "._1.tiff").write_bytes(b"\x00\x05\x16\x07AppleDouble metadata")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """A data root holding ``CVC-ColonDB/`` exactly as the original release is laid out."""
    root = tmp_path_factory.mktemp("colondb_root")
    _write_release(root / "CVC-ColonDB")
    return root


def test_release_fixture_is_faithful(data_root):
    folder = data_root / "CVC-ColonDB"
    names = {p.name for p in folder.iterdir()}
    assert {"1.tiff", "76.tiff", "77.tif", "97.tif", "98.tiff", "380.tiff"} <= names
    assert {"p77.tiff", "cp77.tiff", "cp380.tiff"} <= names and "77.tiff" not in names
    assert sum(name.startswith("cp") for name in names) == PAIRS


def test_layout_ignores_contours_and_system_files(data_root):
    folder = data_root / "CVC-ColonDB"
    assert detect_layout(folder) == "colondb-original"
    dataset = open_dataset(folder)  # the strict mode: any problem would raise
    assert (dataset.name, len(dataset), dataset.skipped) == ("colondb", PAIRS, ())
    by_name = {s.name: s for s in dataset}
    assert by_name["77"].image.name == "77.tif" and by_name["77"].mask.name == "p77.tiff"
    assert not any(s.image.name.startswith(("cp", ".")) for s in dataset)
    image, mask = by_name["5"].read()
    assert image.shape == (HEIGHT, WIDTH, 3) and mask.sum() == (7 - (2 + 5 % 3)) * 6


def test_datasets_lists_what_run_accepts(data_root):
    from endobench.runner.sources import resolve_inputs

    listed = {entry.name: entry for entry in find_datasets(data_root)}
    assert listed["colondb"].count == PAIRS and listed["colondb"].problems == ()
    accepted = resolve_inputs(["colondb"], [], [], str(data_root))  # what `run` opens
    assert len(accepted[0].dataset) == listed["colondb"].count


def test_datasets_command_and_run_agree_on_a_damaged_copy(data_root, tmp_path):
    """With a truncated frame and a frame without mask: `datasets --skip-problems` (which reads
    every file, as run does) names both problems, run refuses the set naming both and, with
    --skip-problems, accepts exactly the count datasets gives. Plain `datasets` reads headers
    only: it names the pairing problem, so it too says that run refuses the set."""
    from endobench.runner.sources import resolve_inputs

    root = tmp_path / "root"
    folder = root / "CVC-ColonDB"
    folder.mkdir(parents=True)
    for path in (data_root / "CVC-ColonDB").iterdir():
        (folder / path.name).symlink_to(path)
    (folder / "p3.tiff").unlink()  # frame 3 loses its mask
    data = (data_root / "CVC-ColonDB" / "10.tiff").read_bytes()
    (folder / "10.tiff").unlink()
    (folder / "10.tiff").write_bytes(data[: len(data) - 40])  # truncated frame

    result = CliRunner().invoke(app, ["datasets", "--data-root", str(root), "--skip-problems"])
    assert result.exit_code == 0, result.output
    assert "image without mask: 3.tiff" in result.output
    assert "10.tiff: file is truncated" in result.output
    listed = {e.name: e for e in find_datasets(root, check_files=True)}["colondb"]
    assert (listed.count, len(listed.problems)) == (PAIRS - 2, 2)

    quick = {e.name: e for e in find_datasets(root)}["colondb"]
    assert quick.problems == ("image without mask: 3.tiff",)
    with pytest.raises(DataError, match="2 pairing problem.*3.tiff.*10.tiff.*--skip-problems"):
        resolve_inputs(["colondb"], [], [], str(root))
    with pytest.warns(UserWarning, match="skipped 2 pairing problem"):
        accepted = resolve_inputs(["colondb"], [], [], str(root), skip_problems=True)
    assert len(accepted[0].dataset) == listed.count
    assert {"3", "10"}.isdisjoint(s.name for s in accepted[0].dataset)


def test_train_pairs_follow_the_same_rule(data_root):
    from endobench.train.pairs import resolve_pairs

    pairs, described = resolve_pairs(["colondb"], data_root)
    assert len(pairs) == PAIRS and "colondb" in described[0]
    folder_pairs, _ = resolve_pairs([str(data_root / "CVC-ColonDB")])
    assert [p.id for p in folder_pairs] == [p.id for p in pairs]


@pytest.mark.filterwarnings("ignore::endobench.metrics.ScoringWarning")
def test_score_reads_colondb_masks_and_ignores_companions(data_root, tmp_path):
    """ColonDB's TIFF masks as truths, with stray system files in both folders."""
    from endobench.metrics import score_folders

    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    for index in (1, 77, 200):
        source = data_root / "CVC-ColonDB" / f"p{index}.tiff"
        (gt / f"{index}.tiff").write_bytes(source.read_bytes())
        (pred / f"{index}_mask.tiff").write_bytes(source.read_bytes())
    for folder in (gt, pred):
        (folder / "Thumbs.db").write_bytes(b"cache")
        (folder / "._1.tiff").write_bytes(b"\x00\x05\x16\x07")
    result = score_folders(gt, pred, progress=False)
    assert [name for name, _ in result.rows] == ["1", "200", "77"]
    assert result.summary["EndoCV2021_seg"]["dice"]["value"] == 1.0


def test_load_dataset_skip_mode_on_a_split_keeps_what_is_there(tmp_path, make_pairs):
    """A PraNet split with a skipped test image selects the images left, naming the skipped one."""
    from endobench.data.splits import pranet_split

    stems = sorted(pranet_split("kvasir", "test"))[:3]
    root = tmp_path / "root" / "Kvasir-SEG"
    make_pairs(root / "images", root / "masks", stems, ".jpg", "{stem}.jpg")
    (root / "masks" / f"{stems[0]}.jpg").unlink()
    with pytest.raises(DataError, match="image without mask"):
        load_dataset("kvasir", tmp_path / "root")
    with pytest.warns(UserWarning, match="skipped 1"):
        whole = load_dataset("kvasir", tmp_path / "root", on_problem="skip")
    assert len(whole) == 2 and whole.skipped == (f"image without mask: images/{stems[0]}.jpg",)


def _tiny_model() -> str:
    """A registered one-convolution model for running the release end to end (random weights)."""
    import torch

    from endobench.models import is_registered, register_model

    name = "colondb_tiny"
    if not is_registered(name):

        class OneConv(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.conv = torch.nn.Conv2d(3, 1, 3, padding=1)

            def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
                return [self.conv(x)]

        @register_model(name=name, input_size=32, num_outputs=1, description="pairing test net")
        def colondb_tiny(**kwargs):
            return OneConv()

    return name


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_run_command_accepts_the_release(data_root, tmp_path):
    """`endobench run --dataset colondb` on the original layout: 380 masks, as datasets lists."""
    listed = {e.name: e for e in find_datasets(data_root)}["colondb"]
    args = ["run", "--model", _tiny_model(), "--random-weights", "--dataset", "colondb"]
    args += ["--data-root", str(data_root), "--out", str(tmp_path), "--name", "colon"]
    args += ["--workers", "0", "--threads", "1", "--warmup", "0", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = list((tmp_path / "colon").rglob("*_mask.jpg"))
    assert len(written) == listed.count == PAIRS


def test_train_and_calibrate_data_skip_problems(data_root, tmp_path):
    """train/calibrate --skip-problems: the same skipped files as run, through the same rule."""
    from endobench.train.fold_plan import plan_training
    from endobench.train.options import TrainConfig
    from endobench.train.pairs import resolve_pairs
    from endobench.train.recipe import recipe_for

    folder = tmp_path / "CVC-ColonDB"
    folder.mkdir()
    for path in (data_root / "CVC-ColonDB").iterdir():
        (folder / path.name).symlink_to(path)
    (folder / "p7.tiff").unlink()
    with pytest.raises(DataError, match="image without mask: 7.tiff"):
        resolve_pairs([str(folder)])
    with pytest.warns(UserWarning, match="skipped 1"):
        pairs, _ = resolve_pairs([str(folder)], on_problem="skip")
    assert len(pairs) == PAIRS - 1 and "colondb/7" not in {p.id for p in pairs}
    config = TrainConfig(
        model="brp_lite", data=[str(folder)], out=tmp_path / "out", skip_problems=True
    )
    with pytest.warns(UserWarning, match="skipped 1"):
        plan = plan_training(config, recipe_for("brp_lite"))
    first = plan.folds[0]
    assert len(first.train_pairs) + len(first.val_pairs) == PAIRS - 1
