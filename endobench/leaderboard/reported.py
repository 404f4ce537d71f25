"""Results reported in papers (``leaderboard/reported/*.json``), each with its source.

They are shown in their own section, marked "reported, not measured here", and never ranked with
the runs endobench measured: their splits, preprocessing and metric code are the authors'.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from endobench.errors import ConfigError, EndobenchError
from endobench.leaderboard.records import DICE_05_TITLES, PRANET_KEYS

REPORTED_SCHEMA = 1
REPORTED_HEADING = "Reported in papers (reported, not measured here)"
#: Column order of reported tables: metric key -> title.
REPORTED_COLUMNS = {
    "jaccard": "Jac",
    "dice": "Dice",
    "f2": "F2",
    "ppv": "PPV",
    "recall": "Rec",
    "accuracy": "Acc",
    "hausdorff": "Hdf",
    "mdice": DICE_05_TITLES["mdice"],
    "miou": DICE_05_TITLES["miou"],
    **{key: title for key, (_, title) in PRANET_KEYS.items()},
    "fw_beta": "Fβw",
    "s_alpha": "Sα",
    "e_phi_max": "Eφmax",
    "e_phi_mean": "mEφ",
    "mae": "MAE",
    "hd95": "HD95",
    "fps": "FPS",
}


def load_reported(leaderboard_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Read every ``<leaderboard>/reported/*.json`` (sorted by file name).

    Raises:
        EndobenchError: A file is not valid JSON, lacks its source, or names an unknown metric.
    """
    folder = Path(leaderboard_dir) / "reported"
    if not folder.is_dir():
        return []
    sources = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise EndobenchError(f"{path} is not valid JSON ({err.msg}); fix the file") from err
        if data.get("schema") != REPORTED_SCHEMA or not (data.get("source") or {}).get("citation"):
            raise ConfigError(f"{path}: needs schema 1 and source.citation; see reported/README.md")
        for row in data.get("rows", []):
            unknown = sorted(set(row.get("values", {})) - set(REPORTED_COLUMNS))
            if unknown:
                raise ConfigError(
                    f"{path}: unknown metric(s) {', '.join(unknown)}; use {', '.join(REPORTED_COLUMNS)}"
                )
        data["_file"] = path.name
        sources.append(data)
    return sources


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    present = {k for row in rows for k in row.get("values", {})}
    return [k for k in REPORTED_COLUMNS if k in present]


def _value(row: Mapping[str, Any], key: str, decimals: int | None) -> str:
    """A value as published: FPS with one decimal, scores with the source's decimals."""
    value = row.get("values", {}).get(key)
    if value is None:
        return "–"
    if key == "fps":
        return f"{value:.1f}"
    return f"{value:.{decimals}f}" if decimals is not None else f"{value:g}"


def _source_lines(source: Mapping[str, Any]) -> list[str]:
    where = source["source"]
    lines = [f"Source: {where['citation']}."]
    if where.get("where"):
        lines.append(f"Where: {where['where']}.")
    if where.get("url"):
        lines.append(f"URL: {where['url']}")
    if source.get("metrics"):
        lines.append(f"Metrics: {source['metrics']}.")
    return lines + list(source.get("notes", []))


def reported_markdown(sources: Sequence[Mapping[str, Any]]) -> str:
    """The reported results as Markdown: one table per source, unranked, with the source."""
    if not sources:
        return ""
    lines = [f"# {REPORTED_HEADING}", ""]
    lines.append(
        "Copied from the publications below; not measured by endobench, not ranked, and not "
        "comparable row by row with the measured tables above (other splits, sizes, code)."
    )
    lines.append("")
    for source in sources:
        rows = source.get("rows", [])
        columns = _columns(rows)
        lines += [f"## {source.get('title', source['_file'])} — reported, not measured here", ""]
        head = ["Data set", "Model", "Size", *(REPORTED_COLUMNS[k] for k in columns)]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join(["---", "---", "---:"] + ["---:"] * len(columns)) + "|")
        for row in rows:
            cells = [str(row["dataset"]), str(row["model"]), str(row.get("size") or "–")]
            cells += [_value(row, k, source.get("decimals")) for k in columns]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines += [f"- {line}" for line in _source_lines(source)]
        lines.append("")
    return "\n".join(lines)


def reported_html(sources: Sequence[Mapping[str, Any]]) -> str:
    """The reported results as HTML tables (class ``reported``), with their sources."""
    if not sources:
        return ""
    out = [f'<h1 id="reported">{html.escape(REPORTED_HEADING)}</h1>']
    out.append(
        "<p>Copied from the publications below; not measured by endobench and never ranked "
        "with measured runs.</p>"
    )
    for source in sources:
        rows = source.get("rows", [])
        columns = _columns(rows)
        title = f"{source.get('title', source['_file'])} — reported, not measured here"
        out.append(f"<h2>{html.escape(title)}</h2>")
        head = ["Data set", "Model", "Size", *(REPORTED_COLUMNS[k] for k in columns)]
        out.append(
            '<table class="reported"><thead><tr>'
            + "".join(f"<th>{html.escape(h)}</th>" for h in head)
            + "</tr></thead><tbody>"
        )
        for row in rows:
            cells = [str(row["dataset"]), str(row["model"]), str(row.get("size") or "–")]
            cells += [_value(row, k, source.get("decimals")) for k in columns]
            out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        out.append("</tbody></table>")
        out.append(
            "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in _source_lines(source)) + "</ul>"
        )
    return "\n".join(out)
