"""The EndoCV2021 submission zip: built from a run folder and validated before it is written.

The zip holds the folder ``EndoCV2021/segmentation/`` at its root, as the challenge's inference
scripts zip it (``zip -r`` from the folder above ``EndoCV2021``), with one ``<set>_pred/`` folder per
test set holding ``<name>_mask.jpg`` for every test image and the toolkit's optional
``timeElaspsed<set>.txt``. Nothing else goes in.

Validation rules (every problem is collected, none stops the check early):

* exactly one mask per test image (``<name>_mask.jpg``, or ``.tif`` which the challenge also took);
  a mask for a name that is not a test image, or any other file, is an extra file;
* each mask decodes whole (a truncated JPEG, PNG or TIFF member is a problem, read by the data
  layer's one toolkit reader :func:`endobench.data.readers.decode_mask_channel`) and has its
  image's height and width;
* each mask is binary. JPEG cannot store a 0/255 mask exactly, so "binary" means: at most
  ``MAX_GREY_FRACTION`` (1 %) of the pixels are grey, a grey pixel being one whose value is more
  than ``GREY_TOLERANCE`` (32) away from both 0 and 255; and a mask whose brightest pixel is below
  128 is flagged as a 0/1 (or faint) mask, which the toolkit's ``> 0`` rule would read differently
  from what its author meant. A probability map saved as a mask fails the first rule.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from endobench.data.pairing import bounded_problems, is_ignored_file, list_images
from endobench.data.readers import decode_mask_channel
from endobench.errors import DataError, EndobenchError
from endobench.io import atomic_path, is_temporary
from endobench.wording import counted
from endobench.writers.masks import SUBMISSION_ROOT, pred_dir_name
from endobench.writers.run_folder import read_manifest, read_run_json
from endobench.writers.timing_note import time_entries, timing_warnings

GREY_TOLERANCE = 32
MAX_GREY_FRACTION = 0.01
MASK_EXTENSIONS = (".jpg", ".tif")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class PackageError(EndobenchError):
    """A submission that breaks the challenge's rules; ``problems`` lists every one of them."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


@dataclass
class PackageReport:
    """What a validation found: per-set mask counts and every problem, one line each.

    ``skipped`` lists the test images left out with ``skip_problems`` (their size is unknown).
    ``warnings`` names what is packaged but not to be trusted (an unstable timing), one a line;
    ``times`` holds each set's per-image milliseconds read from its ``timeElaspsed`` file.
    """

    sets: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


def mask_problems(pixels: np.ndarray, expected_hw: tuple[int, int] | None) -> list[str]:
    """Return the problems of one decoded mask (channel 0, uint8): size and binariness.

    Args:
        pixels: HxW uint8 values as the toolkit reads them (channel 0 of ``cv2.imread``).
        expected_hw: The test image's (height, width), or None to skip the size check.
    """
    problems = []
    if expected_hw is not None and tuple(pixels.shape[:2]) != tuple(expected_hw):
        problems.append(
            f"size {pixels.shape[0]}x{pixels.shape[1]}, but the image is "
            f"{expected_hw[0]}x{expected_hw[1]} (height x width)"
        )
    grey = (pixels > GREY_TOLERANCE) & (pixels < 255 - GREY_TOLERANCE)
    fraction = float(grey.mean()) if pixels.size else 0.0
    if fraction > MAX_GREY_FRACTION:
        problems.append(
            f"not binary: {100 * fraction:.1f}% of pixels are grey (more than {GREY_TOLERANCE} from "
            f"0 and 255); write 0/255 masks, not probabilities"
        )
    elif 0 < int(pixels.max(initial=0)) < 128:
        problems.append(
            f"brightest value is {int(pixels.max())}: looks like a 0/1 mask; write 0/255 masks"
        )
    return problems


