"""Comparison tables in the shape of the paper's Tables 1 and 2 (building; rendering is in table_formats.py).

Rows are runs (models, or one model at several input sizes) grouped by data set. Columns come in
named families so that a reader knows which Dice is which:

- EndoCV2021 toolkit scores (masks ``> 0``, mean over images): Jac, Dice, F2, PPV, Rec, Acc and
  Hdf (the set-normalised row Hausdorff, lower is better);
- the standard metrics: Dice@0.5 and IoU@0.5 (probability ``>= 0.5``), Sα, Eφmax (and mEφ), Fβw,
  MAE (pysodmetrics) and HD95 (boundary, pixels);
- PraNet's eval/main.m figures (``run --save-prob``): meanDic, meanIoU, wFm, Sm, meanEm, maxEm
  and MAE, each titled "(PraNet eval)": the numbers of the papers' tables;
- frame-level detection (runs with polyp-free frames): FP frame rate, sensitivity, specificity,
  AUROC;
- FPS.

The best value of each column within a data set is bold, compared as printed (values that print
alike are not told apart, and a column whose values all print alike has none bold). With a
baseline, every other row also shows its change against the baseline's row of the same data set. FPS figures are only ranked
against each other when they were measured under the same conditions (device, backend, precision,
threads); otherwise each FPS cell carries a table note naming its conditions and none is bold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from endobench.errors import ConfigError
from endobench.leaderboard.records import (
    DICE_05_TITLES,
    PRANET_KEYS,
    UNSTABLE_MARK,
    condition_key,
    describe_condition,
    is_unstable,
    present_metrics,
    record_values,
    unstable_reason,
)

#: metric key -> (column title, higher is better, decimals)
METRICS: dict[str, tuple[str, bool, int]] = {
    "jaccard": ("Jac", True, 4),
    "dice": ("Dice", True, 4),
    "f2": ("F2", True, 4),
    "ppv": ("PPV", True, 4),
    "recall": ("Rec", True, 4),
    "accuracy": ("Acc", True, 4),
    "hausdorff": ("Hdf", False, 4),
    "mdice": (DICE_05_TITLES["mdice"], True, 4),
    "miou": (DICE_05_TITLES["miou"], True, 4),
    "s_alpha": ("Sα", True, 4),
    "e_phi_max": ("Eφmax", True, 4),
    "e_phi_mean": ("mEφ", True, 4),
    "fw_beta": ("Fβw", True, 4),
    "mae": ("MAE", False, 4),
    "hd95": ("HD95", False, 2),
    **{key: (title, key != "pranet_mae", 4) for key, (_, title) in PRANET_KEYS.items()},
    "fp_frame_rate": ("FP frames", False, 4),
    "sensitivity": ("Sens.", True, 4),
    "specificity": ("Spec.", True, 4),
    "auroc": ("AUROC", True, 4),
    "fps": ("FPS", True, 1),
}
ENDOCV = ("jaccard", "dice", "f2", "ppv", "recall", "accuracy", "hausdorff")
STANDARD = ("mdice", "miou", "s_alpha", "e_phi_max", "fw_beta", "mae", "hd95")
DETECTION = ("fp_frame_rate", "sensitivity", "specificity", "auroc")
PRANET = tuple(PRANET_KEYS)
GROUPS = {
    "endocv": ENDOCV,
    "standard": STANDARD,
    "pranet": PRANET,
    "detection": DETECTION,
    "all": (*ENDOCV, *STANDARD, "e_phi_mean", *PRANET, *DETECTION, "fps"),
}
ALIASES = {
    "eφ": "e_phi_max",
    "ephi": "e_phi_max",
    "sa": "s_alpha",
    "fbw": "fw_beta",
    "fwb": "fw_beta",
    "mdice": "mdice",
    **{figure.lower(): key for key, (figure, _) in PRANET_KEYS.items() if figure != "MAE"},
}
FORMATS = ("md", "csv", "latex", "html")
LEGEND = {
    "endocv": "Jac, Dice, F2, PPV, Rec, Acc, Hdf: EndoCV2021 toolkit (written masks > 0, mean over "
    "images; Hdf = row Hausdorff normalised by the set's largest, lower is better).",
    "standard": "Dice@0.5, IoU@0.5: mean Dice/IoU of the map at probability 0.5 (written mask "
    "and truth pixels > 127; not PraNet's meanDic); Sα, "
    "Eφmax, mEφ, Fβw, MAE: pysodmetrics as PraNet's evaluation; HD95: boundary Hausdorff 95th "
    "percentile in pixels (medpy). Lower is better for MAE and HD95.",
    "pranet": "meanDic, meanIoU, wFm, Sm, meanEm, maxEm, MAE (PraNet eval): PraNet's eval/main.m "
    "on the 8-bit probability maps (run --save-prob): means over 256 thresholds, the papers' "
    "tables' figures. Lower is better for MAE.",
    "detection": "FP frames, Sens., Spec., AUROC: frame level (a frame is positive when its mask "
    "has any foreground pixel); FP frames = share of polyp-free frames with a detection.",
}


@dataclass
class Row:
    """One table row: a run's figures on one data set."""

    dataset: str
    label: str
    model: str
    size: Any
    run: str
    values: dict[str, float | None]
    condition: tuple[str, str, str, str]
    is_baseline: bool = False
    fps_unstable: str | None = None


