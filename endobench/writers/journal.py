"""A run's journal, ``.journal.jsonl``: one JSON line per finished image, append-only.

It lets an interrupted run resume: an image whose line exists (and whose outputs decode) is done.
A line cut by an interruption is ignored when read and ended before new lines are appended.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from endobench.io import write_text_atomic

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


#: The journal of one rank of a sharded run (``torchrun``): each rank appends to its own file,
#: so no two processes ever write one file; rank 0 merges them when every rank is done.
RANK_JOURNAL = ".journal.rank{rank}.jsonl"
_RANK_NAME = re.compile(r"\.journal\.rank(\d+)\.jsonl")


def rank_journals(folder: str | Path) -> list[Path]:
    """Return the per-rank journals of a run folder, in rank order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m[1]), p) for p in folder.iterdir() if (m := _RANK_NAME.fullmatch(p.name))]
    return [path for _, path in sorted(found)]


def read_journals(folder: str | Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Return the entries of a run folder's journal and of every rank's journal, by ``(set, name)``."""
    entries = read_journal(Path(folder) / JOURNAL)
    for path in rank_journals(folder):
        entries.update(read_journal(path))
    return entries


def merge_rank_journals(folder: str | Path) -> int:
    """Fold every rank's journal into the run's journal, then delete the rank files.

    The merged journal is written atomically before any rank file is deleted, so an interruption
    at any point leaves every entry readable by :func:`read_journals` (at worst twice, identical).

    Returns:
        How many rank journals were merged.
    """
    parts = rank_journals(folder)
    if not parts:
        return 0
    entries = read_journals(folder)
    write_text_atomic(
        Path(folder) / JOURNAL, "".join(json.dumps(entry) + "\n" for entry in entries.values())
    )
    for path in parts:
        path.unlink(missing_ok=True)
    return len(parts)
