"""``endobench report``: one self-contained, offline HTML file comparing run folders.

It holds the summary with confidence intervals and the ranking tables (:mod:`.stats`), dot-and-box
plots per metric, the significance map and blob plot of each set, the Dice-vs-FPS scatter with its
Pareto front, a per-image table (sortable, filterable by set, with thumbnails of image, truth and
each prediction), the worst images of each run and the images where two runs disagree most. It
loads nothing from the network: plots are SVG and thumbnails JPEG data URIs, style and script
are inline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import datetime, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

from endobench.compare import report_figures as figures
from endobench.compare.perimage import check_same_images, load_runs, set_matrix, sets_of
from endobench.compare.report_images import collect_thumbs, count_images
from endobench.compare.report_page import esc, figure, gallery, page, per_image_table
from endobench.compare.stats import StatsSettings, compute_stats
from endobench.compare.stats_tables import render_stats
from endobench.errors import ConfigError
from endobench.io import write_text_atomic
from endobench.leaderboard.records import condition_key, describe_condition, load_sources


def _progress(show: bool):
    if not show:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(stderr=True), transient=True)


def _runs_section(records: Sequence[dict[str, Any]], result: dict[str, Any]) -> str:
    rows = []
    for record in records:
        fps = (record.get("fps") or {}).get("fps")
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{esc(c)}</td>"
                for c in (
                    record.get("run"),
                    record.get("model"),
                    record.get("size"),
                    "–" if fps is None else f"{fps:.1f}",
                    describe_condition(condition_key(record)),
                    ", ".join(result["runs"].get(str(record.get("run")), {}).get("sets", [])),
                )
            )
            + "</tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("Run", "Model", "Size", "FPS", "FPS measured on", "Sets")
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _set_table(records: Sequence[dict[str, Any]]) -> str:
    """The set-level table of ``compare`` (toolkit and standard metrics, FPS) as an HTML fragment."""
    from endobench.compare import build_table, render_table

    page_text = render_table(build_table(records, "endocv,standard,fps"), "html")
    return page_text.split("<body>", 1)[1].rsplit("</body>", 1)[0]


def _per_image_rows(runs, sets, thumbs) -> list[dict[str, Any]]:
    rows = []
    for set_name in sets:
        names, dice = set_matrix(runs, set_name, "dice")
        having = [r for r in runs if set_name in r.sets]
        for i, image in enumerate(having[0].images[set_name]):
            rows.append(
                {
                    "set": set_name,
                    "image": image,
                    "thumbs": thumbs.get((set_name, image)),
                    "dice": {n: float(dice[j, i]) for j, n in enumerate(names)},
                }
            )
    return rows


def _worst_section(rows, runs: Sequence[str], sets: Sequence[str], count: int) -> str:
    out = []
    for set_name in sets:
        for run in runs:
            mine = [r for r in rows if r["set"] == set_name and run in r["dice"]]
            mine.sort(key=lambda r, run=run: (r["dice"][run], r["image"]))
            items = [
                (
                    r["thumbs"].runs.get(run, "") if r["thumbs"] else "",
                    f"{r['image']}  Dice {r['dice'][run]:.3f}",
                )
                for r in mine[:count]
            ]
            if items:
                out.append(f"<h3>{esc(set_name)}: {esc(run)}</h3>" + gallery(items))
    return "\n".join(out)


def _disagreement_section(rows, sets: Sequence[str], count: int) -> str:
    out = []
    for set_name in sets:
        scored = []
        for row in (r for r in rows if r["set"] == set_name):
            pairs = list(combinations(sorted(row["dice"]), 2))
            if not pairs:
                continue
            a, b = max(pairs, key=lambda p, d=row["dice"]: abs(d[p[0]] - d[p[1]]))
            scored.append((abs(row["dice"][a] - row["dice"][b]), row, a, b))
        scored.sort(key=lambda s: (-s[0], s[1]["image"]))
        for gap, row, a, b in scored[:count]:
            thumbs = row["thumbs"]
            items = [
                (thumbs.image if thumbs else "", f"{row['image']}"),
                (thumbs.runs.get(a, "") if thumbs else "", f"{a}: Dice {row['dice'][a]:.3f}"),
                (thumbs.runs.get(b, "") if thumbs else "", f"{b}: Dice {row['dice'][b]:.3f}"),
            ]
            out.append(
                f"<h3>{esc(set_name)}/{esc(row['image'])}: Dice differs by {gap:.3f}</h3>"
                + gallery(items)
            )
    return "\n".join(out) or "<p>Only one run: nothing to disagree about.</p>"


def _figures_sections(runs, sets, result, records, rank_metric) -> list[tuple[str, str]]:
    metrics = list(next(iter(result["sets"].values())))
    boxes = []
    for metric in metrics:
        by_set = {s: set_matrix(runs, s, metric) for s in sets}
        boxes.append(figure(figures.dot_and_box(metric, by_set, result["sets"]), metric))
    maps, speed = [], []
    for set_name in sets:
        entry = result["sets"][set_name][rank_metric]
        maps.append(
            figure(
                figures.significance_map(set_name, rank_metric, entry),
                f"{set_name} significance map",
            )
        )
        maps.append(
            figure(figures.blob_plot(set_name, rank_metric, entry), f"{set_name} blob plot")
        )
        if "dice" in result["sets"][set_name]:
            uri = figures.dice_vs_fps(set_name, result["sets"][set_name]["dice"], records)
            if uri:
                speed.append(figure(uri, f"{set_name}: Dice vs FPS"))
    return [
        ("Dot-and-box plots per metric", "\n".join(boxes)),
        ("Significance maps and blob plots", "\n".join(maps)),
        ("Dice vs FPS (Pareto front)", "\n".join(speed) or "<p>No FPS figures in the runs.</p>"),
    ]


def build_report(
    run_dirs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    settings: StatsSettings | None = None,
    rank_metric: str = "dice",
    worst: int = 6,
    disagree: int = 6,
    thumb_height: int = 96,
    force: bool = False,
    show_progress: bool = False,
    extra_sections: Sequence[tuple[str, str]] = (),
) -> Path:
    """Write the HTML report of run folders.

    Args:
        run_dirs: Finished run folders with ground truth (their per-image scores).
        out: The HTML file.
        settings: Bootstrap and test settings (default: 1000 resamples, seed 0).
        rank_metric: Metric of the significance maps and blob plots.
        worst: Worst images shown per run and set.
        disagree: Most-disagreeing images shown per set.
        thumb_height: Thumbnail height in pixels.
        force: Overwrite ``out``.
        show_progress: Draw rich progress bars on stderr.
        extra_sections: More ``(heading, html)`` sections at the end (stream summaries).

    Returns:
        The written file.

    Raises:
        EndobenchError: ``out`` exists without ``force``, the runs scored different images, or
            none has ground truth.
    """
    out = _check_out(out, force)
    run_dirs = [Path(r) for r in run_dirs]
    if not run_dirs:
        raise ConfigError("report needs at least one run folder")
    runs = load_runs(run_dirs)
    check_same_images(runs)
    sets = sets_of(runs)
    if not sets:
        raise ConfigError("none of the given runs has per-image scores (no set with ground truth)")
    result = compute_stats(run_dirs, settings=settings or StatsSettings())
    if rank_metric not in result["sets"][sets[0]]:
        raise ConfigError(
            f"--rank-metric {rank_metric!r} is not one of {', '.join(result['sets'][sets[0]])}"
        )
    records = load_sources(run_dirs)
    with _progress(show_progress) as progress:
        advance = None
        if progress is not None:
            task = progress.add_task("thumbnails", total=count_images(run_dirs[0], sets))
            advance = lambda n: progress.advance(task, n)  # noqa: E731
        thumbs, problems = collect_thumbs(run_dirs, sets, thumb_height, advance)
    rows = _per_image_rows(runs, sets, thumbs)
    names = [r.name for r in runs]
    notes = "".join(f'<p class="note">Thumbnail missing: {esc(p)}</p>' for p in problems)
    sections = [
        ("Runs", _runs_section(records, result)),
        ("Summary with confidence intervals", render_stats(result, "html", rank_metric)),
        ("Set-level scores: toolkit and standard metrics", _set_table(records)),
        *_figures_sections(runs, sets, result, records, rank_metric),
        ("Per-image scores", per_image_table(rows, names, sets) + notes),
        (f"Worst {worst} images of each run (Dice)", _worst_section(rows, names, sets, worst)),
        (
            f"Images where two runs disagree most (top {disagree})",
            _disagreement_section(rows, sets, disagree),
        ),
        *extra_sections,
    ]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return write_text_atomic(out, page(f"endobench report ({stamp})", sections))


def _check_out(out: str | os.PathLike, force: bool) -> Path:
    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to overwrite it or choose another --out")
    if not out.absolute().parent.is_dir():
        raise ConfigError(
            f"cannot write {out}: folder {out.absolute().parent} does not exist; create it first"
        )
    return out


def build_stream_report(
    stream_dirs: Sequence[str | os.PathLike], out: str | os.PathLike, *, force: bool = False
) -> Path:
    """Write an HTML report of `endobench stream` folders alone: their summaries side by side."""
    from endobench.compare.streams import stream_section

    out = _check_out(out, force)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return write_text_atomic(
        out, page(f"endobench report ({stamp})", [stream_section(stream_dirs)])
    )
