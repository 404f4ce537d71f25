"""Per-epoch training history: the CSV and the curves plot (the seed paper's Figure 4, with Dice)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from endobench.io import atomic_path, write_text_atomic

COLUMNS = (
    "run",
    "epoch",
    "lr",
    "train_loss",
    "val_loss",
    "val_dice",
    "seconds",
    "train_seconds",
    "val_seconds",
    "images_per_s",
    "val_fp_rate",
    "val_found_rate",
)
"""History columns: ``seconds`` is the whole epoch, ``train_seconds`` its training part (of which
``images_per_s`` is the rate) and ``val_seconds`` its validation pass; ``val_fp_rate`` is the share
of validation negative frames called positive (empty without negatives), ``val_found_rate`` the
share of validation polyp frames without masks found (empty without them)."""


def write_history_csv(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write history rows (dicts with :data:`COLUMNS` keys) to a CSV, atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _fmt(row.get(key)) for key in COLUMNS})
    return write_text_atomic(path, buffer.getvalue())


def read_history_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read a history CSV back (numbers as float, epoch as int, empty cells as None)."""
    rows = []
    with open(path, newline="") as handle:
        for raw in csv.DictReader(handle):
            row: dict[str, Any] = {"run": raw["run"], "epoch": int(raw["epoch"])}
            for key in COLUMNS[2:]:
                row[key] = float(raw[key]) if raw.get(key) not in (None, "") else None
            rows.append(row)
    return rows


def plot_history(path: str | Path, rows: Sequence[Mapping[str, Any]], title: str = "") -> Path:
    """Plot loss (training and validation) and validation Dice per epoch, one curve per run.

    Args:
        path: The PNG to write (atomically).
        rows: History rows; their ``run`` value names the curve (a fold, an input size, ...).
        title: Figure title.
    """
    import matplotlib.pyplot as plt

    fig = draw_history(rows, title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return Path(path)


def draw_history(rows: Sequence[Mapping[str, Any]], title: str = ""):
    """The figure :func:`plot_history` saves: every curve drawn with markers, so that a single
    epoch shows as a point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        runs.setdefault(str(row["run"]), []).append(row)
    fig, (ax_loss, ax_dice) = plt.subplots(1, 2, figsize=(10, 4))
    for index, (label, run_rows) in enumerate(runs.items()):
        style = {"color": f"C{index % 10}", "marker": "o", "markersize": 4}
        epochs = [r["epoch"] for r in run_rows]
        ax_loss.plot(
            epochs, [_nan(r.get("train_loss")) for r in run_rows], label=f"{label} train", **style
        )
        if any(r.get("val_loss") is not None for r in run_rows):
            ax_loss.plot(
                epochs,
                [_nan(r.get("val_loss")) for r in run_rows],
                linestyle="--",
                label=f"{label} validation",
                **style,
            )
        ax_dice.plot(epochs, [_nan(r.get("val_dice")) for r in run_rows], label=label, **style)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("structure loss")
    ax_loss.legend(fontsize="small")
    ax_dice.set_xlabel("epoch")
    ax_dice.set_ylabel("validation mean Dice (threshold 0.5)")
    ax_dice.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _fmt(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)
