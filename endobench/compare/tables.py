"""Comparison tables in the shape of the paper's Tables 1 and 2.

Rows are runs (models, or one model at several input sizes) grouped by data set; columns are Jac,
Dice, F2, PPV, Rec, Acc, Hdf (the EndoCV2021 scores, Hdf the set-normalised row Hausdorff, lower is
better) and FPS. The best value of each column within a data set is bold. With a baseline, every
other row also shows its change against the baseline's row of the same data set.

FPS figures are only ranked against each other when they were measured under the same conditions
(device, dtype, threads); otherwise each FPS cell carries a note naming its conditions and none is
bold.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from endobench.errors import ConfigError
from endobench.leaderboard.records import condition_key

#: metric key -> (column title, higher is better, decimals)
METRICS: dict[str, tuple[str, bool, int]] = {
    "jaccard": ("Jac", True, 4),
    "dice": ("Dice", True, 4),
    "f2": ("F2", True, 4),
    "ppv": ("PPV", True, 4),
    "recall": ("Rec", True, 4),
    "accuracy": ("Acc", True, 4),
    "hausdorff": ("Hdf", False, 4),
    "fps": ("FPS", True, 1),
}
FORMATS = ("md", "csv", "latex", "html")


@dataclass
class Row:
    """One table row: a run's figures on one data set."""

    dataset: str
    label: str
    model: str
    size: Any
    run: str
    values: dict[str, float | None]
    condition: tuple[str, str, str]
    is_baseline: bool = False


@dataclass
class Table:
    """A comparison table ready to render."""

    metrics: list[str]
    rows: list[Row]
    bold: set[tuple[int, str]] = field(default_factory=set)
    deltas: dict[tuple[int, str], float] = field(default_factory=dict)
    fps_notes: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def parse_metrics(names: Iterable[str] | str | None) -> list[str]:
    """Return metric keys from names or column titles (``dice``, ``Dice``, ``Hdf``...).

    Raises:
        ConfigError: An unknown metric, naming the known ones.
    """
    if names is None:
        return list(METRICS)
    if isinstance(names, str):
        names = [n for n in names.replace(",", " ").split() if n]
    lookup = {k.lower(): k for k in METRICS} | {v[0].lower(): k for k, v in METRICS.items()}
    keys = []
    for name in names:
        key = lookup.get(name.lower())
        if key is None:
            raise ConfigError(
                f"unknown metric {name!r}; choose from {', '.join(v[0] for v in METRICS.values())}"
            )
        keys.append(key)
    return keys


def _labels(records: Sequence[Mapping[str, Any]]) -> list[str]:
    keys = [(r.get("model"), r.get("size")) for r in records]
    return [
        str(r.get("run")) if keys.count(key) > 1 else str(r.get("model") or r.get("run"))
        for r, key in zip(records, keys, strict=True)
    ]


def build_table(
    records: Sequence[Mapping[str, Any]],
    metrics: Iterable[str] | str | None = None,
    baseline: str | None = None,
) -> Table:
    """Build a comparison table from leaderboard records.

    Args:
        records: Records (:func:`endobench.leaderboard.records.record_from_run`), in row order.
        metrics: Metric keys or titles (default: all of Jac, Dice, F2, PPV, Rec, Acc, Hdf, FPS).
        baseline: A run name or model name; its rows are the reference for the deltas.

    Returns:
        The table.

    Raises:
        ConfigError: No record has scores, or the baseline matches no record.
    """
    keys = parse_metrics(metrics)
    labels = _labels(records)
    datasets: list[str] = []
    for record in records:
        for set_name, entry in record.get("sets", {}).items():
            if entry.get("scores") and set_name not in datasets:
                datasets.append(set_name)
    if not datasets:
        raise ConfigError(
            "none of the given runs has scores (no set with ground truth); nothing to compare"
        )
    if baseline is not None and not any(
        baseline in (r.get("run"), r.get("model")) for r in records
    ):
        raise ConfigError(
            f"--baseline {baseline!r} matches no run or model among the compared runs"
        )
    table = Table(metrics=keys, rows=[])
    conditions = sorted({condition_key(r) for r in records})
    for dataset in datasets:
        group: list[int] = []
        for record, label in zip(records, labels, strict=True):
            scores = record.get("sets", {}).get(dataset, {}).get("scores")
            if not scores:
                continue
            values = {k: scores.get(k) for k in keys if k != "fps"}
            if "fps" in keys:
                values["fps"] = (record.get("fps") or {}).get("fps")
            table.rows.append(
                Row(
                    dataset,
                    label,
                    str(record.get("model")),
                    record.get("size"),
                    str(record.get("run")),
                    values,
                    condition_key(record),
                )
            )
            group.append(len(table.rows) - 1)
        _mark_best(table, group)
        if baseline is not None:
            _mark_deltas(table, group, baseline)
    if "fps" in keys and len(conditions) > 1:
        for index, row in enumerate(table.rows):
            table.fps_notes[index] = conditions.index(row.condition) + 1
        for number, cond in enumerate(conditions, start=1):
            table.notes.append(
                f"[{number}] FPS measured on {cond[0]}, {cond[1]}, {cond[2]} threads"
            )
        table.notes.append(
            "FPS figures from different conditions are not ranked against each other."
        )
    elif "fps" in keys and conditions:
        device, dtype, threads = conditions[0]
        table.notes.append(
            f"FPS: forward pass only, batch 1, median over images, after warm-up; {device}, {dtype}, {threads} threads."
        )
    return table


