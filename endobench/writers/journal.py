"""A run's journal, ``.journal.jsonl``: one JSON line per finished image, append-only.

It lets an interrupted run resume: an image whose line exists (and whose outputs decode) is done.
A line cut by an interruption is ignored when read and ended before new lines are appended.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

JOURNAL = ".journal.jsonl"


def read_journal(path: str | Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Return a journal's entries by ``(set, name)``; a line torn by an interruption is skipped."""
    path = Path(path)
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    if not path.is_file():
        return entries
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        entries[(entry["set"], entry["name"])] = entry
    return entries


@contextlib.contextmanager
def journal_appender(path: str | Path) -> Iterator[Callable[[Mapping[str, Any]], None]]:
    """Yield a function that appends one entry to the journal and flushes it."""
    path = Path(path)
    _end_torn_line(path)
    with path.open("a", encoding="utf-8") as handle:

        def append(entry: Mapping[str, Any]) -> None:
            handle.write(json.dumps(dict(entry)) + "\n")
            handle.flush()

        yield append


def _end_torn_line(path: Path) -> None:
    """End a journal whose last line was cut by an interruption, so new lines start clean."""
    if path.is_file() and path.stat().st_size:
        with path.open("rb") as handle:
            handle.seek(-1, 2)
            torn = handle.read(1) != b"\n"
        if torn:
            with path.open("a", encoding="utf-8") as handle:
                handle.write("\n")
