"""Rich progress bars (images/s and ETA) and the summary table printed at the end of a run."""

from __future__ import annotations

import contextlib
import math
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from endobench.runner.result import RunResult


class _RateColumn(ProgressColumn):
    """Images per second of a task."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("  -- img/s" if speed is None else f"{speed:6.1f} img/s", style="cyan")


class _Silent:
    """A stand-in for Progress when progress display is off."""

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def advance(self, *args: Any, **kwargs: Any) -> None:
        pass

    def remove_task(self, *args: Any, **kwargs: Any) -> None:
        pass


def make_progress(enabled: bool = True):
    """Return a context manager yielding a rich Progress on stderr (or a silent stand-in)."""
    if not enabled:
        return contextlib.nullcontext(_Silent())
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def summary_table(result: RunResult) -> Table:
    """Return the per-set table of a run: images (inferred now) and the EndoCV2021 scores."""
    from rich import box

    from endobench.leaderboard.records import toolkit_scores

    table = Table(
        title=f"run {result.name}",
        caption=str(result.run_dir),
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
    )
    table.add_column("set", no_wrap=True)
    table.add_column("images", justify="right", overflow="fold")
    for title in ("Jac", "Dice", "F2", "PPV", "Rec", "Acc", "Hdf"):
        table.add_column(title, justify="right", no_wrap=True, min_width=5)
    for name, entry in result.sets.items():
        scores = toolkit_scores(entry.summary) if entry.summary else {}
        values = [
            scores.get(k)
            for k in ("jaccard", "dice", "f2", "ppv", "recall", "accuracy", "hausdorff")
        ]
        count = (
            str(entry.images)
            if entry.inferred == entry.images
            else f"{entry.images} ({entry.inferred} new)"
        )
        # No polyp in any frame (negatives): the distance is undefined, shown as a dash, not nan.
        shown = ("–" if v is None or math.isnan(v) else f"{v:.3f}" for v in values)
        table.add_row(name, count, *shown)
    return table


#: The columns of the PraNet-eval table of a run (figure names of eval/main.m).
PRANET_COLUMNS = ("meanDic", "meanIoU", "wFm", "Sm", "meanEm", "maxEm", "MAE")


def pranet_eval_table(result: RunResult) -> Table:
    """Return PraNet's eval/main.m figures of the sets that have them (``--save-prob``)."""
    from rich import box

    table = Table(
        title="PraNet eval/main.m (probability maps, 256 thresholds)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
    )
    table.add_column("set", no_wrap=True)
    for title in PRANET_COLUMNS:
        table.add_column(title, justify="right", no_wrap=True)
    for name, entry in result.sets.items():
        if entry.pranet_eval:
            table.add_row(name, *(f"{entry.pranet_eval[k]:.4f}" for k in PRANET_COLUMNS))
    return table


def detection_table(result: RunResult) -> Table:
    """Return the frame-level detection figures of the run's sets that have them."""
    from rich import box

    table = Table(
        title="frame-level detection",
        caption="a frame is called polyp when its mask is not empty; AUROC of the max probability",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
    )
    table.add_column("set", no_wrap=True)
    for title in ("polyp / free", "FP frames", "Sens.", "Spec.", "AUROC"):
        table.add_column(title, justify="right", no_wrap=True)
    rows = [(name, entry.detection) for name, entry in result.sets.items() if entry.detection]
    if result.detection:
        rows.append(("all sets pooled", result.detection))
    for name, figures in rows:
        values = [figures.get(k) for k in ("fp_frame_rate", "sensitivity", "specificity")]
        auroc = figures.get("auroc")
        table.add_row(
            name,
            f"{figures['n_positive_frames']} / {figures['n_negative_frames']}",
            *("–" if v is None else f"{100 * v:.1f} %" for v in values),
            "–" if auroc is None else f"{auroc:.3f}",
        )
    return table


def print_summary(result: RunResult, console: Console | None = None) -> None:
    """Print the summary table and the three speed figures with their conditions."""
    from endobench.runner.timing import describe_fps, describe_stability

    console = console or Console()
    console.print(summary_table(result))
    if any(entry.detection for entry in result.sets.values()):
        console.print(detection_table(result))
    if any(entry.pranet_eval for entry in result.sets.values()):
        console.print(pranet_eval_table(result))
    elif any(entry.summary for entry in result.sets.values()):
        console.print(
            "PraNet eval/main.m figures (meanDic, ...): run with --save-prob", style="dim"
        )
    timing = result.timing
    console.print(describe_fps(timing))
    warning = describe_stability(timing)
    if warning:
        console.print(f"[bold yellow]{warning}[/]", highlight=False)
    throughput = timing.get("throughput", {}).get("images_per_s")
    if throughput:
        console.print(
            f"batched throughput: {throughput:.1f} images/s at batch {timing['throughput']['batch_size']}"
        )
    e2e = timing.get("end_to_end", {}).get("images_per_s")
    if e2e:
        console.print(f"end to end (I/O included): {e2e:.1f} images/s")
