"""``make gpu-check``'s logic on the CPU (``--device cpu --quick``): the same JSON schema, every cell."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from capabilities import missing_capability
from torch import nn

from endobench import backends
from endobench.checks import gpu_check
from endobench.checks.gpu_check import CheckPlan, plan_for, run_gpu_check, speed_cells, workloads
from endobench.checks.gpu_probes import VARIANTS, speed_cell
from endobench.checks.gpu_sample import pack_gpu_sample
from endobench.checks.gpu_workloads import targets
from endobench.errors import ConfigError

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


#: The GPU machine has neither: the check must run end to end without them.
SCORING_LIBRARIES = ("medpy", "pysodmetrics")


@pytest.fixture(scope="module")
def packed_sample(tmp_path_factory) -> Path:
    """A packed sample (``make gpu-sample``'s layout) of the bundled images, repeated to 24."""
    out = tmp_path_factory.mktemp("gpu") / "gpu-sample"
    pack_gpu_sample(out, sets=("sample/kvasir", "sample/clinicdb"), images=24)
    return out


@pytest.fixture(scope="module")
def quick_record(packed_sample) -> dict:
    """``python -m endobench.checks.gpu_check --device cpu --quick --sample DIR`` in a process
    where medpy and pysodmetrics cannot be imported (as on the GPU machine)."""
    block = "; ".join(f"sys.modules[{name!r}] = None" for name in SCORING_LIBRARIES)
    code = (
        f"import sys; {block}; from endobench.checks.gpu_check import main; "
        f"sys.exit(main(['--device', 'cpu', '--quick', '--no-progress', '--sample', "
        f"{str(packed_sample)!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    return json.loads(done.stdout)


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
    assert record["plan"]["sample"].endswith("gpu-sample")


@pytest.mark.slow
def test_quick_check_runs_run_and_training_on_the_sample_without_scoring_libraries(quick_record):
    plan = plan_for("cpu", quick=True)
    runs = quick_record["run"]
    assert [(r["model"], r["size"], r["batch"]) for r in runs] == [c[:3] for c in plan.run_cases]
    for row in runs:
        assert row["status"] == "ok", row
        assert row["workload"] == "run" and row["images"] == 24 and row["backend"] == "torch"
        assert row["fps_batch1"] > 0 and row["end_to_end_images_per_s"] > 0
        assert row["forward_images_per_s"] > 0 and row["end_to_end_share_of_forward"] > 0
    assert [r["weights"] for r in runs] == ["random", "shipped"]
    training = quick_record["train_throughput"]
    assert [(t["model"], t["size"], t["batch"]) for t in training] == list(plan.throughput_cases)
    for row in training:
        assert row["status"] == "ok", row
        assert row["epochs"] == plan.throughput_epochs and len(row["images_per_s_by_epoch"]) == 2
        assert row["images_per_s"] == row["images_per_s_by_epoch"][1] > 0
    targets = quick_record["targets"]
    assert len(targets) == 5 and all(set(t) == {"rule", "figure", "met", "limit"} for t in targets)
    # the quick sizes are not the targets' sizes: nothing is claimed
    assert all(t["figure"] is None and t["met"] is None and t["limit"] for t in targets)


def test_targets_are_measured_against_the_workloads():
    runs = [
        {"status": "ok", "model": "brp_post", "size": 512, "batch": 1, "fps_batch1": 320.0},
        {
            "status": "ok",
            "model": "brp_lite_post",
            "size": 352,
            "batch": 16,
            "end_to_end_images_per_s": 900.0,
            "end_to_end_share_of_forward": 0.5,
            "workers": 8,
            "inference_path": "cuda_graph",
        },
    ]
    training = [{"status": "ok", "model": "brp_lite", "size": 352, "images_per_s": 1600.0}]
    found = {t["rule"].split(":")[0]: t for t in targets(runs, training)}
    assert [t["met"] for t in found.values()] == [True, False, False, True, None]
    lite = found["run brp_lite_post at 352 px, batch 16, end to end"]
    assert lite["figure"] == 900.0 and "0.50 of the forward rate" in lite["limit"]
    assert "cuda_graph" in lite["limit"]
    assert found["run brp_post at 512 px, batch 1"]["limit"] is None


def test_without_a_sample_the_workloads_are_skipped_saying_why():
    plan = replace(plan_for("cpu", quick=True), sample=None)
    runs, training = workloads(plan, torch.device("cpu"), began=0.0)
    assert [r["status"] for r in runs + training] == ["skipped"] * 3
    assert all("make gpu-sample" in r["reason"] for r in runs + training)


def test_a_missing_sample_is_a_one_line_error(tmp_path, capsys):
    code = gpu_check.main(["--device", "cpu", "--quick", "--sample", str(tmp_path / "none")])
    assert code == 2
    assert capsys.readouterr().err.strip().startswith(f"Error: --sample {tmp_path / 'none'}")


def test_packing_repeats_the_frames_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "packed"
    described = pack_gpu_sample(out, sets=("sample/clinicdb",), images=13)
    names = sorted(p.name for p in (out / "images").iterdir())
    assert len(names) == 13 and described["unique_frames"] == 10 and described["images"] == 13
    assert sum(n.startswith("r1-sample-clinicdb-") for n in names) == 3
    assert sorted(p.stem for p in (out / "masks").iterdir()) == [Path(n).stem for n in names]
    assert json.loads((out / "sample.json").read_text())["bytes"] == described["bytes"]
    with pytest.raises(ConfigError, match="exists; pass --force"):
        pack_gpu_sample(out, sets=("sample/clinicdb",), images=2)
    pack_gpu_sample(out, sets=("sample/clinicdb",), images=2, force=True)
    assert len(list((out / "images").iterdir())) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["packed"]  # no scratch folder left


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
