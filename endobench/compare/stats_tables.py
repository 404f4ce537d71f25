"""Render the statistics of :func:`endobench.compare.stats.compute_stats` as tables.

Per set: each run's mean with its confidence interval per metric (``0.877 [0.851, 0.899]``), bold
only where the run is significantly better than every other row after Holm; then, for the ranking
metric, the ranking stability (bootstrap rank distribution, Kendall's tau, test-then-rank) and the
significance map. Across sets, the consensus ranking. Formats: ``md``, ``csv``, ``latex``,
``html``; ``json`` is the result itself.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from endobench.compare.table_formats import latex_escape
from endobench.compare.tables import METRICS
from endobench.errors import ConfigError

STAT_FORMATS = ("md", "csv", "latex", "html", "json")


@dataclass
class Block:
    """A titled table: header, rows of cells, bold cells, notes."""

    title: str
    head: list[str]
    rows: list[list[str]] = field(default_factory=list)
    bold: set[tuple[int, int]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def _decimals(metric: str) -> int:
    return 2 if metric == "hausdorff" else 3


def _ci_text(entry: Mapping[str, Any], metric: str) -> str:
    d = _decimals(metric)
    fmt = f"{{:.{d}f}}"
    low, high = entry.get("ci_low"), entry.get("ci_high")
    if entry.get("mean") is None:
        return "–"
    text = fmt.format(entry["mean"])
    if low is not None and high is not None:
        text += f" [{fmt.format(low)}, {fmt.format(high)}]"
    return text


def _title(metric: str) -> str:
    return "Hdf (px)" if metric == "hausdorff" else METRICS[metric][0]


def summary_block(set_name: str, by_metric: Mapping[str, Any], labels: Mapping[str, str]) -> Block:
    """Means with CIs of every run on one set, one column per metric."""
    metrics = list(by_metric)
    runs = list(next(iter(by_metric.values()))["models"])
    block = Block(f"{set_name}: mean [95 % CI]", ["Model", "Run", *(_title(m) for m in metrics)])
    for r, run in enumerate(runs):
        cells = [labels.get(run, run), run]
        for c, metric in enumerate(metrics):
            entry = by_metric[metric]["models"][run]
            cells.append(_ci_text(entry, metric))
            if entry["better_than_all_others"]:
                block.bold.add((r, c + 2))
        block.rows.append(cells)
    return block


def ranking_block(
    set_name: str, metric: str, entry: Mapping[str, Any], labels: Mapping[str, str]
) -> Block:
    """Ranking stability of one set and metric, with the significance map as columns."""
    runs = list(entry["models"])
    k = len(runs)
    head = [
        "Model",
        "Rank",
        "Median [IQR]",
        "Bootstrap ranks 1.." + str(k),
        "Mean boot. rank",
        "Test-then-rank",
    ]
    head += [f"> {labels.get(b, b)}" for b in runs]
    block = Block(f"{set_name}: ranking by {_title(metric)}", head)
    by_pair = {(p["a"], p["b"]): p for p in entry["pairs"]}
    total = max(1, sum(entry["rank_distribution"][runs[0]]))
    d = _decimals(metric)
    for run in runs:
        model = entry["models"][run]
        dist = " / ".join(f"{100 * c / total:.0f}%" for c in entry["rank_distribution"][run])
        ttr = entry["test_then_rank"][run]
        cells = [
            labels.get(run, run),
            str(model["rank"]),
            f"{model['median']:.{d}f} [{model['q1']:.{d}f}, {model['q3']:.{d}f}]",
            dist,
            f"{model['mean_bootstrap_rank']:.2f}",
            f"{ttr['rank']} ({ttr['wins']} wins)",
        ]
        for other in runs:
            pair = by_pair.get((run, other))
            if pair is None:
                cells.append("·")
            else:
                mark = "✓ " if pair["significant"] else ""
                cells.append(f"{mark}{pair['p_holm']:.3g}")
        block.rows.append(cells)
    tau = entry["kendall_tau"]
    if tau["mean"] is not None:
        block.notes.append(
            f"Kendall's tau between bootstrap rankings and the full ranking: mean {tau['mean']:.3f}, "
            f"median {tau['median']:.3f}, 5th percentile {tau['q05']:.3f}."
        )
    block.notes.append(
        "Columns '> B': Holm-adjusted p-value that the row is better than B (one-sided Wilcoxon "
        "signed-rank); ✓ significant at 5 %."
    )
    return block


def consensus_block(metric: str, entry: Mapping[str, Any]) -> Block:
    """Consensus ranking across sets for one metric."""
    sets = entry["sets"]
    block = Block(
        f"Consensus ranking across sets by {_title(metric)}",
        ["Model", *sets, "Mean rank", "Consensus rank"],
    )
    for name in sorted(entry["rank"], key=lambda n: (entry["rank"][n], n)):
        block.rows.append(
            [
                name,
                *(str(entry["ranks"][s][name]) for s in sets),
                f"{entry['mean_rank'][name]:.2f}",
                str(entry["rank"][name]),
            ]
        )
    return block


def stats_blocks(result: Mapping[str, Any], rank_metric: str = "dice") -> list[Block]:
    """All blocks of a statistics result, in reading order."""
    blocks = []
    for set_name, by_metric in result["sets"].items():
        labels = result.get("labels", {}).get(set_name, {})
        blocks.append(summary_block(set_name, by_metric, labels))
        metric = rank_metric if rank_metric in by_metric else next(iter(by_metric))
        blocks.append(ranking_block(set_name, metric, by_metric[metric], labels))
    consensus = result.get("consensus", {})
    if consensus:
        metric = rank_metric if rank_metric in consensus else next(iter(consensus))
        blocks.append(consensus_block(metric, consensus[metric]))
    return blocks


def stats_notes(result: Mapping[str, Any]) -> list[str]:
    """Notes that explain every statistics table."""
    s = result["settings"]
    notes = [
        f"Mean [{100 * s['confidence']:.0f} % {s['method']} bootstrap CI, {s['n_resamples']} resamples "
        f"of the images, seed {s['seed']}]. Bold: significantly better than every other row "
        f"(one-sided Wilcoxon signed-rank, Holm-adjusted over the set's pairs, {100 * s['alpha']:.0f} %); "
        "otherwise the rows are tied.",
        "Scores: EndoCV2021 toolkit per image (masks > 0); Hdf (px) is the per-image row Hausdorff "
        "distance in pixels, not normalised, lower is better.",
    ]
    for run, sets in result.get("without_truth", {}).items():
        notes.append(f"Not shown: set(s) {', '.join(sets)} of run {run} (no ground truth).")
    return notes


def _markdown(blocks: Sequence[Block], notes: Sequence[str]) -> str:
    lines = []
    for block in blocks:
        lines += [f"### {block.title}", "", "| " + " | ".join(block.head) + " |"]
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(block.head) - 1)) + "|")
        for r, row in enumerate(block.rows):
            cells = [f"**{c}**" if (r, i) in block.bold else c for i, c in enumerate(row)]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines += ["", *block.notes, ""] if block.notes else [""]
    return "\n".join(lines + list(notes)) + "\n"


def _latex(blocks: Sequence[Block], notes: Sequence[str]) -> str:
    out = ["% needs \\usepackage{booktabs,threeparttable}"]
    for block in blocks:
        out += [
            r"\begin{threeparttable}",
            "% " + block.title,
            r"\begin{tabular}{l" + "r" * (len(block.head) - 1) + "}",
            r"\toprule",
            " & ".join(latex_escape(h) for h in block.head) + r" \\",
            r"\midrule",
        ]
        for r, row in enumerate(block.rows):
            cells = [
                r"\textbf{" + latex_escape(c) + "}" if (r, i) in block.bold else latex_escape(c)
                for i, c in enumerate(row)
            ]
            out.append(" & ".join(cells).replace("✓", r"$\checkmark$") + r" \\")
        out += [r"\bottomrule", r"\end{tabular}"]
        block_notes = [*block.notes, *notes]
        if block_notes:
            out.append(r"\begin{tablenotes}\footnotesize")
            out += [r"\item " + latex_escape(n).replace("✓", r"$\checkmark$") for n in block_notes]
            out.append(r"\end{tablenotes}")
        out += [r"\end{threeparttable}", ""]
    return "\n".join(out)


def _html(blocks: Sequence[Block], notes: Sequence[str]) -> str:
    out = []
    for block in blocks:
        out.append(f"<h3>{html.escape(block.title)}</h3>")
        out.append(
            '<table class="stats"><thead><tr>'
            + "".join(f"<th>{html.escape(h)}</th>" for h in block.head)
            + "</tr></thead><tbody>"
        )
        for r, row in enumerate(block.rows):
            cells = [
                f"<td><b>{html.escape(c)}</b></td>"
                if (r, i) in block.bold
                else f"<td>{html.escape(c)}</td>"
                for i, c in enumerate(row)
            ]
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        out += [f'<p class="note">{html.escape(n)}</p>' for n in block.notes]
    out += [f'<p class="note">{html.escape(n)}</p>' for n in notes]
    return "\n".join(out) + "\n"


def _csv(result: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    head = ["set", "metric", "run", "model", "mean", "ci_low", "ci_high", "median", "q1", "q3", "n"]
    head += ["rank", "mean_bootstrap_rank", "test_then_rank", "wins", "better_than_all_others"]
    writer.writerow(head)
    for set_name, by_metric in result["sets"].items():
        labels = result.get("labels", {}).get(set_name, {})
        for metric, entry in by_metric.items():
            for run, m in entry["models"].items():
                ttr = entry["test_then_rank"][run]
                writer.writerow(
                    [set_name, metric, run, labels.get(run, run)]
                    + [
                        "" if m[k] is None else repr(m[k])
                        for k in ("mean", "ci_low", "ci_high", "median", "q1", "q3")
                    ]
                    + [
                        m["n"],
                        m["rank"],
                        repr(m["mean_bootstrap_rank"]),
                        ttr["rank"],
                        ttr["wins"],
                        m["better_than_all_others"],
                    ]
                )
    return buffer.getvalue()


def render_stats(result: Mapping[str, Any], fmt: str = "md", rank_metric: str = "dice") -> str:
    """Render a statistics result as ``md``, ``csv``, ``latex``, ``html`` or ``json``.

    Raises:
        ConfigError: An unknown format.
    """
    if fmt == "json":
        return json.dumps(result, indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        return _csv(result)
    renderers = {"md": _markdown, "latex": _latex, "html": _html}
    if fmt not in renderers:
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(STAT_FORMATS)}")
    return renderers[fmt](stats_blocks(result, rank_metric), stats_notes(result))
