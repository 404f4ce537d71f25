"""Render comparison tables (:mod:`endobench.compare.tables`) as Markdown, CSV, LaTeX and HTML.

Notes on FPS conditions are real table notes: numbered markers after the FPS figures and the
notes below the table (LaTeX: ``threeparttable`` with ``\\tnote`` and ``tablenotes``, so they show
in the PDF).
"""

from __future__ import annotations

import csv
import html
import io

from endobench.compare.tables import FORMATS, METRICS, Row, Table
from endobench.errors import ConfigError
from endobench.leaderboard.records import UNSTABLE_MARK

_LATEX_SPECIALS = (
    ("\\", r"\textbackslash{}"),
    ("&", r"\&"),
    ("%", r"\%"),
    ("_", r"\_"),
    ("#", r"\#"),
    ("$", r"\$"),
    ("{", r"\{"),
    ("}", r"\}"),
    ("~", r"\textasciitilde{}"),
    ("^", r"\textasciicircum{}"),
)
_LATEX_SYMBOLS = (
    ("α", r"$\alpha$"),
    ("φ", r"$\phi$"),
    ("β", r"$\beta$"),
    ("≥", r"$\geq$"),
    ("†", r"\dag{}"),
)


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters (and write α, φ, β, ≥ in math mode)."""
    for char, repl in _LATEX_SPECIALS:
        text = text.replace(char, repl)
    for char, repl in _LATEX_SYMBOLS:
        text = text.replace(char, repl)
    return text


def _number(key: str, value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.{METRICS[key][2]}f}"


def _delta(key: str, value: float) -> str:
    return f"{value:+.{METRICS[key][2]}f}"


def _cells(table: Table, index: int, bold: tuple[str, str], note: tuple[str, str]) -> list[str]:
    row = table.rows[index]
    cells = []
    for key in table.metrics:
        text = _number(key, row.values.get(key))
        if (index, key) in table.bold:
            text = f"{bold[0]}{text}{bold[1]}"
        if (index, key) in table.deltas:
            text += f" ({_delta(key, table.deltas[(index, key)])})"
        if key == "fps" and row.fps_unstable and row.values.get(key) is not None:
            text += UNSTABLE_MARK
        if key == "fps" and index in table.fps_notes:
            text += f"{note[0]}{table.fps_notes[index]}{note[1]}"
        cells.append(text)
    return cells


def _label(row: Row) -> str:
    return f"{row.label} (baseline)" if row.is_baseline else row.label


def _titles(table: Table) -> list[str]:
    return ["Data set", "Model", "Size", *(METRICS[k][0] for k in table.metrics)]


def _numbered(table: Table) -> list[str]:
    return [f"[{n}] {text}" for n, text in enumerate(table.table_notes, start=1)]


def render_markdown(table: Table) -> str:
    """Render as a Markdown pipe table (bold with ``**``), notes below."""
    head = _titles(table)
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * len(table.metrics)) + "|",
    ]
    previous = None
    for i, row in enumerate(table.rows):
        name = row.dataset if row.dataset != previous else ""
        previous = row.dataset
        cells = [name, _label(row), str(row.size), *_cells(table, i, ("**", "**"), (" [", "]"))]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    notes = _numbered(table) + table.notes
    if notes:
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines) + "\n"


def render_csv(table: Table) -> str:
    """Render as CSV: full-precision numbers, the model name alone in ``model``, a ``baseline``
    column and one ``<metric>_delta`` column per metric when a baseline is given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    with_baseline = table.baseline is not None
    head = ["dataset", "model", "label", "size", "run", *table.metrics]
    if with_baseline:
        head += ["baseline", *(f"{k}_delta" for k in table.metrics)]
    if "fps" in table.metrics:
        head += ["fps_device", "fps_backend", "fps_precision", "fps_threads"]
    writer.writerow(head)
    for i, row in enumerate(table.rows):
        line = [row.dataset, row.model, row.label, row.size, row.run]
        line += [
            "" if row.values.get(k) is None else repr(float(row.values[k])) for k in table.metrics
        ]
        if with_baseline:
            line.append("yes" if row.is_baseline else "")
            line += [
                "" if (i, k) not in table.deltas else repr(table.deltas[(i, k)])
                for k in table.metrics
            ]
        if "fps" in table.metrics:
            line += list(row.condition)
        writer.writerow(line)
    return buffer.getvalue()


