"""Comparisons of runs: tables (the paper's Tables 1-2), statistics, plots and an HTML report (no torch)."""

from endobench.compare.table_formats import render_table
from endobench.compare.tables import (
    FORMATS,
    METRICS,
    Table,
    build_table,
    parse_metrics,
)

__all__ = [
    "FORMATS",
    "METRICS",
    "Table",
    "build_table",
    "check_sources_agree",
    "compare_runs",
    "parse_metrics",
    "render_table",
]


def check_sources_agree(sources, records) -> None:
    """Refuse sources that scored different images of a set they share.

    Run folders are compared image by image (their per-image CSVs); records (JSON files) by the
    number of images of each set.

    Raises:
        EndobenchError: One line naming the set, the runs and the images (or counts) that differ.
    """
    from pathlib import Path

    from endobench.compare.perimage import check_same_images, load_runs
    from endobench.errors import EndobenchError

    check_same_images(load_runs([s for s in sources if Path(s).is_dir()]))
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        for set_name, entry in record.get("sets", {}).items():
            if entry.get("scores") and entry.get("images") is not None:
                counts.setdefault(set_name, {})[str(record.get("run"))] = int(entry["images"])
    for set_name, by_run in counts.items():
        if len(set(by_run.values())) > 1:
            listed = ", ".join(f"{run}: {n}" for run, n in by_run.items())
            raise EndobenchError(
                f"runs scored different images of set {set_name} ({listed} images); "
                "compare runs made on the same images"
            )


def compare_runs(
    sources,
    *,
    leaderboard: bool = False,
    leaderboard_dir=None,
    metrics=None,
    baseline: str | None = None,
    fmt: str = "md",
) -> str:
    """Return the comparison table of run folders / record files (and the leaderboard's records).

    Args:
        sources: Run folders or record ``.json`` files, in row order.
        leaderboard: Append every record of the leaderboard; in ``md`` and ``html`` its reported
            results follow in their own, unranked section.
        leaderboard_dir: The leaderboard folder (default: the checkout's ``leaderboard/``).
        metrics: Metric names, titles or groups (``endocv``, ``standard``, ``detection``, ``all``;
            default: the EndoCV columns, Dice@0.5, meanDic (PraNet eval) and detection where present, FPS).
        baseline: Run or model name to compute deltas against.
        fmt: ``md``, ``csv``, ``latex`` or ``html``.

    Raises:
        EndobenchError: Nothing to compare, or the runs scored different images of a set.
    """
    from endobench.errors import ConfigError
    from endobench.leaderboard.records import load_records, load_sources

    records = load_sources(sources)
    check_sources_agree(sources, records)
    if leaderboard:
        records += load_records(leaderboard_dir)
    if not records:
        raise ConfigError("nothing to compare: pass run folders or --leaderboard")
    text = render_table(build_table(records, metrics, baseline), fmt)
    if leaderboard and fmt in ("md", "html"):
        text = _with_reported(text, leaderboard_dir, fmt)
    return text


def _with_reported(text: str, leaderboard_dir, fmt: str) -> str:
    """Append the leaderboard's reported results (unranked, their own section) to a table."""
    from endobench.leaderboard.records import default_leaderboard_dir
    from endobench.leaderboard.reported import load_reported, reported_html, reported_markdown

    folder = leaderboard_dir if leaderboard_dir is not None else default_leaderboard_dir()
    reported = load_reported(folder)
    if not reported:
        return text
    if fmt == "md":
        return text + ("\n" + reported_markdown(reported)).replace("\n# ", "\n## ")
    return text.replace("</body>", reported_html(reported) + "\n</body>", 1)