def validate_entries(
    entries: Iterable[tuple[str, Callable[[], bytes]]],
    expected: Mapping[str, Mapping[str, tuple[int, int] | None]],
    directories: Iterable[str] = (),
) -> PackageReport:
    """Validate submission files against the test images they must answer.

    Args:
        entries: ``(posix path relative to the zip root, reader of the file's bytes)`` per file.
        expected: Per set, the test images' names and (height, width).
        directories: Folder entries of a zip (allowed only on the way to a ``<set>_pred`` folder).

    Returns:
        A report listing every problem.
    """
    report = PackageReport()
    root = PurePosixPath(*SUBMISSION_ROOT.parts)
    pred_dirs = {pred_dir_name(s): s for s in expected}
    allowed_dirs = {str(root.parent), str(root)} | {str(root / d) for d in pred_dirs}
    for folder in directories:
        if folder.rstrip("/") not in allowed_dirs:
            report.problems.append(f"extra folder {folder}")
    found: dict[str, dict[str, list[str]]] = {s: {} for s in expected}
    for arcname, read in entries:
        path = PurePosixPath(arcname)
        set_name = pred_dirs.get(path.parent.name) if path.parent.parent == root else None
        if set_name is None:
            report.problems.append(f"extra file {arcname} (only {root}/<set>_pred/ files belong)")
            continue
        if path.name == f"timeElaspsed{set_name}.txt":
            report.times[set_name] = time_entries(read)
            continue
        name, ext = _mask_name(path.name)
        if name is None or ext not in MASK_EXTENSIONS:
            report.problems.append(f"extra file {arcname} (masks are <name>_mask.jpg)")
            continue
        if name not in expected[set_name]:
            report.problems.append(
                f"extra file {arcname}: no test image named {name} in {set_name}"
            )
            continue
        found[set_name].setdefault(name, []).append(arcname)
        try:
            pixels = decode_mask_channel(read(), arcname)
        except DataError as err:
            report.problems.append(str(err))
            continue
        report.problems.extend(
            f"{arcname}: {p}" for p in mask_problems(pixels, expected[set_name][name])
        )
    for set_name, images in expected.items():
        report.sets[set_name] = len(found[set_name])
        for name in sorted(images):
            masks = found[set_name].get(name, [])
            if not masks:
                report.problems.append(
                    f"missing mask {root}/{pred_dir_name(set_name)}/{name}_mask.jpg"
                )
            elif len(masks) > 1:
                report.problems.append(
                    f"more than one mask for {set_name}/{name}: {', '.join(masks)}"
                )
    return report


def _mask_name(filename: str) -> tuple[str | None, str]:
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem.endswith("_mask"):
        return None, ""
    return stem[: -len("_mask")], f".{ext.lower()}"


def expected_from_run(run_dir: str | Path) -> dict[str, dict[str, tuple[int, int]]]:
    """Return per set the test images' names and sizes, from the run's ``manifest.json``."""
    manifest = read_manifest(run_dir)
    return {
        s: {e["name"]: (int(e["height"]), int(e["width"])) for e in rows}
        for s, rows in manifest.items()
    }


def expected_from_images(
    images: str | Path | Mapping[str, str | Path],
    set_names: Iterable[str] = (),
    skipped: list[str] | None = None,
) -> dict[str, dict[str, tuple[int, int] | None]]:
    """Return per set the names and sizes of the test images in a folder.

    Images are listed by the data layer's pairing rule (hidden, AppleDouble and system files
    such as ``Thumbs.db`` are ignored).

    Args:
        images: A folder with one subfolder per set (``EndoCV_DATA1/``, ...), a folder of images
            for a single set, or a mapping ``{set: folder}``.
        set_names: The sets the zip holds; used to pair a single image folder with its set.
        skipped: When given (``--skip-problems``), an image whose size cannot be read is kept
            with size None (its mask's size is not checked) and its problem is appended here,
            instead of raising.

    Raises:
        EndobenchError: The folder is missing or holds no images, or cannot be paired.
        DataError: A test image cannot be read and ``skipped`` is None.
    """
    if isinstance(images, Mapping):
        folders = {s: Path(p) for s, p in images.items()}
    else:
        base = Path(images)
        if not base.is_dir():
            raise EndobenchError(
                f"image folder {base} not found; pass the test images' folder with --images"
            )
        set_names = list(set_names)
        subdirs = {s: base / s for s in set_names if (base / s).is_dir()}
        if set_names and len(subdirs) == len(set_names):
            folders = subdirs
        elif len(set_names) == 1:
            folders = {set_names[0]: base}
        else:
            raise EndobenchError(
                f"{base} must hold one subfolder per set ({', '.join(set_names) or 'none found'}) "
                "or be the image folder of the zip's only set"
            )
    return {s: _image_sizes(folder, skipped) for s, folder in folders.items()}


