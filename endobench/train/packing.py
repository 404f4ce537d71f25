"""Training data resized for training, packed small enough to travel (to a GPU machine, say).

``endobench pack-data`` decodes every pair of the named data sets (or folders) and every frame of
mask-less frame folders once, resizes them to the training side exactly as training does
(:func:`endobench.train.pairs.load_resized_pair`: pixel-area averaging when shrinking, masks read
with the ``> 127`` rule), and writes them as JPEG images and PNG masks under the same ids:

- a data set ``kvasir:train`` becomes ``OUT/kvasir-train/images/<id>.jpg`` and
  ``OUT/kvasir-train/masks/<id>.png``, a folder ``OUT/<its name>/...``: each is a folder that
  ``endobench train --data`` pairs by name;
- a frame folder keeps its layout below its own name (``OUT/<name>/sequenceData/negativeOnly/
  seq1_neg/seq1_img1.jpg``), so negatives are still read by sequence and PolypGen's
  ``centre_X_imgN`` names keep their centre.

Training on the pack at its own side decodes small files and resizes nothing; the result equals a
run on the original files up to the JPEG round trip of the images (``--quality``, 90 by default)
and the masks' soft edges (re-read with ``> 127``). ``manifest.json`` records what went in: data
set names, counts, side and quality, and every file's sha256.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2

from endobench.errors import ConfigError, DataError
from endobench.io import sha256_file, write_json_atomic
from endobench.train.pairs import Pair, load_resized_pair, resolve_pairs

MANIFEST = "manifest.json"


def pack_name(name: str) -> str:
    """The folder a data set name or folder is packed into: ``kvasir:train`` -> ``kvasir-train``."""
    return Path(name.rstrip("/")).name.replace(":", "-") or "data"


def _write_pair(pair: Pair, folder: Path, side: int, quality: int, masks: bool) -> list[Path]:
    image, mask = load_resized_pair(pair, side)
    stem = pair.id.split(":", 1)[-1] if pair.id.startswith("weak:") else Path(pair.id).name
    written = []
    image_path = folder / ("images" if masks else "") / f"{stem}.jpg"
    image_path.parent.mkdir(parents=True, exist_ok=True)
    ok = cv2.imwrite(
        str(image_path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise DataError(f"{image_path}: could not be written; check the folder's permissions")
    written.append(image_path)
    if masks:
        mask_path = folder / "masks" / f"{stem}.png"
        mask_path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(mask_path), mask)
        written.append(mask_path)
    return written


def pack_training_data(
    out: str | Path,
    data: Sequence[str] = (),
    frames: Sequence[str | Path] = (),
    *,
    side: int = 352,
    quality: int = 90,
    data_root: str | Path | None = None,
    workers: int = 4,
    advance=None,
) -> dict:
    """Pack data sets with masks and mask-less frame folders at the training side.

    Args:
        out: A new (or empty) folder.
        data: Data set names (``kvasir:train``) or folders of images and masks.
        frames: Folders of frames without masks (negatives, weak positives), layout kept.
        side: The training side (a multiple of 32).
        quality: JPEG quality of the images.
        data_root: Where named data sets live.
        workers: Decoding threads.
        advance: Progress callback ``advance(n)``.

    Returns:
        The manifest written to ``out/manifest.json``.

    Raises:
        ConfigError: ``out`` holds files already, or a bad side or quality.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out}: not empty; give a new folder for the pack")
    if side <= 0 or side % 32:
        raise ConfigError(f"--size {side} must be a positive multiple of 32 (e.g. 352)")
    if not 1 <= quality <= 100:
        raise ConfigError(f"--quality {quality} must lie in 1..100 (e.g. 90)")
    jobs: list[tuple[Pair, Path, bool]] = []
    record: dict = {"side": side, "quality": quality, "data": {}, "frames": {}}
    for name in data:
        pairs, described = resolve_pairs([name], data_root)
        jobs += [(p, out / pack_name(name), True) for p in pairs]
        record["data"][pack_name(name)] = {"source": described, "pairs": len(pairs)}
    for folder in frames:
        root = Path(folder).expanduser()
        files = _frame_files(root)
        jobs += [
            (
                Pair(f"weak:{f.relative_to(root).with_suffix('').as_posix()}", f, None),
                out / root.name,
                False,
            )
            for f in files
        ]
        record["frames"][root.name] = {"frames": len(files)}
    written: list[Path] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for paths in pool.map(lambda job: _write_pair(job[0], job[1], side, quality, job[2]), jobs):
            written += paths
            if advance is not None:
                advance(1)
    record["files"] = {str(p.relative_to(out)): sha256_file(p) for p in sorted(written)}
    record["bytes"] = sum(p.stat().st_size for p in written)
    write_json_atomic(out / MANIFEST, record)
    return record


def _frame_files(root: Path) -> list[Path]:
    from endobench.data.readers import IMAGE_SUFFIXES

    if not root.is_dir():
        raise DataError(f"{root}: not a folder; give a folder of frames")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{root}: no image files; give a folder of frames")
    return files