def _mark_best(table: Table, group: list[int]) -> None:
    for key in table.metrics:
        higher = METRICS[key][1]
        candidates = [i for i in group if table.rows[i].values.get(key) is not None]
        if key == "fps" and len({table.rows[i].condition for i in candidates}) > 1:
            continue
        if len(candidates) < 2:
            continue
        pick = max if higher else min
        best = pick(table.rows[i].values[key] for i in candidates)
        table.bold.update((i, key) for i in candidates if table.rows[i].values[key] == best)


def _mark_deltas(table: Table, group: list[int], baseline: str) -> None:
    matches = [i for i in group if baseline == table.rows[i].run] or [
        i for i in group if baseline == table.rows[i].model
    ]
    if not matches:
        return
    for i in group:
        base = table.rows[
            next((m for m in matches if table.rows[m].size == table.rows[i].size), matches[0])
        ]
        row = table.rows[i]
        if row is base:
            row.is_baseline = True
            continue
        for key in table.metrics:
            if key == "fps" and row.condition != base.condition:
                continue
            if row.values.get(key) is not None and base.values.get(key) is not None:
                table.deltas[(i, key)] = row.values[key] - base.values[key]


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
        if key == "fps" and index in table.fps_notes:
            text += f"{note[0]}[{table.fps_notes[index]}]{note[1]}"
        cells.append(text)
    return cells


def _label(row: Row) -> str:
    return f"{row.label} (baseline)" if row.is_baseline else row.label


def render_markdown(table: Table) -> str:
    """Render as a Markdown pipe table (bold with ``**``), notes below."""
    head = ["Data set", "Model", "Size", *(METRICS[k][0] for k in table.metrics)]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * len(table.metrics)) + "|",
    ]
    previous = None
    for i, row in enumerate(table.rows):
        name = row.dataset if row.dataset != previous else ""
        previous = row.dataset
        cells = [name, _label(row), str(row.size), *_cells(table, i, ("**", "**"), (" ", ""))]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if table.notes:
        lines.append("")
        lines.extend(table.notes)
    return "\n".join(lines) + "\n"


def render_csv(table: Table) -> str:
    """Render as CSV: full-precision numbers, one ``<metric>_delta`` column per metric with a baseline."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    with_delta = bool(table.deltas)
    head = ["dataset", "model", "size", "run", *table.metrics]
    if with_delta:
        head += [f"{k}_delta" for k in table.metrics]
    head += ["fps_device", "fps_dtype", "fps_threads"] if "fps" in table.metrics else []
    writer.writerow(head)
    for i, row in enumerate(table.rows):
        line = [row.dataset, _label(row), row.size, row.run]
        line += [
            "" if row.values.get(k) is None else repr(float(row.values[k])) for k in table.metrics
        ]
        if with_delta:
            line += [
                "" if (i, k) not in table.deltas else repr(table.deltas[(i, k)])
                for k in table.metrics
            ]
        if "fps" in table.metrics:
            line += list(row.condition)
        writer.writerow(line)
    return buffer.getvalue()


def _latex_escape(text: str) -> str:
    for char, repl in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("$", r"\$"),
    ):
        text = text.replace(char, repl)
    return text


def render_latex(table: Table) -> str:
    """Render as a booktabs ``tabular`` (bold with ``\\textbf``), notes as a footnote block."""
    head = ["Data set", "Model", "Size", *(METRICS[k][0] for k in table.metrics)]
    lines = [
        r"\begin{tabular}{lll" + "r" * len(table.metrics) + "}",
        r"\toprule",
        " & ".join(head) + r" \\",
        r"\midrule",
    ]
    previous = None
    for i, row in enumerate(table.rows):
        if previous is not None and row.dataset != previous:
            lines.append(r"\midrule")
        name = _latex_escape(row.dataset) if row.dataset != previous else ""
        previous = row.dataset
        cells = [
            _latex_escape(c)
            .replace("\x00", r"\textbf{")
            .replace("\x01", "}")
            .replace("\x02", "$^{")
            .replace("\x03", "}$")
            for c in _cells(table, i, ("\x00", "\x01"), ("\x02", "\x03"))
        ]
        lines.append(
            " & ".join([name, _latex_escape(_label(row)), _latex_escape(str(row.size)), *cells])
            + r" \\"
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [f"% {note}" for note in table.notes]
    return "\n".join(lines) + "\n"


def render_html(table: Table, title: str = "endobench comparison") -> str:
    """Render as a self-contained HTML page (bold with ``<b>``)."""
    head = ["Data set", "Model", "Size", *(METRICS[k][0] for k in table.metrics)]
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
    out += (
        ["</tbody></table>"]
        + [f"<p>{html.escape(n)}</p>" for n in table.notes]
        + ["</body></html>"]
    )
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
