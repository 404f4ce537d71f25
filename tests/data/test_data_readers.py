"""read_image / read_mask / image_size on every format, the real ClinicDB TIFFs and broken files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from endobench.data import empty_mask_like, image_size, read_image, read_mask
from endobench.errors import ConfigError, DataError

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (9, 13, 3), dtype=np.uint8)
GREY = RNG.integers(0, 256, (9, 13), dtype=np.uint8)


def _cv2_write(path: Path, array: np.ndarray) -> Path:
    assert cv2.imwrite(str(path), array)
    return path


def _palette_png(path: Path, indices: np.ndarray, palette: list[tuple[int, int, int]]) -> Path:
    """Write an 8-bit palette PNG by hand (OpenCV cannot write one)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    height, width = indices.shape
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(row) for row in indices.astype(np.uint8))
    plte = b"".join(bytes(colour) for colour in palette)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", plte)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".tiff"])
def test_lossless_rgb_round_trip(tmp_path, suffix):
    path = tmp_path / f"x{suffix}"
    if suffix in (".tif", ".tiff"):
        tifffile.imwrite(path, RGB, photometric="rgb")
    else:
        _cv2_write(path, RGB[:, :, ::-1].copy())  # OpenCV writes BGR
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (9, 13, 3)
    np.testing.assert_array_equal(out, RGB)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".JPG"])
def test_jpeg_is_rgb_order(tmp_path, suffix):
    red = np.zeros((16, 16, 3), dtype=np.uint8)
    red[:, :, 0] = 250  # pure red in RGB
    path = _cv2_write(tmp_path / f"red{suffix}", red[:, :, ::-1].copy())
    out = read_image(path)
    assert out.shape == (16, 16, 3)
    assert out[:, :, 0].min() > 200 and out[:, :, 2].max() < 40


def test_grey_png_becomes_three_equal_channels(tmp_path):
    out = read_image(_cv2_write(tmp_path / "g.png", GREY))
    for channel in range(3):
        np.testing.assert_array_equal(out[:, :, channel], GREY)


def test_rgba_png_drops_alpha(tmp_path):
    alpha = np.full((9, 13, 1), 10, dtype=np.uint8)
    bgra = np.concatenate([RGB[:, :, ::-1], alpha], axis=2)
    out = read_image(_cv2_write(tmp_path / "a.png", bgra))
    np.testing.assert_array_equal(out, RGB)


def test_16bit_png_scaled_to_8bit(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    out = read_image(_cv2_write(tmp_path / "d.png", values))
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 128, 255])


def test_16bit_rgb_tiff_scaled(tmp_path):
    wide = RGB.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "w.tif", wide, photometric="rgb")
    np.testing.assert_array_equal(read_image(tmp_path / "w.tif"), RGB)


def test_palette_png_expanded(tmp_path):
    palette = [(0, 0, 0), (255, 0, 0), (0, 128, 255)]
    indices = np.array([[0, 1, 2], [2, 1, 0]])
    out = read_image(_palette_png(tmp_path / "p.png", indices, palette))
    expected = np.array(palette, dtype=np.uint8)[indices]
    np.testing.assert_array_equal(out, expected)


def test_palette_tiff_expanded(tmp_path):
    colormap = np.zeros((3, 256), dtype=np.uint16)
    colormap[:, 1] = (65535, 0, 0)
    colormap[:, 2] = (0, 0, 65535)
    indices = np.array([[0, 1], [2, 1]], dtype=np.uint8)
    tifffile.imwrite(tmp_path / "p.tif", indices, photometric="palette", colormap=colormap)
    out = read_image(tmp_path / "p.tif")
    np.testing.assert_array_equal(out[0, 1], [255, 0, 0])
    np.testing.assert_array_equal(out[1, 0], [0, 0, 255])
    np.testing.assert_array_equal(out[0, 0], [0, 0, 0])


def test_min_is_black_rgb_tiff_like_clinicdb(tmp_path):
    """Three samples tagged min-is-black: OpenCV gives one channel, endobench all three."""
    path = tmp_path / "clinic.tif"
    tifffile.imwrite(path, RGB, photometric="minisblack", planarconfig="contig")
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ndim == 2  # the trap
    np.testing.assert_array_equal(read_image(path), RGB)


def test_planar_separate_and_float_tiffs(tmp_path):
    tifffile.imwrite(
        tmp_path / "s.tif", np.moveaxis(RGB, -1, 0), photometric="rgb", planarconfig="separate"
    )
    np.testing.assert_array_equal(read_image(tmp_path / "s.tif"), RGB)
    tifffile.imwrite(tmp_path / "f.tif", RGB.astype(np.float32) / 255.0, photometric="rgb")
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif"), RGB)


@pytest.mark.shared("CVC-ClinicDB-tif-sample", "CVC-ClinicDB")
def test_real_clinicdb_tiff_matches_png(shared_data):
    tif = shared_data / "CVC-ClinicDB-tif-sample" / "Original" / "25.tif"
    png = shared_data / "CVC-ClinicDB" / "images" / "25.png"
    image = read_image(tif)
    assert image.shape == (288, 384, 3)
    np.testing.assert_array_equal(image, read_image(png))
    assert not np.array_equal(image[:, :, 0], image[:, :, 2])  # really colour
    mask_tif = read_mask(shared_data / "CVC-ClinicDB-tif-sample" / "Ground Truth" / "25.tif")
    np.testing.assert_array_equal(
        mask_tif, read_mask(shared_data / "CVC-ClinicDB" / "masks" / "25.png")
    )
    assert 0 < mask_tif.sum() < mask_tif.size


