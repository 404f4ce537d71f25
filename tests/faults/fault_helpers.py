"""Helpers of the fault battery: invoke the real CLI, check the one-line error, damage files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from typer.testing import CliRunner

from endobench.cli import app


def invoke(*args: object, **kwargs):
    """Run ``endobench ARGS`` in this process (the real root group, its error handling included)."""
    return CliRunner().invoke(app, [str(arg) for arg in args], **kwargs)


def assert_one_line_error(result, *words: str, listing: bool = False) -> str:
    """Exit status 2, exactly one line on stderr, ``Error: ...`` naming ``words``; no traceback.

    Args:
        result: What :func:`invoke` returned.
        words: Texts the error line must hold (a file name, the fix).
        listing: Allow a bounded list of problems (indented ``  - `` lines) before the error
            line, as ``package`` prints when a submission breaks several rules.

    Returns:
        The error line.
    """
    shown = f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{shown}"
    )
    assert result.exit_code == 2, shown
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if listing:
        assert all(line.startswith("  ") for line in lines[:-1]) and len(lines) <= 7, shown
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("Error: "), shown
    assert "Traceback" not in result.output, shown
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"
    return lines[0]


def assert_ok(result) -> None:
    """Exit status 0 and no exception."""
    assert result.exit_code == 0 and result.exception is None, (
        f"exit {result.exit_code} {result.exception!r}\n{result.output}"
    )


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut a file to ``keep`` of its bytes (a download or copy stopped half-way)."""
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``folder`` (hidden files included)."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    """Temporary files of atomic writes left behind (there must be none)."""
    if not folder.exists():
        return []
    return [str(p) for p in folder.rglob("*") if p.is_file() and ".tmp" in p.name]


class FailingWrites:
    """Make the n-th and later writes through ``Path.write_bytes`` under ``root`` raise ``errno``.

    Every endobench writer writes its temporary file inside :func:`endobench.io.atomic_path`;
    raising there is what a full disk (or a folder turned read-only) does mid-run.
    """

    def __init__(self, monkeypatch, root: Path, code: int, after: int = 0) -> None:
        self.root, self.code, self.after, self.calls = Path(root).resolve(), code, after, 0
        original = Path.write_bytes

        def write_bytes(path: Path, data) -> int:
            if Path(path).resolve().is_relative_to(self.root):
                self.calls += 1
                if self.calls > self.after:
                    raise OSError(self.code, os.strerror(self.code), str(path))
            return original(path, data)

        monkeypatch.setattr(Path, "write_bytes", write_bytes)
