"""The leaderboard: one JSON record per run under ``leaderboard/results/``, rendered to
``leaderboard/README.md`` and a static, sortable ``leaderboard/index.html`` (no torch)."""

from endobench.leaderboard.records import (
    add_record,
    default_leaderboard_dir,
    load_records,
    load_sources,
    record_from_run,
)
from endobench.leaderboard.render import render_html, render_leaderboard, render_markdown

__all__ = [
    "add_record",
    "default_leaderboard_dir",
    "load_records",
    "load_sources",
    "record_from_run",
    "render_html",
    "render_leaderboard",
    "render_markdown",
]
