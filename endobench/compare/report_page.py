"""The HTML of the report: one self-contained page (inline CSS and script, data-URI images).

The per-image table sorts when a header is clicked and filters by set and by image name; the
script uses no library and no network.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from endobench.html_sort import SORT_FUNCTION

STYLE = """
body{font-family:sans-serif;margin:1.5em;max-width:1600px}
table{border-collapse:collapse;margin:0.5em 0 1em}
th,td{padding:3px 7px;border-bottom:1px solid #ddd;font-size:13px;vertical-align:middle}
th{background:#f0f0f0}
#per-image th.sortable{cursor:pointer}
#per-image th[data-order=asc]:after{content:' \\25B2'}
#per-image th[data-order=desc]:after{content:' \\25BC'}
td.n{text-align:right;font-variant-numeric:tabular-nums}
img.thumb{height:72px;display:block}
figure{display:inline-block;margin:4px;vertical-align:top}
figcaption{font-size:12px;max-width:220px;word-break:break-all}
p.note{font-size:12px;color:#444}
.legend span{display:inline-block;padding:1px 6px;margin-right:6px;color:#fff;font-size:12px}
"""

SCRIPT = (
    SORT_FUNCTION
    + """
(function () {
  var table = document.getElementById('per-image');
  if (!table) { return; }
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  sortableTable(table, heads, true);
  var setFilter = document.getElementById('set-filter');
  var nameFilter = document.getElementById('name-filter');
  var shown = document.getElementById('shown-count');
  function applyFilter() {
    var set = setFilter.value, text = nameFilter.value.toLowerCase(), n = 0;
    Array.prototype.forEach.call(body.rows, function (r) {
      var ok = (!set || r.getAttribute('data-set') === set) &&
               (!text || r.getAttribute('data-image').toLowerCase().indexOf(text) >= 0);
      r.style.display = ok ? '' : 'none';
      if (ok) { n += 1; }
    });
    shown.textContent = n + ' of ' + body.rows.length + ' images shown';
  }
  setFilter.addEventListener('change', applyFilter);
  nameFilter.addEventListener('input', applyFilter);
  applyFilter();
}());
"""
)


def esc(text: Any) -> str:
    """HTML-escape any value."""
    return html.escape(str(text), quote=True)


def img(uri: str, alt: str, css: str = "thumb") -> str:
    """An ``<img>`` of a data URI ('' when there is none)."""
    return f'<img class="{css}" src="{uri}" alt="{esc(alt)}">' if uri else ""


def figure(uri: str, caption: str) -> str:
    """A figure: a data-URI image with its caption."""
    return f'<figure><img src="{uri}" alt="{esc(caption)}"><figcaption>{esc(caption)}</figcaption></figure>'


def legend() -> str:
    """The colour legend of the overlays."""
    from endobench.compare.overlays import LEGEND, TRUTH_COLOUR

    spans = [(name, colour) for name, colour in LEGEND] + [("truth", TRUTH_COLOUR)]
    return (
        '<p class="legend">'
        + "".join(
            f'<span style="background:rgb({int(c[0])},{int(c[1])},{int(c[2])})">{esc(n)}</span>'
            for n, c in spans
        )
        + "</p>"
    )


def per_image_table(
    rows: Sequence[Mapping[str, Any]], runs: Sequence[str], sets: Sequence[str]
) -> str:
    """The sortable, filterable per-image table.

    Args:
        rows: ``{"set", "image", "thumbs": Thumbs | None, "dice": {RUN: value}}`` per image.
        runs: The runs, in column order.
        sets: The sets (filter choices).
    """
    options = '<option value="">all sets</option>' + "".join(
        f'<option value="{esc(s)}">{esc(s)}</option>' for s in sets
    )
    out = [
        '<p><label>Set <select id="set-filter">' + options + "</select></label> "
        '<label>Image name <input id="name-filter" type="search"></label> '
        '<span id="shown-count"></span></p>',
        legend(),
        '<table id="per-image"><thead><tr>',
        '<th class="sortable">Set</th><th class="sortable">Image</th><th>Image</th><th>Truth</th>',
    ]
    out += [f"<th>{esc(r)}</th>" for r in runs]
    out += [f'<th class="sortable">Dice {esc(r)}</th>' for r in runs]
    out.append('<th class="sortable">Dice spread</th></tr></thead><tbody>')
    for row in rows:
        thumbs = row.get("thumbs")
        dice = row["dice"]
        values = [v for v in dice.values() if v is not None]
        spread = max(values) - min(values) if values else 0.0
        cells = [
            f'<td data-v="{esc(row["set"])}">{esc(row["set"])}</td>',
            f'<td data-v="{esc(row["image"])}">{esc(row["image"])}</td>',
            f"<td>{img(thumbs.image, 'image') if thumbs else ''}</td>",
            f"<td>{img(thumbs.truth, 'truth') if thumbs else ''}</td>",
        ]
        cells += [f"<td>{img(thumbs.runs.get(r, ''), r) if thumbs else ''}</td>" for r in runs]
        cells += [
            f'<td class="n" data-v="{dice.get(r, "")}">{_num(dice.get(r))}</td>' for r in runs
        ]
        cells.append(f'<td class="n" data-v="{spread}">{spread:.3f}</td>')
        out.append(
            f'<tr data-set="{esc(row["set"])}" data-image="{esc(row["image"])}">'
            + "".join(cells)
            + "</tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def gallery(items: Sequence[tuple[str, str]]) -> str:
    """A row of captioned thumbnails: ``[(data URI, caption)]``."""
    return "<div>" + "".join(figure(uri, caption) for uri, caption in items if uri) + "</div>"


def page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """The whole page: a table of contents, then each ``(heading, html)`` section."""
    toc = "".join(
        f'<li><a href="#s{i}">{esc(heading)}</a></li>' for i, (heading, _) in enumerate(sections)
    )
    body = "".join(
        f'<section id="s{i}"><h2>{esc(heading)}</h2>\n{content}\n</section>\n'
        for i, (heading, content) in enumerate(sections)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>{esc(title)}</h1><ol>{toc}</ol>\n{body}<script>{SCRIPT}</script></body></html>\n"
    )