def render_latex(table: Table) -> str:
    """Render as a booktabs ``tabular`` inside a ``threeparttable`` (bold with ``\\textbf``).

    FPS condition markers are ``\\tnote{n}``; their text and the other notes are the
    ``tablenotes`` below the table, so they appear in the PDF.
    """
    head = [latex_escape(h) for h in _titles(table)]
    lines = [
        "% needs \\usepackage{booktabs,threeparttable}",
        r"\begin{threeparttable}",
        r"\begin{tabular}{lll" + "r" * len(table.metrics) + "}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
    ]
    previous = None
    for i, row in enumerate(table.rows):
        if previous is not None and row.dataset != previous:
            lines.append(r"\midrule")
        name = latex_escape(row.dataset) if row.dataset != previous else ""
        previous = row.dataset
        cells = [
            latex_escape(c)
            .replace("\x00", r"\textbf{")
            .replace("\x01", "}")
            .replace("\x02", r"\tnote{")
            .replace("\x03", "}")
            for c in _cells(table, i, ("\x00", "\x01"), ("\x02", "\x03"))
        ]
        lines.append(
            " & ".join([name, latex_escape(_label(row)), latex_escape(str(row.size)), *cells])
            + r" \\"
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    if table.table_notes or table.notes:
        lines.append(r"\begin{tablenotes}\footnotesize")
        lines += [
            rf"\item[{n}] {latex_escape(text)}" for n, text in enumerate(table.table_notes, start=1)
        ]
        lines += [rf"\item {latex_escape(text)}" for text in table.notes]
        lines.append(r"\end{tablenotes}")
    lines.append(r"\end{threeparttable}")
    return "\n".join(lines) + "\n"


def render_html(table: Table, title: str = "endobench comparison") -> str:
    """Render as a self-contained HTML page (bold with ``<b>``, notes as a list below)."""
    head = _titles(table)
    out = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>table{border-collapse:collapse;font-family:sans-serif}td,th{padding:3px 8px;"
        "border-bottom:1px solid #ccc}td.n{text-align:right}</style></head><body>",
        "<table>",
        "<thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>",
        "<tbody>",
    ]
    previous = None
    for i, row in enumerate(table.rows):
        name = row.dataset if row.dataset != previous else ""
        previous = row.dataset
        cells = [
            html.escape(c)
            .replace("\x00", "<b>")
            .replace("\x01", "</b>")
            .replace("\x02", "<sup>")
            .replace("\x03", "</sup>")
            for c in _cells(table, i, ("\x00", "\x01"), ("\x02", "\x03"))
        ]
        out.append(
            "<tr>"
            + "".join(f"<td>{html.escape(str(c))}</td>" for c in (name, _label(row), row.size))
            + "".join(f'<td class="n">{c}</td>' for c in cells)
            + "</tr>"
        )
    out.append("</tbody></table>")
    if table.table_notes:
        out.append(
            "<ol>" + "".join(f"<li>{html.escape(n)}</li>" for n in table.table_notes) + "</ol>"
        )
    out += [f"<p>{html.escape(n)}</p>" for n in table.notes] + ["</body></html>"]
    return "\n".join(out) + "\n"


def render_table(table: Table, fmt: str = "md") -> str:
    """Render a table as ``md``, ``csv``, ``latex`` or ``html``.

    Raises:
        ConfigError: An unknown format.
    """
    renderers = {
        "md": render_markdown,
        "csv": render_csv,
        "latex": render_latex,
        "html": render_html,
    }
    if fmt not in renderers:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return renderers[fmt](table)
