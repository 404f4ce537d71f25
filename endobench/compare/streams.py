"""Stream summaries side by side: the figures of `endobench stream` for several models or settings.

`compare` and `report` take stream folders (those holding an `endobench stream` ``summary.json``)
beside run folders; their summaries are shown in one table, a row a stream: false alarms per
minute, flicker, latency and frames per second, with the conditions they were measured under.
Torch-free (reads JSON only).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from endobench.errors import ConfigError

SCHEMA_PREFIX = "endobench.stream/"
#: (header, how a summary gives the cell); each cell is text.
_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("stream", lambda name, s: name),
    ("model", lambda name, s: s.get("model") or "–"),
    ("backend / device", lambda name, s: f"{s.get('backend')} / {s.get('device')}"),
    ("threads", lambda name, s: str(s.get("threads", "–"))),
    ("frames", lambda name, s: str(s["frames"])),
    ("source fps", lambda name, s: f"{s['fps_source']:g}"),
    ("fps", lambda name, s: f"{s['fps_end_to_end']:.1f}" + ("" if s.get("keeps_up") else " *")),
    ("latency p50 / p90 / p99 ms", lambda name, s: " / ".join(
        "–" if v is None else f"{v:.0f}" for v in s["latency_ms"].values()
    )),
    ("alarms", lambda name, s: str(s["alarms"])),
    ("alarm frames", lambda name, s: str(s["alarm_frames"])),
    ("flicker /100", lambda name, s: f"{s['flicker_per_100']:.1f}"),
    ("false alarms /min", lambda name, s: _optional(s.get("false_alarms_per_minute"), "{:.2f}")),
    ("first detection s", lambda name, s: _first_detection(s)),
    ("filter k,n,m", lambda name, s: "{k},{n},{m}".format(**s["temporal_filter"])),
)  # fmt: skip
NOTE = "* below the source's frame rate: this machine did not keep up in real time."


def _optional(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _first_detection(summary: dict[str, Any]) -> str:
    if "detected" not in summary:
        return "–"
    first = summary.get("time_to_first_detection_s")
    return "not detected" if first is None else f"{first:.2f}"


def stream_summary_path(path: str | Path) -> Path | None:
    """The ``summary.json`` of a stream folder (or the file itself), or None for anything else."""
    path = Path(path)
    candidate = path / "summary.json" if path.is_dir() else path
    if candidate.name != "summary.json" or not candidate.is_file():
        return None
    try:
        schema = json.loads(candidate.read_text(encoding="utf-8")).get("schema", "")
    except (OSError, ValueError, AttributeError):
        return None
    return candidate if str(schema).startswith(SCHEMA_PREFIX) else None


def split_streams(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """Separate stream folders from the rest (run folders, records), keeping their order."""
    streams, others = [], []
    for path in paths:
        (streams if stream_summary_path(path) else others).append(Path(path))
    return streams, others


def load_streams(paths: Sequence[str | Path]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, summary)`` of each stream folder; the name is the folder's.

    Raises:
        ConfigError: A path is not a stream folder.
    """
    out = []
    for path in paths:
        summary_path = stream_summary_path(path)
        if summary_path is None:
            raise ConfigError(f"{path}: not a stream folder (no `endobench stream` summary.json)")
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        out.append((summary_path.parent.name, summary))
    return out


def stream_table(paths: Sequence[str | Path], fmt: str = "md") -> str:
    """The side-by-side table of stream folders as Markdown, CSV, LaTeX or HTML."""
    rows = [[cell(name, s) for _, cell in _COLUMNS] for name, s in load_streams(paths)]
    headers = [header for header, _ in _COLUMNS]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerows([headers, *rows])
        return buffer.getvalue()
    if fmt == "html":
        return stream_table_html(headers, rows)
    if fmt == "latex":
        from endobench.compare.table_formats import latex_escape

        body = "".join(" & ".join(latex_escape(c) for c in row) + " \\\\\n" for row in rows)
        head = " & ".join(latex_escape(h) for h in headers)
        return (
            f"\\begin{{tabular}}{{l{'r' * (len(headers) - 1)}}}\n\\hline\n{head} \\\\\n\\hline\n"
            f"{body}\\hline\n\\end{{tabular}}\n% {latex_escape(NOTE)}\n"
        )
    if fmt != "md":
        raise ConfigError(f"--format {fmt!r}: stream tables are md, csv, latex or html")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + f"\n\n{NOTE}\n"


def stream_table_html(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """The table as an HTML fragment."""
    from endobench.compare.report_page import esc

    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return (
        f'<table class="streams"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        f'<p class="note">{esc(NOTE)}</p>'
    )


def stream_section(paths: Sequence[str | Path]) -> tuple[str, str]:
    """The `report` section of stream folders: ``(heading, html)``."""
    return ("Video streams side by side", stream_table(paths, "html"))
