"""The packed sample that ``make gpu-check`` carries to a GPU machine: real test frames, >= 500 pairs.

``python -m endobench.checks.gpu_sample --data-root DATA [--out gpu-sample] [--images 512]``
(``make gpu-sample``) packs the test frames of PraNet's split, Kvasir-SEG (100, JPEG, copied
byte for byte: Kvasir-size JPEGs) and CVC-ClinicDB (62, PNG re-encoded as JPEG quality 95 to keep
the folder small), repeated in turn until ``images`` pairs, into::

    gpu-sample/images/r<k>-<set>-<id>.jpg   the frames (round k of the repetition)
    gpu-sample/masks/r<k>-<set>-<id>.png    their masks, 0/255, one channel
    gpu-sample/sample.json                  what is there and where it came from

about 20 MiB for 512 pairs (the folder is git-ignored). ``gpu_check --sample gpu-sample`` runs
``endobench run`` over ``images/`` and trains on the pairs. The folder is written beside its
destination and renamed into place: never half-written; an existing one is replaced only with
``--force``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

#: The folder ``make gpu-sample`` writes (git-ignored).
DEFAULT_DIR = Path("gpu-sample")
#: The named test sets packed, in turn.
SETS = ("kvasir:test", "clinicdb:test")
#: Pairs packed by default (the issue asks for >= 500).
DEFAULT_IMAGES = 512
#: JPEG quality of the frames re-encoded from PNG.
JPEG_QUALITY = 95


def pack_gpu_sample(
    out: str | os.PathLike = DEFAULT_DIR,
    data_root: str | os.PathLike | None = None,
    images: int = DEFAULT_IMAGES,
    sets: tuple[str, ...] = SETS,
    force: bool = False,
) -> dict[str, Any]:
    """Pack ``images`` image/mask pairs of the test frames of ``sets`` into ``out``.

    Args:
        out: The folder to write.
        data_root: Where the named data sets are (default: ``$ENDOBENCH_DATA``).
        images: How many pairs; the frames repeat, in order, until there are that many.
        sets: Named data sets (``endobench datasets``) whose frames are packed.
        force: Replace an existing ``out``.

    Returns:
        The description written to ``sample.json``.

    Raises:
        ConfigError: ``out`` exists without ``force``, or ``images`` is below 1.
        DataError: A data set is missing or unreadable.
    """
    from endobench.data import load_dataset
    from endobench.errors import ConfigError

    out = Path(out)
    if images < 1:
        raise ConfigError(f"--images {images}: pack at least 1")
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to replace it")
    frames = [(name, s) for name in sets for s in load_dataset(name, data_root).samples]
    if not frames:
        raise ConfigError(f"{', '.join(sets)}: no frames to pack")
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        description = _write_pairs(scratch, frames, images, sets)
        if out.exists():
            shutil.rmtree(out)
        os.replace(scratch, out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return description


def _write_pairs(folder: Path, frames: list, count: int, sets: tuple[str, ...]) -> dict[str, Any]:
    import cv2

    from endobench.data import read_image, read_mask

    (folder / "images").mkdir()
    (folder / "masks").mkdir()
    for index in range(count):
        name, sample = frames[index % len(frames)]
        label = name.split(":")[0].replace("/", "-")
        stem = f"r{index // len(frames)}-{label}-{Path(sample.image).stem}"
        image_path = folder / "images" / f"{stem}.jpg"
        if Path(sample.image).suffix.lower() in (".jpg", ".jpeg"):
            shutil.copyfile(sample.image, image_path)
        else:
            rgb = read_image(sample.image)
            cv2.imwrite(
                str(image_path),
                cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
            )
        mask = read_mask(sample.mask).astype("uint8") * 255
        cv2.imwrite(str(folder / "masks" / f"{stem}.png"), mask)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    description = {
        "images": count,
        "unique_frames": len(frames),
        "sets": list(sets),
        "rule": "the sets' frames in turn, repeated until `images` pairs; JPEG frames copied byte "
        f"for byte, others re-encoded as JPEG quality {JPEG_QUALITY}; masks thresholded > 127, "
        "written 0/255 PNG",
        "bytes": size,
    }
    (folder / "sample.json").write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return description


def main(argv: list[str] | None = None) -> int:
    """``python -m endobench.checks.gpu_sample``: pack the sample; 2 with one ``Error:`` line."""
    from endobench.errors import EndobenchError

    parser = argparse.ArgumentParser(prog="python -m endobench.checks.gpu_sample")
    parser.add_argument("--out", default=str(DEFAULT_DIR), help=f"folder (default {DEFAULT_DIR})")
    parser.add_argument("--data-root", default=None, help="where the named data sets are")
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES, help="pairs to pack")
    parser.add_argument("--force", action="store_true", help="replace an existing folder")
    args = parser.parse_args(argv)
    try:
        description = pack_gpu_sample(args.out, args.data_root, args.images, force=args.force)
    except EndobenchError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    print(
        f"packed {description['images']} pairs ({description['unique_frames']} frames) in "
        f"{args.out}: {description['bytes'] / 2**20:.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
