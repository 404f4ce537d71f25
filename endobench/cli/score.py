"""``endobench score`` and ``endobench score-gen``: the EndoCV2021 toolkit's numbers, without torch.

Both commands are thin calls into :mod:`endobench.metrics`; they import neither torch nor pandas
nor matplotlib, so they start in well under a second.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from endobench.cli.options import (
    DataRoot,
    NegativeFrames,
    PositiveFrames,
    Progress,
    SkipScoringProblems,
)

#: Row labels of the printed summary, in the toolkit's key order (key, label).
_SUMMARY_ROWS = (
    ("dice", "Dice"),
    ("jaccard", "Jaccard"),
    ("typeIIerror", "F2 (typeIIerror)"),
    ("PPV", "PPV (precision)"),
    ("recall", "Recall"),
    ("OverallAcc", "Accuracy"),
    ("hausdorff_distance", "Row HD / max (normalised)"),
    ("hausdorff_distance_nonNorm", "Row HD (pixels)"),
)
_STD_OF = {
    "dice": "dice_std",
    "jaccard": "jc_std",
    "typeIIerror": "f2_std",
    "PPV": "ppv_std",
    "recall": "r_std",
    "OverallAcc": "acc_std",
    "hausdorff_distance": "hdf_std",
    "hausdorff_distance_nonNorm": "hdf_std_noNorm",
}


def score(
    gt: Path | None = typer.Option(
        None,
        "--gt",
        help="Folder of ground-truth masks <name>.<ext> or <name>_mask.<ext> "
        "(optional with --negatives/--positives).",
    ),
    pred: Path | None = typer.Option(
        None, "--pred", help="Folder of predictions <name>_mask.<ext> or <name>.<ext>."
    ),
    maps: Path | None = typer.Option(
        None,
        "--maps",
        help="Folder of 8- or 16-bit probability maps named like the truths (<name>.<ext>, "
        "<name>_prob.png): PraNet's eval/main.m figures (meanDic, meanIoU, wFm, Sm, ...).",
    ),
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Instead of --gt: the truths of a named data set (kvasir:test; see datasets).",
        ),
    ] = None,
    data_root: DataRoot = None,
    json_file: Path | None = typer.Option(
        None, "--json", help="Write the toolkit's JSON summary here."
    ),
    csv_file: Path | None = typer.Option(None, "--csv", help="Write the per-image scores here."),
    test_type: str | None = typer.Option(
        None, "--test-type", help="Label of the test set (toolkit --testType)."
    ),
    missing_as_empty: bool = typer.Option(
        False, "--missing-as-empty", help="Score truths without a prediction against an empty mask."
    ),
    standard: bool = typer.Option(
        False,
        "--standard",
        help="Also compute boundary HD/HD95, PraNet Dice/IoU, S/E-measure, wF, MAE.",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace existing --json/--csv files."
    ),
    gt_threshold: float = typer.Option(
        0,
        "--gt-threshold",
        help="Truth values above it are polyp (the toolkit: 0, JPEG noise included).",
    ),
    progress: Progress = True,
    skip_problems: SkipScoringProblems = False,
    negatives: NegativeFrames = None,
    positives: PositiveFrames = None,
    prob: Path | None = typer.Option(
        None,
        "--prob",
        help="With --negatives/--positives: folder of <name>_prob.png maps (run --save-prob); "
        "the AUROC then ranks frames by maximum probability, as run does.",
    ),
) -> None:
    """Score predictions with the EndoCV2021 toolkit's exact numbers, or probability maps with
    PraNet's eval/main.m (--maps); no torch."""
    import warnings

    if dataset and (maps is not None or pred is None):
        from endobench.errors import ConfigError

        raise ConfigError("--dataset goes with --pred; --maps takes the truths' folder (--gt)")
    if maps is not None or pred is None:
        _check_maps_alone(gt, pred, maps, csv_file, standard, negatives, positives, prob)
        return _score_maps(gt, maps, json_file, overwrite, progress)

    from endobench.metrics.endocv_summary import ScoringWarning
    from endobench.metrics.frames import score_predictions

    for path in (json_file, csv_file):
        if path is not None and path.exists() and not overwrite:
            from endobench.errors import ScoringError

            raise ScoringError(f"{path} already exists: choose another file or pass --overwrite")
    if dataset:
        gt = _dataset_truths(dataset, gt, data_root, skip_problems)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScoringWarning)
        result = score_predictions(
            pred,
            gt_dir=gt,
            negatives=negatives or [],
            positives=positives or [],
            max_probability=_probability_reader(prob),
            missing="empty" if missing_as_empty else "error",
            test_type=test_type,
            progress=progress,
            standard=standard,
            gt_threshold=gt_threshold,
            on_problem="skip" if skip_problems else "error",
        )
    _report(result)
    for path, write in ((json_file, result.write_json), (csv_file, result.write_csv)):
        if path is not None:
            write(path, overwrite=overwrite)
            typer.echo(f"wrote {path}")