def _image_sizes(folder: Path, skipped: list[str] | None) -> dict[str, tuple[int, int] | None]:
    if not folder.is_dir():
        raise EndobenchError(f"image folder {folder} not found; pass the test images' folder")
    sizes: dict[str, tuple[int, int] | None] = {}
    for path in list_images(folder):
        try:
            sizes[path.stem] = image_size(path)
        except DataError as err:
            if skipped is None:
                raise
            skipped.append(str(err))
            sizes[path.stem] = None
    if not sizes:
        raise EndobenchError(f"no images (jpg, png, bmp, tif) in {folder}")
    return sizes


def image_size(path: str | Path) -> tuple[int, int]:
    """Return an image file's (height, width): from its header, else by decoding it."""
    from endobench.data.headers import image_size as header_size

    size = header_size(path)
    if size is not None:
        return int(size[0]), int(size[1])
    from endobench.data.readers import read_image

    shape = read_image(path).shape
    return int(shape[0]), int(shape[1])


def submission_files(run_dir: str | Path) -> list[tuple[str, Path]]:
    """Return ``(zip path, file)`` for every file under the run's ``EndoCV2021/`` tree.

    Everything found is returned (not only the expected files), so that validation sees strays;
    system files that file managers drop in folders (``Thumbs.db``, ``.DS_Store``) and temporary
    files of unfinished writes are not part of a submission and are left out.
    """
    run_dir = Path(run_dir)
    top = run_dir / SUBMISSION_ROOT.parts[0]
    files = []
    if top.is_dir():
        for path in sorted(top.rglob("*")):
            leftover = is_temporary(path) or path.name.endswith(".tmp")
            if path.is_file() and not is_ignored_file(path.name) and not leftover:
                files.append((path.relative_to(run_dir).as_posix(), path))
    return files


def check_run(run_dir: str | Path) -> PackageReport:
    """Validate a run folder's submission tree against its manifest (and note an unstable timing)."""
    expected = expected_from_run(run_dir)
    files = submission_files(run_dir)
    report = validate_entries(((arc, path.read_bytes) for arc, path in files), expected)
    report.warnings = timing_warnings(run_dir)
    return report


def package_run(run_dir: str | Path, out_zip: str | Path, force: bool = False) -> PackageReport:
    """Validate a run folder and write its EndoCV2021 zip.

    Args:
        run_dir: A run folder written by ``endobench run``.
        out_zip: The zip to write.
        force: Overwrite an existing zip.

    Returns:
        The (clean) validation report.

    Raises:
        PackageError: The submission breaks a rule; nothing is written. ``problems`` lists all.
        EndobenchError: The zip exists and ``force`` is not set.
    """
    out_zip = Path(out_zip)
    if out_zip.exists() and not force:
        raise EndobenchError(f"{out_zip} exists; replace it with --force or choose another --out")
    status = (read_run_json(run_dir, required=False) or {}).get("status", "complete")
    if status != "complete":
        raise EndobenchError(
            f"run {run_dir} is unfinished (status {status!r}): finish it with `endobench run "
            "... --resume`, then package it"
        )
    expected = expected_from_run(run_dir)
    files = submission_files(run_dir)
    report = validate_entries(((arc, path.read_bytes) for arc, path in files), expected)
    if not report.ok:
        raise _package_error(f"run {run_dir}", report)
    report.warnings = timing_warnings(run_dir)
    with atomic_path(out_zip) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        written_dirs: set[str] = set()
        for arcname, path in files:
            parents = list(PurePosixPath(arcname).parents)[:-1]
            for folder in reversed(parents):
                if str(folder) not in written_dirs:
                    written_dirs.add(str(folder))
                    archive.writestr(zipfile.ZipInfo(f"{folder}/", date_time=_ZIP_DATE), b"")
            info = zipfile.ZipInfo(arcname, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return report


def _package_error(what: str, report: PackageReport) -> PackageError:
    shown = "; ".join(bounded_problems(report.problems))
    return PackageError(
        f"{what} is not a valid submission ({counted(len(report.problems), 'problem')}): {shown}",
        report.problems,
    )


def zip_listing(zip_path: str | Path) -> list[str]:
    """Return the names inside a zip (for reports and tests)."""
    with zipfile.ZipFile(io.BytesIO(Path(zip_path).read_bytes())) as archive:
        return archive.namelist()
