"""The one image-reading rule: the toolkit's channel-0 reader against OpenCV itself, truncated and
undecodable files refused by every reader (one line naming the file), found without decoding for
``--skip-problems``, and the real folders still opening whole."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from endobench.data import (
    decode_mask_channel,
    image_file_problem,
    open_dataset,
    read_image,
    read_mask,
    read_mask_channel,
)
from endobench.errors import DataError

RNG = np.random.default_rng(3)
NOISE = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)
READERS = [read_image, read_mask, read_mask_channel]


def _write(path: Path, pixels: np.ndarray) -> Path:
    if path.suffix in (".tif", ".tiff"):
        photometric = "rgb" if pixels.ndim == 3 else "minisblack"
        tifffile.imwrite(path, pixels, photometric=photometric)
    else:
        assert cv2.imwrite(str(path), pixels)
    return path


def _cut(path: Path, keep_bytes: int) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[:keep_bytes])
    return path


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_toolkit_channel0_is_opencvs(tmp_path, suffix, channels):
    pixels = NOISE if channels == 3 else NOISE[:, :, 1]
    path = _write(tmp_path / f"m{suffix}", pixels)
    expected = cv2.imread(str(path))[:, :, 0]
    got = read_mask_channel(path)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(decode_mask_channel(path.read_bytes(), "member"), expected)


def test_toolkit_channel0_16bit_png_and_tiff_shift_like_opencv(tmp_path):
    values = np.array([[0, 1, 255, 256, 383, 384, 40000, 65535]], np.uint16)
    for name in ("m16.png", "m16.tif"):
        path = _write(tmp_path / name, values)
        np.testing.assert_array_equal(read_mask_channel(path), cv2.imread(str(path))[:, :, 0])
        np.testing.assert_array_equal(read_mask_channel(path), [[0, 0, 0, 1, 1, 1, 156, 255]])


def test_toolkit_channel0_of_tiffs(tmp_path):
    """RGB TIFF: blue (OpenCV's channel 0); 1-bit TIFFs (min-is-black and tifffile's default
    min-is-white): 0/255 as OpenCV decodes them."""
    rgb = NOISE.copy()
    path = _write(tmp_path / "rgb.tif", rgb)
    np.testing.assert_array_equal(read_mask_channel(path), rgb[:, :, 2])
    np.testing.assert_array_equal(read_mask_channel(path), cv2.imread(str(path))[:, :, 0])
    bits = NOISE[:, :, 0] > 127
    tifffile.imwrite(tmp_path / "black.tif", bits, photometric="minisblack")
    np.testing.assert_array_equal(read_mask_channel(tmp_path / "black.tif"), bits * 255)
    tifffile.imwrite(tmp_path / "white.tif", bits)
    np.testing.assert_array_equal(read_mask_channel(tmp_path / "white.tif"), ~bits * 255)
    for name in ("black.tif", "white.tif"):
        expected = cv2.imread(str(tmp_path / name))[:, :, 0]
        np.testing.assert_array_equal(read_mask_channel(tmp_path / name), expected)


def _format_samples(tmp_path: Path) -> dict[str, Path]:
    return {
        suffix: _write(tmp_path / f"whole{suffix}", NOISE)
        for suffix in (".jpg", ".png", ".bmp", ".tif")
    }


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".tif"])
@pytest.mark.parametrize("cut", [-1, -2, -12, 0.5, 0.05])
def test_every_reader_refuses_a_truncated_file(tmp_path, suffix, cut):
    """Cut anywhere (one byte off the end, the end marker, the middle, after the header): each
    reader raises a one-line DataError naming the file, and the byte check finds it too."""
    whole = _format_samples(tmp_path)[suffix]
    assert image_file_problem(whole) is None
    size = len(whole.read_bytes())
    keep = size + cut if isinstance(cut, int) else int(size * cut)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(whole.read_bytes()[:keep])
    for reader in READERS:
        with pytest.raises(DataError, match=f"cut{suffix}") as caught:
            reader(path)
        assert "\n" not in str(caught.value)
    with pytest.raises(DataError, match="member.jpg"):
        decode_mask_channel(path.read_bytes(), "member.jpg")
    problem = image_file_problem(path)
    assert problem is not None and f"cut{suffix}" in problem


def test_jpeg_with_an_embedded_thumbnail_is_judged_by_its_main_scan(tmp_path):
    """An EXIF thumbnail holds its own FF D9 before the main image: a truncated main scan is still
    found, and the whole file still reads."""
    main = _write(tmp_path / "main.jpg", NOISE).read_bytes()
    ok, thumb = cv2.imencode(".jpg", NOISE[:8, :8])
    payload = b"Exif\x00\x00" + thumb.tobytes()
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    whole = tmp_path / "exif.jpg"
    whole.write_bytes(main[:2] + app1 + main[2:])
    np.testing.assert_array_equal(read_image(whole), read_image(tmp_path / "main.jpg"))
    cut = tmp_path / "exif_cut.jpg"
    cut.write_bytes(whole.read_bytes()[:-300])
    with pytest.raises(DataError, match="exif_cut.jpg: file is truncated"):
        read_image(cut)


def test_png_with_data_after_iend_reads(tmp_path):
    path = _write(tmp_path / "tail.png", NOISE)
    path.write_bytes(path.read_bytes() + b"\x00" * 200)
    assert image_file_problem(path) is None
    np.testing.assert_array_equal(read_image(path), NOISE[:, :, ::-1])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"hello world, not an image", "not a decodable image"),
        (b"\x89PNG\r\n\x1a\n garbage", "truncated"),
        (b"II*\x00garbage", "not a readable TIFF"),
    ],
)
def test_undecodable_files(tmp_path, content, message):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    problem = image_file_problem(path)
    assert problem is not None and "bad.jpg" in problem and message in problem
    for reader in READERS:
        with pytest.raises(DataError, match="bad.jpg"):
            reader(path)


def test_other_format_under_an_image_suffix_is_judged_by_decoding(tmp_path):
    """A WebP saved as .png reads (OpenCV decodes it), so the byte check accepts it too."""
    ok, webp = cv2.imencode(".webp", NOISE, [cv2.IMWRITE_WEBP_QUALITY, 101])
    if not ok:
        pytest.skip("this OpenCV build cannot write WebP")
    path = tmp_path / "webp.png"
    path.write_bytes(webp.tobytes())
    assert image_file_problem(path) is None
    np.testing.assert_array_equal(read_image(path), NOISE[:, :, ::-1])
    _cut(path, len(webp) // 2)  # whatever OpenCV makes of it, the two answers agree
    try:
        read_image(path)
        refused = None
    except DataError as err:
        refused = str(err)
    assert image_file_problem(path) == refused


def test_missing_file_and_folder(tmp_path):
    assert "file not found" in image_file_problem(tmp_path / "none.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(DataError, match="dir.png: is a folder"):
        read_mask_channel(tmp_path / "dir.png")


def test_skip_mode_leaves_out_truncated_inputs_and_truths(tmp_path, make_pairs):
    root = tmp_path / "set"
    make_pairs(root / "images", root / "masks", ["a", "b", "c", "d"], ".jpg", "{stem}.png")
    _cut(root / "images" / "b.jpg", -2)  # the end-of-image marker lost
    _cut(root / "masks" / "c.png", -12)  # the IEND chunk lost
    opened = open_dataset(root)  # headers are whole: the strict mode finds the fault on reading
    with pytest.raises(DataError, match="b.jpg: file is truncated"):
        opened.samples[1].read()
    with pytest.warns(UserWarning, match="skipped 2 pairing problem"):
        skipped = open_dataset(root, on_problem="skip")
    assert [s.name for s in skipped] == ["a", "d"]
    assert skipped.skipped == (
        "unreadable: images/b.jpg: file is truncated; download or export it again",
        "unreadable: masks/c.png: file is truncated; download or export it again",
    )
    assert len(open_dataset(root, on_problem="skip", check_files=False)) == 4


def test_system_and_appledouble_files_are_not_data(tmp_path, make_pairs):
    root = tmp_path / "set"
    make_pairs(root / "images", root / "masks", ["a", "b"], ".jpg", "{stem}.png")
    for folder in (root / "images", root / "masks"):
        (folder / "Thumbs.db").write_bytes(b"cache")
        (folder / "desktop.ini").write_text("[.ShellClassInfo]")
        (folder / ".DS_Store").write_bytes(b"Bud1")
        (folder / "._a.jpg").write_bytes(b"\x00\x05\x16\x07")
        (folder / "~$a.png").write_bytes(b"lock")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._images").write_bytes(b"\x00\x05\x16\x07")
    dataset = open_dataset(root)
    assert [s.name for s in dataset] == ["a", "b"] and dataset.skipped == ()


@pytest.mark.shared("Kvasir-SEG", "CVC-ClinicDB", "CVC-ClinicDB-tif-sample", "PolypGen-negatives")
def test_real_folders_open_whole_with_every_file_checked(shared_data):
    """Every real file passes the byte check: the rule refuses nothing that is whole."""
    counts = {
        "Kvasir-SEG": 1000,
        "CVC-ClinicDB": 612,
        "CVC-ClinicDB-tif-sample": 4,
        "PolypGen-negatives": 546,
    }
    for folder, count in counts.items():
        dataset = open_dataset(shared_data / folder, check_files=True)
        assert (len(dataset), dataset.skipped) == (count, ()), folder
    tif = shared_data / "CVC-ClinicDB-tif-sample" / "Ground Truth" / "25.tif"
    png = shared_data / "CVC-ClinicDB" / "masks" / "25.png"
    np.testing.assert_array_equal(read_mask_channel(tif), cv2.imread(str(png))[:, :, 0])
    kvasir_mask = next((shared_data / "Kvasir-SEG" / "masks").glob("*.jpg"))
    np.testing.assert_array_equal(
        read_mask_channel(kvasir_mask), cv2.imread(str(kvasir_mask))[:, :, 0]
    )


def test_run_folder_readers_follow_the_rule(tmp_path):
    """The run folder's readers (predicted masks, probability maps) refuse truncated files too."""
    from endobench.writers.masks import read_prediction, read_prob, write_mask, write_prob

    mask = NOISE[:, :, 0] > 127
    write_mask(tmp_path / "a_mask.jpg", mask)
    write_prob(tmp_path / "a_prob.png", NOISE[:, :, 1] / 255.0)
    np.testing.assert_array_equal(
        read_prediction(tmp_path / "a_mask.jpg"),
        cv2.imread(str(tmp_path / "a_mask.jpg"))[..., 0] > 0,
    )
    np.testing.assert_allclose(
        read_prob(tmp_path / "a_prob.png"), NOISE[:, :, 1] / 255.0, atol=1e-6
    )
    for name, reader in (("a_mask.jpg", read_prediction), ("a_prob.png", read_prob)):
        _cut(tmp_path / name, -3)
        with pytest.raises(DataError, match=f"{name}.*truncated"):
            reader(tmp_path / name)