def test_mask_threshold_rule(tmp_path):
    values = np.array([[0, 126, 127, 128, 255]], dtype=np.uint8)
    path = _cv2_write(tmp_path / "m.png", values)
    np.testing.assert_array_equal(read_mask(path), [[False, False, False, True, True]])
    np.testing.assert_array_equal(read_mask(path, threshold=0), [[False, True, True, True, True]])
    with pytest.raises(ConfigError):
        read_mask(path, threshold=255)


def test_mask_any_colour_channel_and_alpha_ignored(tmp_path):
    bgra = np.zeros((2, 3, 4), dtype=np.uint8)
    bgra[0, 0, 2] = 255  # red only
    bgra[0, 1, 0] = 200  # blue only
    bgra[1, :, 3] = 255  # alpha only: not foreground
    out = read_mask(_cv2_write(tmp_path / "c.png", bgra))
    np.testing.assert_array_equal(out, [[True, True, False], [False, False, False]])


def test_mask_16bit_and_tiff(tmp_path):
    values = np.array([[0, 30000, 40000, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(read_mask(_cv2_write(tmp_path / "m.png", values)), [[0, 0, 1, 1]])
    tifffile.imwrite(tmp_path / "m.tif", np.array([[0, 255]], dtype=np.uint8))
    np.testing.assert_array_equal(read_mask(tmp_path / "m.tif"), [[False, True]])


@pytest.mark.shared("Kvasir-SEG")
def test_real_kvasir_jpeg_mask_has_grey_edges(shared_data):
    path = next((shared_data / "Kvasir-SEG" / "masks").glob("*.jpg"))
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    strict, loose = read_mask(path), read_mask(path, threshold=0)
    assert strict.shape == raw.shape[:2]
    assert strict.sum() < loose.sum()  # grey JPEG edges fall between 0 and 127
    assert strict.sum() == (raw.max(axis=2) > 127).sum()


def test_empty_mask_like_has_image_size(tmp_path):
    path = _cv2_write(tmp_path / "i.jpg", RGB)
    out = empty_mask_like(path)
    assert out.shape == (9, 13) and out.dtype == bool and not out.any()


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".tif"])
def test_image_size_from_header(tmp_path, suffix):
    path = tmp_path / f"h{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, RGB, photometric="rgb")
    else:
        _cv2_write(path, RGB)
    assert image_size(path) == (9, 13)


def test_image_size_unknown_is_none(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not an image at all")
    assert image_size(tmp_path / "x.png") is None
    assert image_size(tmp_path / "missing.png") is None


def _truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _big(tmp_path: Path, suffix: str) -> Path:
    noise = np.random.default_rng(1).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    path = tmp_path / f"big{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, noise, photometric="rgb")
    else:
        _cv2_write(path, noise)
    return path


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".tif"])
@pytest.mark.parametrize("reader", [read_image, read_mask])
def test_truncated_files_raise_naming_the_file(tmp_path, suffix, reader):
    path = _truncate(_big(tmp_path, suffix), 0.6)
    with pytest.raises(DataError, match=path.name):
        reader(path)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n garbage", b"hello world"])
def test_broken_files_raise(tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(DataError, match="broken.png"):
        read_image(path)


def test_missing_file_raises(tmp_path):
    with pytest.raises(DataError, match="nothere.jpg: file not found"):
        read_image(tmp_path / "nothere.jpg")


def test_error_is_one_line(tmp_path):
    path = _truncate(_big(tmp_path, ".jpg"), 0.5)
    with pytest.raises(DataError) as info:
        read_image(path)
    assert "\n" not in str(info.value)


def test_opencv_written_lzw_tiff_falls_back_to_opencv(tmp_path):
    """tifffile needs imagecodecs for LZW; OpenCV writes LZW TIFFs and decodes them."""
    path = _cv2_write(tmp_path / "lzw.tif", RGB[:, :, ::-1].copy())
    np.testing.assert_array_equal(read_image(path), RGB)
    grey = _cv2_write(tmp_path / "lzw_grey.tiff", GREY)
    np.testing.assert_array_equal(read_image(grey)[:, :, 2], GREY)
    np.testing.assert_array_equal(read_mask(grey), GREY > 127)


def test_fallback_refuses_channels_opencv_drops(tmp_path, monkeypatch):
    path = tmp_path / "clinic.tif"
    tifffile.imwrite(path, RGB, photometric="minisblack", planarconfig="contig")

    def needs_codecs(self, *args, **kwargs):
        raise KeyError("<COMPRESSION.LZW: 5> requires the 'imagecodecs' package")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", needs_codecs)
    with pytest.raises(DataError, match="clinic.tif: compressed 3-channel TIFF.*imagecodecs"):
        read_image(path)