@dataclass
class Table:
    """A comparison table ready to render."""

    metrics: list[str]
    rows: list[Row]
    bold: set[tuple[int, str]] = field(default_factory=set)
    deltas: dict[tuple[int, str], float] = field(default_factory=dict)
    fps_notes: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    table_notes: list[str] = field(default_factory=list)
    baseline: str | None = None


def parse_metrics(names: Iterable[str] | str | None) -> list[str]:
    """Return metric keys from names, column titles or groups (``dice``, ``Dice@0.5``, ``meanDic``, ``standard``).

    Raises:
        ConfigError: An unknown metric, naming the known ones.
    """
    if names is None:
        return [*ENDOCV, "fps"]
    if isinstance(names, str):
        names = [n for n in names.replace(",", " ").split() if n]
    lookup = {k.lower(): k for k in METRICS} | {v[0].lower(): k for k, v in METRICS.items()}
    lookup |= ALIASES
    keys: list[str] = []
    for name in names:
        if name.lower() in GROUPS:
            keys += [k for k in GROUPS[name.lower()] if k not in keys]
            continue
        key = lookup.get(name.lower())
        if key is None:
            raise ConfigError(
                f"unknown metric {name!r}; choose from {', '.join(v[0] for v in METRICS.values())} "
                f"or a group ({', '.join(GROUPS)})"
            )
        if key not in keys:
            keys.append(key)
    return keys