def _dataset_truths(name: str, gt: Path | None, data_root: Path | None, skip_problems: bool):
    """The truth files of a named data set, as ``score_predictions`` takes a folder of them."""
    from endobench.data import load_dataset
    from endobench.errors import ConfigError
    from endobench.metrics.folders import TruthFiles

    if gt is not None:
        raise ConfigError("give --gt or --dataset, not both")
    on_problem = "skip" if skip_problems else "error"
    opened = load_dataset(name, str(data_root) if data_root else None, on_problem=on_problem)
    masks = [sample.mask for sample in opened.samples if sample.mask is not None]
    if not masks:
        raise ConfigError(f"--dataset {name} holds no masks to score against; pass --gt")
    return TruthFiles(masks, f"{name} ({opened.root})")


def _probability_reader(prob: Path | None):
    if prob is None:
        return None
    from endobench.writers.masks import max_probability_reader

    return max_probability_reader(prob)


def _report(result) -> None:
    """Print the warnings, what was skipped, and the tables of a scored set."""
    from rich.console import Console

    console = Console()
    err_console = Console(stderr=True)
    for note in result.warnings:
        err_console.print(f"[yellow]Warning:[/yellow] {note}", highlight=False, soft_wrap=True)
    if result.skipped:
        err_console.print(
            f"[yellow]Skipped {len(result.skipped)} problem(s):[/yellow]", highlight=False
        )
        from endobench.data.pairing import bounded_problems

        for line in bounded_problems(result.skipped):
            err_console.print(f"  - {line}", highlight=False, soft_wrap=True, markup=False)
    if result.summary is not None:
        console.print(_summary_table(result))
    if result.detection is not None:
        console.print(_detection_table(result.detection))
    if result.standard is not None:
        console.print(_standard_table(result.standard))


def score_gen(
    seen: Path = typer.Argument(..., help="Toolkit JSON of the seen-data test set."),
    unseen: Path = typer.Argument(
        ..., help="Toolkit JSON of the unseen-data (generalisation) test set."
    ),
) -> None:
    """Print the EndoCV2021 generalisation score (compute_seg_gen.py) from two score JSON files."""
    from endobench.metrics.endocv_summary import GEN_KEY, generalisation_score, load_summary

    result = generalisation_score(load_summary(seen), load_summary(unseen))[GEN_KEY]
    typer.echo(
        f"seg_g_score (mean of unseen Dice, recall, PPV, 1-HD): {_fmt(result['seg_g_score']['value'])}"
    )
    typer.echo(
        f"score_seg_g (mean deviation beyond 10 % of seen): {_fmt(result['score_seg_g']['value'])}"
    )


def register(app: typer.Typer) -> None:
    """Add ``score`` and ``score-gen`` to the root command group."""
    app.command("score")(score)
    app.command("score-gen")(score_gen)


def _check_maps_alone(gt, pred, maps, csv_file, standard, negatives, positives, prob) -> None:
    from endobench.errors import ConfigError

    if maps is None:
        raise ConfigError("nothing to score: pass --pred (masks) or --maps (probability maps)")
    if gt is None:
        raise ConfigError("--maps needs --gt: the folder of the truths the maps are scored against")
    if pred is not None or csv_file is not None or standard or negatives or positives or prob:
        raise ConfigError(
            "--maps scores probability maps on their own: leave out --pred, --csv, --standard, "
            "--negatives, --positives and --prob (run score twice for both)"
        )


def _score_maps(gt: Path, maps: Path, json_file: Path | None, overwrite: bool, progress: bool):
    from rich.console import Console

    from endobench.errors import ScoringError
    from endobench.metrics.pranet_files import score_map_folder

    if json_file is not None and json_file.exists() and not overwrite:
        raise ScoringError(f"{json_file} already exists: choose another file or pass --overwrite")
    result = score_map_folder(gt, maps, progress=progress)
    console = Console()
    for note in result.warnings:
        Console(stderr=True).print(f"[yellow]Warning:[/yellow] {note}", highlight=False)
    console.print(pranet_eval_table(result.figures, len(result.names)))
    if json_file is not None:
        from endobench.io import write_json_atomic

        write_json_atomic(json_file, result.as_json())
        console.print(f"wrote {json_file}", highlight=False)


def pranet_eval_table(figures: dict, images: int):
    """The 13 figures of PraNet's eval/main.m as a rich table (``score --maps``, ``run``)."""
    from rich.table import Table

    table = Table(
        title=f"PraNet eval/main.m, {images} images",
        caption="mean/max over 256 thresholds",
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, _fmt(value))
    return table


def _summary_table(result):
    from rich.table import Table

    values = {key: entry["value"] for key, entry in result.summary["EndoCV2021_seg"].items()}
    title = f"EndoCV2021 segmentation scores, {len(result.rows)} images"
    if result.test_type:
        title += f" ({result.test_type})"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("mean", justify="right")
    table.add_column("std", justify="right")
    for key, label in _SUMMARY_ROWS:
        table.add_row(label, _fmt(values[key]), _fmt(values[_STD_OF[key]]))
    return table


def _detection_table(figures: dict):
    from rich.table import Table

    from endobench.metrics.detection import detection_rows

    table = Table(
        title="Frame-level detection", caption="a frame is called polyp when its mask is not empty"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in detection_rows(figures):
        table.add_row(label, value)
    return table


def _standard_table(standard: dict):
    from rich.table import Table

    table = Table(title="Standard metrics", caption="not the EndoCV2021 challenge's")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in standard.items():
        table.add_row(key, str(value) if isinstance(value, int) else _fmt(value))
    return table


def _fmt(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.4f}"
