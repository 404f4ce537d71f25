"""Small file utilities shared by every writer: atomic writes and content hashes."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from endobench.errors import EndobenchError, output_error


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A reader never sees a half-written file: on any exception the temporary file is removed and
    ``path`` is left as it was. An operating-system error while writing (no space, no permission,
    a read-only folder, a path too long, a folder in the way) becomes an
    :class:`~endobench.errors.OutputError` naming ``path`` and the fix.

    Args:
        path: The final destination. Its parent folder is created when missing.

    Yields:
        A temporary path in the same folder (same file system, so the rename is atomic). Its
        suffix is the destination's, so libraries that choose a format by suffix still work.

    Raises:
        OutputError: The operating system refused to create, write or rename the file.
    """
    dest = Path(path)
    tmp_path = _temporary_beside(dest)
    try:
        try:
            yield tmp_path
        except OSError as err:
            if err.filename is not None and Path(os.fsdecode(err.filename)) != tmp_path:
                raise  # about another file (one being read, say): not this write's error
            raise output_error(err, dest) from err
        except Exception as err:
            code = _hidden_os_error(err, dest.parent)
            if code is None:
                raise
            raise output_error(OSError(code, os.strerror(code)), dest) from err
        _publish(tmp_path, dest)
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def is_temporary(path: str | os.PathLike) -> bool:
    """Say whether ``path`` is a temporary file of :func:`atomic_path` (``.<stem>.<random>.tmp<ext>``)."""
    return _TEMPORARY.match(Path(path).name) is not None


#: ``tempfile.mkstemp``'s names as :func:`atomic_path` asks for them: eight random characters.
_TEMPORARY = re.compile(r"^\..*\.[a-z0-9_]{8}\.tmp(\.[^.]*)?$")


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that a killed process (``kill -9``, power loss) left below ``folder``.

    A process that is killed cannot clean up; its temporary files are never the final result, so
    removing them before continuing (``resume``) loses nothing.

    Returns:
        The files removed.
    """
    removed = []
    for path in Path(folder).rglob(".*.tmp*"):
        if path.is_file() and is_temporary(path):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _hidden_os_error(err: Exception, folder: Path) -> int | None:
    """The errno behind a library's own exception while writing, if it can be told.

    Writers in other languages report the operating system's error in words (safetensors:
    ``... No space left on device (os error 28)``) or not at all (torch.save on a full disk: an
    ``unexpected pos`` RuntimeError); a folder without free space is then the cause.
    """
    if isinstance(err, EndobenchError):
        return None
    found = re.search(r"os error (\d+)", str(err))
    if found:
        return int(found.group(1))
    try:
        full = shutil.disk_usage(folder).free < _FULL_BELOW
    except OSError:
        return None
    return errno.ENOSPC if full else None


#: A disk with less free space than this is full for every writer here.
_FULL_BELOW = 1 << 20


def _temporary_beside(dest: Path) -> Path:
    """Create an empty private temporary file in ``dest``'s folder (made when missing)."""
    try:
        for refused, applies in (
            (errno.ENAMETOOLONG, lambda: len(os.fsencode(dest.name)) > _name_max(dest.parent)),
            (errno.EISDIR, dest.is_dir),
        ):
            if applies():
                raise OSError(refused, os.strerror(refused))
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{dest.stem[:64]}.", suffix=f".tmp{dest.suffix[:16]}", dir=dest.parent
        )
        os.close(fd)
    except OSError as err:
        if err.errno == errno.EEXIST:  # only mkdir says so: a file sits where a folder should be
            err = OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        raise output_error(err, dest) from err
    return Path(tmp)


def _publish(tmp_path: Path, dest: Path) -> None:
    """Give the finished temporary file the usual permissions and rename it onto ``dest``."""
    try:
        # mkstemp creates the file private (0600); give the result the usual umask permissions.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, dest)
    except OSError as err:
        raise output_error(err, dest) from err


def _name_max(folder: Path) -> int:
    """The longest file name (bytes) the file system of ``folder`` (or its nearest parent) takes."""
    for candidate in (folder, *folder.parents):
        try:
            return os.pathconf(candidate, "PC_NAME_MAX")
        except (OSError, ValueError):
            continue
    return 255


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically and return the path."""
    return write_text_atomic(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's contents."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _umask() -> int:
    """Return the process umask (reading it requires setting it, so set it back at once)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
