"""``endobench models`` and the summary it prints."""

from __future__ import annotations

import torch
from typer.testing import CliRunner

from endobench.cli import app
from endobench.models import checkpoint as checkpoint_module
from endobench.models import create_model, list_models
from endobench.models.summary import count_model, summarise_models


def test_counts_match_a_real_model():
    params, gflops = count_model("brp_lite", 64)
    model = create_model("brp_lite")
    assert params == sum(p.numel() for p in model.parameters())
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(torch.zeros(1, 3, 64, 64))
    assert gflops * 1e9 == counter.get_total_flops()
    assert count_model("brp_lite", 128)[1] > 3.5 * gflops  # FLOPs grow with the pixel count


def test_summary_reports_local_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(checkpoint_module, "WEIGHTS_DIR", tmp_path)
    (tmp_path / "brp_lite.safetensors").write_bytes(b"")
    rows = {row["name"]: row for row in summarise_models(with_flops=False)}
    assert set(rows) == set(list_models())
    assert rows["brp_lite"]["weights"].endswith("brp_lite.safetensors")
    assert rows["brp"]["weights"] is None and rows["brp"]["input_size"] == 512


def test_cli_lists_every_model():
    result = CliRunner().invoke(app, ["models", "--no-flops"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in list_models():
        assert name in result.output


def test_input_size_and_gflops_are_those_of_the_local_weights(monkeypatch, tmp_path):
    from endobench.models import save_checkpoint

    monkeypatch.setattr(checkpoint_module, "WEIGHTS_DIR", tmp_path)
    save_checkpoint(
        tmp_path / "brp_lite.safetensors", {"w": torch.zeros(1)}, metadata={"input_size": 96}
    )
    rows = {row["name"]: row for row in summarise_models(["brp_lite", "brp"], with_flops=True)}
    assert (rows["brp_lite"]["input_size"], rows["brp_lite"]["size_from"]) == (96, "weights")
    assert rows["brp_lite"]["gflops"] == count_model("brp_lite", 96)[1]
    assert (rows["brp"]["input_size"], rows["brp"]["size_from"]) == (512, "default")