def test_damaged_tiffs_are_quiet_one_line_problems(tmp_path, make_pairs, caplog):
    """A TIFF with no page or with tags past its end: no crash on opening, no tifffile log lines,
    one problem line each."""
    from endobench.data import image_size

    root = tmp_path / "set"
    make_pairs(root / "images", root / "masks", ["a", "b", "c"], ".tif", "{stem}.tif")
    (root / "images" / "b.tif").write_bytes(b"II*\x00garbage")
    _cut(root / "masks" / "c.tif", 200)
    assert image_size(root / "images" / "b.tif") is None
    opened = open_dataset(root)  # headers that do not parse are compared when read
    with pytest.raises(DataError, match="b.tif: not a readable TIFF"):
        opened.samples[1].read()
    with pytest.warns(UserWarning, match="skipped 2"):
        skipped = open_dataset(root, on_problem="skip")
    assert [s.name for s in skipped] == ["a"]
    assert [line.split(": ")[1] for line in skipped.skipped] == ["images/b.tif", "masks/c.tif"]
    assert not [record for record in caplog.records if record.name.startswith("tifffile")]


class _Unreadable:
    """A dataset whose one item is a truncated file, read in a DataLoader worker."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int):
        return read_image(self.path)


def test_a_reading_error_from_a_dataloader_worker_stays_one_line(tmp_path):
    """torch re-raises a worker's DataError with the worker's traceback in the message; the CLI
    prints the reader's own line."""
    from torch.utils.data import DataLoader

    from endobench.cli import one_line_error

    path = _cut(_write(tmp_path / "cut.jpg", NOISE), -2)
    with pytest.raises(DataError) as caught:
        next(iter(DataLoader(_Unreadable(path), num_workers=1)))
    assert "Original Traceback" in str(caught.value)
    assert one_line_error(str(caught.value)) == (
        f"{path}: file is truncated; download or export it again"
    )
    assert one_line_error("plain: message\nsecond line") == "plain: message second line"
