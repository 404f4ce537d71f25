"""Comparison tables (the paper's Tables 1-2) and plots of runs and leaderboard records (no torch)."""

from endobench.compare.tables import (
    FORMATS,
    METRICS,
    Table,
    build_table,
    parse_metrics,
    render_table,
)

__all__ = [
    "FORMATS",
    "METRICS",
    "Table",
    "build_table",
    "compare_runs",
    "parse_metrics",
    "render_table",
]


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
        leaderboard: Append every record of the leaderboard.
        leaderboard_dir: The leaderboard folder (default: the checkout's ``leaderboard/``).
        metrics: Metric names or titles (default: Jac, Dice, F2, PPV, Rec, Acc, Hdf, FPS).
        baseline: Run or model name to compute deltas against.
        fmt: ``md``, ``csv``, ``latex`` or ``html``.
    """
    from endobench.errors import ConfigError
    from endobench.leaderboard.records import load_records, load_sources

    records = load_sources(sources)
    if leaderboard:
        records += load_records(leaderboard_dir)
    if not records:
        raise ConfigError("nothing to compare: pass run folders or --leaderboard")
    return render_table(build_table(records, metrics, baseline), fmt)