def default_metrics(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """EndoCV columns, then Dice@0.5, PraNet's meanDic and the detection columns where any record
    has them, then FPS."""
    present = present_metrics(records)
    extra = [k for k in ("mdice", "pranet_meandic", *DETECTION) if k in present]
    return [*ENDOCV, *extra, "fps"]


def scored_sets(record: Mapping[str, Any]) -> list[str]:
    """Sets of a record with ground truth (EndoCV scores or detection figures)."""
    return [
        name
        for name, entry in record.get("sets", {}).items()
        if entry.get("scores") or entry.get("detection")
    ]


def dropped_notes(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Notes naming runs and sets left out of a table because they have no ground truth."""
    notes = []
    for record in records:
        unscored = [s for s in record.get("sets", {}) if s not in scored_sets(record)]
        if not unscored:
            continue
        if len(unscored) == len(record.get("sets", {})):
            notes.append(
                f"Not shown: run {record.get('run')} has no set with ground truth "
                f"({', '.join(unscored) or 'no sets'})."
            )
        else:
            notes.append(
                f"Not shown: set(s) {', '.join(unscored)} of run {record.get('run')} (no ground truth)."
            )
    return notes


def _group_labels(group: Sequence[Mapping[str, Any]]) -> list[str]:
    keys = [(r.get("model"), r.get("size")) for r in group]
    return [
        str(r.get("run")) if keys.count(key) > 1 else str(r.get("model") or r.get("run"))
        for r, key in zip(group, keys, strict=True)
    ]


def build_table(
    records: Sequence[Mapping[str, Any]],
    metrics: Iterable[str] | str | None = None,
    baseline: str | None = None,
) -> Table:
    """Build a comparison table from leaderboard records.

    Args:
        records: Records (:func:`endobench.leaderboard.records.record_from_run`), in row order.
        metrics: Metric keys, titles or groups (default: :func:`default_metrics`).
        baseline: A run name or model name; its rows are the reference for the deltas.

    Returns:
        The table.

    Raises:
        ConfigError: No record has scores, or the baseline matches no record.
    """
    keys = parse_metrics(metrics) if metrics is not None else default_metrics(records)
    datasets: list[str] = []
    for record in records:
        datasets += [s for s in scored_sets(record) if s not in datasets]
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
    table = Table(metrics=keys, rows=[], baseline=baseline)
    conditions = sorted({condition_key(r) for r in records})
    for dataset in datasets:
        members = [r for r in records if dataset in scored_sets(r)]
        group: list[int] = []
        for record, label in zip(members, _group_labels(members), strict=True):
            values = {k: record_values(record, dataset).get(k) for k in keys if k != "fps"}
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
                    fps_unstable=unstable_reason(record) if is_unstable(record) else None,
                )
            )
            group.append(len(table.rows) - 1)
        _mark_best(table, group)
        if baseline is not None:
            _mark_deltas(table, group, baseline)
    _add_notes(table, records, conditions)
    return table


def _add_notes(
    table: Table, records: Sequence[Mapping[str, Any]], conditions: list[tuple[str, ...]]
) -> None:
    keys = table.metrics
    families = (("endocv", ENDOCV), ("standard", (*STANDARD, "e_phi_mean")), ("pranet", PRANET))
    for family, members in families:
        if any(k in keys for k in members):
            table.notes.append(LEGEND[family])
    if any(k in keys for k in DETECTION):
        table.notes.append(LEGEND["detection"])
    if "fps" in keys and len(conditions) > 1:
        # Numbered in the order the rows show them, so the first row carries note 1.
        conditions = list(dict.fromkeys(row.condition for row in table.rows))
        for index, row in enumerate(table.rows):
            table.fps_notes[index] = conditions.index(row.condition) + 1
        for cond in conditions:
            table.table_notes.append(f"FPS measured on {describe_condition(cond)}.")
        table.notes.append(
            "FPS figures from different conditions are not ranked against each other."
        )
    elif "fps" in keys and conditions:
        table.notes.append(
            "FPS: forward pass only, batch 1, median over images, after warm-up; "
            f"{describe_condition(conditions[0])}."
        )
    if "fps" in keys:
        unstable = {r.run: r.fps_unstable for r in table.rows if r.fps_unstable}
        table.notes += [
            f"{UNSTABLE_MARK} {run}: unstable timing: {why}; its FPS is shown but not ranked."
            for run, why in unstable.items()
        ]
    table.notes += dropped_notes(records)


def _mark_best(table: Table, group: list[int]) -> None:
    for key in table.metrics:
        higher = METRICS[key][1]
        candidates = [i for i in group if table.rows[i].values.get(key) is not None]
        if key == "fps":
            candidates = [i for i in candidates if not table.rows[i].fps_unstable]
        if key == "fps" and len({table.rows[i].condition for i in candidates}) > 1:
            continue
        if len(candidates) < 2:
            continue
        # Compared as printed: a difference nobody can see in the table is not a win.
        shown = {i: float(f"{table.rows[i].values[key]:.{METRICS[key][2]}f}") for i in candidates}
        if len(set(shown.values())) < 2:
            continue
        best = (max if higher else min)(shown.values())
        table.bold.update((i, key) for i in candidates if shown[i] == best)


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
            if key == "fps" and (
                row.condition != base.condition or row.fps_unstable or base.fps_unstable
            ):
                continue
            if row.values.get(key) is not None and base.values.get(key) is not None:
                table.deltas[(i, key)] = row.values[key] - base.values[key]
