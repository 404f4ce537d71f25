"""``make gpu-check``'s logic on the CPU (``--device cpu --quick``): the same JSON schema, every cell."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest
import torch
from capabilities import missing_capability
from torch import nn

from endobench import backends
from endobench.checks import gpu_check
from endobench.checks.gpu_check import CheckPlan, plan_for, run_gpu_check, speed_cells
from endobench.checks.gpu_probes import VARIANTS, speed_cell

CELL_KEYS = {"model", "size", "precision", "batch", "status"}
NO_BF16 = "this CPU has no bf16 instructions"
OK_KEYS = {"method", "channels_last", "cuda_graph", "median_ms", "p90_ms", "images_per_s"}


def test_the_full_plan_is_issue_10s_grid_and_quick_keeps_its_cells():
    full, quick = plan_for("cuda"), plan_for("cpu", quick=True)
    assert full.models == ("pranet", "brp", "brp_lite") and full.sizes == (352, 512)
    assert full.precisions == ("fp32", "fp16", "bf16") and full.batches == (1, 16)
    assert full.train_steps == 50 and full.agreement_images is None
    assert (quick.models, quick.precisions, quick.batches) == (
        full.models,
        full.precisions,
        full.batches,
    )
    assert quick.iterations <= 2 and max(quick.sizes) <= 64


@pytest.fixture(scope="module")
def quick_record() -> dict:
    return run_gpu_check(plan_for("cpu", quick=True), progress=False)


@pytest.mark.slow
def test_quick_cpu_check_has_the_schema_and_every_cell(quick_record):
    record, plan = quick_record, plan_for("cpu", quick=True)
    json.dumps(record, allow_nan=False)  # plain JSON
    assert record["schema"] == gpu_check.SCHEMA and record["device"] == "cpu"
    assert record["clock"] == "time.perf_counter" and record["quick"] is True
    assert {"environment", "settings", "plan", "target", "seconds", "passed"} <= set(record)
    grid = itertools.product(plan.models, plan.sizes, plan.precisions, plan.batches)
    cells = [(c["model"], c["size"], c["precision"], c["batch"]) for c in record["speed"]]
    assert cells == list(grid)
    _check_cells_and_probes(record, plan, bf16=backends.cpu_supports_bf16())
    assert record["target"]["fps"] is None and record["target"]["met"] is None  # no 512 cell


def _check_cells_and_probes(record: dict, plan: CheckPlan, bf16: bool) -> None:
    """Every cell ran, or was skipped with its reason where this CPU lacks the precision."""
    for cell in record["speed"]:
        assert CELL_KEYS <= set(cell), cell
        if cell["precision"] == "fp16":
            assert cell["status"] == "skipped" and "fp16" in cell["reason"]
            continue
        if cell["precision"] == "bf16" and not bf16:
            assert cell["status"] == "skipped" and cell["reason"] == NO_BF16, cell
            continue
        assert cell["status"] == "ok", cell
        assert OK_KEYS <= set(cell) and cell["method"] in VARIANTS[:2]
        assert cell["images_per_s"] == pytest.approx(1000 * cell["batch"] / cell["median_ms"])
        assert cell["variants_ms"]["cuda_graph"] == "not available on the CPU"
    training = record["training"]
    assert training["status"] == "ok" and training["steps"] == plan.train_steps
    amp = "bfloat16 autocast" if bf16 else f"none: {NO_BF16}"
    assert training["losses_finite"] and training["amp"] == amp
    agreement = record["agreement"]
    assert agreement["images"] == plan.agreement_images and agreement["threshold"] == 0.99
    assert agreement["by_precision"]["fp32"]["min_dice"] >= 0.99
    assert agreement["by_precision"]["fp16"]["status"] == "skipped"
    bf16_row = agreement["by_precision"]["bf16"]
    assert (
        bf16_row["status"] == "ok" if bf16 else bf16_row == {"status": "skipped", "reason": NO_BF16}
    )
    assert record["target"]["fps"] is None and record["target"]["met"] is None  # no 512 cell
    stream = record["stream"]
    assert stream["status"] == "ok" and [r["overlay_scale"] for r in stream["runs"]] == [1.0, 0.5]
    assert all(r["frames"] == plan.stream_frames and r["device"] == "cpu" for r in stream["runs"])
    assert stream["target"]["met"] is None  # no GPU target on the CPU
    assert record["passed"] is True


@pytest.mark.slow
def test_a_cpu_without_bf16_skips_its_cells_with_the_reason_and_still_passes(monkeypatch):
    monkeypatch.setattr(backends, "cpu_supports_bf16", lambda flags=None: False)
    plan = replace(plan_for("cpu", quick=True), models=("brp_lite",))
    record = run_gpu_check(plan, progress=False)
    assert [c["precision"] for c in record["speed"] if c["status"] == "skipped"] == [
        "fp16",
        "fp16",
        "bf16",
        "bf16",
    ]
    _check_cells_and_probes(record, plan, bf16=False)


def test_the_bf16_marker_skips_with_its_reason_on_a_cpu_without_it(monkeypatch):
    assert (missing_capability("cpu_bf16") is None) == backends.cpu_supports_bf16()
    monkeypatch.setattr(backends, "cpu_supports_bf16", lambda flags=None: False)
    reason = missing_capability("cpu_bf16")
    assert reason is not None and reason.startswith("needs bfloat16 instructions on the CPU")
    monkeypatch.setattr(backends, "cpu_supports_bf16", lambda flags=None: True)
    assert missing_capability("cpu_bf16") is None
    with pytest.raises(ValueError, match="unknown capability"):
        missing_capability("avx9000")


def test_cells_past_the_time_budget_are_skipped_with_the_reason():
    plan = replace(
        CheckPlan(device="cpu"), models=("brp_lite",), sizes=(32,), budget_s=-1.0, iterations=1
    )
    cells = speed_cells(plan, torch.device("cpu"))
    assert len(cells) == 6
    assert all(c["status"] == "skipped" for c in cells)
    assert all("time budget" in c["reason"] for c in cells if c["precision"] != "fp16")


class _NoChannelsLast(nn.Module):
    """A network that refuses channels-last input: that variant fails, eager stands."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1)

    def forward(self, x):
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            raise RuntimeError("channels-last refused\nsecond line")
        return [self.conv(x)]


