"""User-facing errors.

Every problem a user can fix (a missing file, a wrong folder layout, weights for another model)
raises an :class:`EndobenchError` whose message is one line naming the file and the fix. The
command-line interface prints it without a traceback and exits with status 2.
"""

from __future__ import annotations

import errno
import os


class EndobenchError(Exception):
    """A problem with the user's input, stated in one line with the file and the fix."""


class DataError(EndobenchError):
    """An image, mask or data set folder that cannot be read or paired."""


class ScoringError(EndobenchError):
    """Predictions and ground truth that cannot be scored together."""


class WeightsError(EndobenchError):
    """A weights file that is missing or does not fit the model."""


class ConfigError(EndobenchError):
    """An option or configuration value that is out of range or inconsistent."""


class OutputError(EndobenchError):
    """A file or folder that the operating system refused to write (no space, no permission...)."""


# What went wrong and what the user can do about it, by errno.
_FIXES = {
    errno.ENOSPC: ("no space left on the device", "free some space there and run again"),
    errno.EDQUOT: ("disk quota exceeded", "free some space there and run again"),
    errno.EFBIG: ("file too large for the file system", "write it to another file system"),
    errno.EACCES: ("permission denied", "choose a folder you may write to"),
    errno.EPERM: ("operation not permitted", "choose a folder you may write to"),
    errno.EROFS: ("read-only file system", "choose a writable folder"),
    errno.ENAMETOOLONG: ("path too long", "choose a shorter name or folder"),
    errno.EISDIR: ("is a folder", "give a file name, not a folder"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose another path"),
    errno.ENOENT: ("a folder on the path does not exist", "create it or choose another path"),
    errno.EEXIST: ("already exists", "choose another path"),
    errno.EIO: ("input/output error", "check the disk"),
}


#: Causes worded for a file being written; said plainly when the action is not known.
_WRITE_ONLY_WORDING = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR}


def os_error_message(
    err: OSError, path: str | os.PathLike | None = None, action: str | None = "write"
) -> str:
    """Word an operating-system error as one line naming the path and the fix.

    Args:
        err: The error raised by the operating system.
        path: The file the user asked for (default: the file the error names).
        action: What was being done to it (``"write"``, ``"read"``); None when not known.

    Returns:
        E.g. ``cannot write out/a.png: no space left on the device (free some space there and run
        again)``.
    """
    where = path if path is not None else (err.filename or "a file")
    cause, fix = _FIXES.get(err.errno, (err.strerror or str(err), None))
    if action is None and err.errno in _WRITE_ONLY_WORDING:  # not known to be a write
        cause, fix = (err.strerror or cause).lower(), None
    text = (
        f"{os.fsdecode(where)}: {cause}"
        if action is None
        else f"cannot {action} {os.fsdecode(where)}: {cause}"
    )
    text = f"{text} ({fix})" if fix else text
    return text.replace("\n", "\\n").replace("\r", "\\r")  # one line, whatever the path holds


def output_error(err: OSError, path: str | os.PathLike | None = None) -> OutputError:
    """Return the :class:`OutputError` for an operating-system error while writing ``path``."""
    return OutputError(os_error_message(err, path, "write"))
