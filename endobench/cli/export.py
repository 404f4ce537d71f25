"""``endobench export``: a model to a verified ONNX file (thin; see endobench.export)."""

from __future__ import annotations

from pathlib import Path

import typer

from endobench.cli.options import DataRoot, root_text


def export(
    model: str = typer.Option(
        ..., "--model", "-m", help="Registered model name (see `endobench models`)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="The .onnx file to write."),
    weights: str | None = typer.Option(
        None, "--weights", "-w", help="Weights file, or 'default' (the packaged weights)."
    ),
    size: int | None = typer.Option(
        None, "--size", help="Input side in pixels (default: the model's)."
    ),
    dynamic_size: bool = typer.Option(
        False, "--dynamic-size", help="Let the file take other input sides too."
    ),
    precision: str = typer.Option(
        "fp32", "--precision", help="fp32, or int8 (ONNX Runtime static quantisation)."
    ),
    calibration: str | None = typer.Option(
        None,
        "--calibration",
        help="int8: image folder or named data set to calibrate on (e.g. kvasir:train).",
    ),
    calibration_images: int = typer.Option(
        64, "--calibration-images", help="int8: how many calibration images (evenly spaced)."
    ),
    min_dice: float = typer.Option(
        0.97,
        "--min-dice",
        help="int8: least mean Dice between its masks and PyTorch's on the bundled sample.",
    ),
    data_root: DataRoot = None,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    random_weights: bool = typer.Option(
        False, "--random-weights", help="No weights: random initialisation (speed tests only)."
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="CPU threads for tracing and the checks."
    ),
) -> None:
    """Export a model to ONNX, checked against PyTorch on real images before it is written."""
    options = dict(locals())  # export_onnx's arguments, by their names
    import torch

    from endobench.export import export_onnx

    if options.pop("threads") is not None:
        torch.set_num_threads(max(1, threads))
    options["allow_random"] = options.pop("random_weights")
    options["data_root"] = root_text(data_root)
    result = export_onnx(**options)
    checks = result.metadata["checks"]
    typer.echo(
        f"checked: ONNX Runtime within {checks['fp32']['max_abs_diff']:.1e} of PyTorch "
        f"(fp32, sample image {checks['fp32']['image']})"
    )
    if "int8" in checks:
        quantised = result.metadata["quantisation"]
        tries = quantised.get("tries", 1)
        float_note = (
            f" (try {tries}: {quantised['convolutions kept float']} kept float, as the earlier "
            "tries' masks disagreed)"
            if tries > 1
            else ""
        )
        typer.echo(
            f"checked: int8 masks agree with PyTorch's at mean Dice {checks['int8']['mean_dice']:.4f} "
            f"(min {checks['int8']['min_dice']:.4f}) on {checks['int8']['images']} sample images; "
            f"convolutions: {quantised['convolutions']}{float_note}"
        )
    typer.echo(
        f"wrote {result.path} ({result.precision}, {result.input_size} px, "
        f"{result.seconds:.0f} s); run it with `endobench run --weights {result.path} ...`"
    )


def register(app: typer.Typer) -> None:
    """Add ``export`` to the root app."""
    app.command("export")(export)