def test_a_failing_variant_is_recorded_and_the_others_stand():
    cell = speed_cell(_NoChannelsLast(), 32, "fp32", 2, warmup=0, iterations=2)
    assert cell["status"] == "ok" and cell["method"] == "eager"
    assert cell["variants_ms"]["channels_last"] == "failed: RuntimeError: channels-last refused"
    assert cell["channels_last"] is False and cell["median_ms"] > 0


def test_main_prints_the_json_and_writes_docs_only_for_a_full_gpu_run(
    monkeypatch, tmp_path, capsys
):
    record = {"device": "cpu", "passed": False, "speed": []}
    monkeypatch.setattr(gpu_check, "run_gpu_check", lambda plan, progress: record)
    monkeypatch.chdir(tmp_path)
    assert gpu_check.main(["--device", "cpu", "--quick", "--no-progress"]) == 1
    assert json.loads(capsys.readouterr().out) == record
    assert not (tmp_path / "docs").exists()
    out = tmp_path / "check.json"
    record["passed"] = True
    assert gpu_check.main(["--device", "cpu", "--quick", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == record
    record["device"] = "cuda"
    assert gpu_check.main([]) == 0
    assert json.loads((tmp_path / gpu_check.DOCS_JSON).read_text()) == record


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is available here")
def test_without_a_gpu_the_check_is_a_one_line_error(capsys):
    assert gpu_check.main(["--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: --device cuda") and "\n" not in err
