"""endobench run on an exported file: the same masks as PyTorch, and backend/precision recorded."""

from __future__ import annotations

import json

import numpy as np
from export_tiny_model import TINY
from typer.testing import CliRunner

from endobench.runner import RunConfig, run_benchmark
from endobench.writers.masks import read_prediction, set_pred_dir


def _run(tmp_path, name, **kwargs):
    from endobench.export.fast_backend import select_fast_backend

    config = RunConfig(
        datasets=["sample/clinicdb"],
        out=str(tmp_path),
        name=name,
        num_workers=0,
        threads=1,
        warmup=1,
        score=False,
        progress=False,
        **kwargs,
    )
    return run_benchmark(config, select_fast_backend)


def test_run_with_an_onnx_file_writes_the_torch_masks(tmp_path, tiny_onnx, tiny_weights):
    onnx_run = _run(tmp_path, "onnx", model=None, weights=str(tiny_onnx))
    torch_run = _run(tmp_path, "torch", model=TINY, weights=str(tiny_weights), backend="torch")
    got = sorted(set_pred_dir(onnx_run.run_dir, "sample-clinicdb").glob("*_mask.*"))
    want = sorted(set_pred_dir(torch_run.run_dir, "sample-clinicdb").glob("*_mask.*"))
    assert [p.name for p in got] == [p.name for p in want] and len(got) == 10
    for a, b in zip(got, want, strict=True):
        mask_a, mask_b = read_prediction(a), read_prediction(b)
        assert mask_a.shape == mask_b.shape
        assert np.count_nonzero(mask_a != mask_b) <= 2  # pixels at probability 0.5 +- 1e-6
    info = json.loads((onnx_run.run_dir / "run.json").read_text())
    assert (info["backend"], info["precision"]) == ("onnxruntime", "fp32")
    assert info["config"]["model"] == TINY
    assert (info["config"]["backend"], info["config"]["precision"]) == ("onnxruntime", "fp32")
    torch_info = json.loads((torch_run.run_dir / "run.json").read_text())
    assert (torch_info["backend"], torch_info["precision"]) == ("torch", "fp32")
    assert torch_info["backend_choice"]["reason"] == "--backend torch: eager PyTorch, as asked"
    assert info["backend_choice"]["reason"].startswith("the weights are an exported .onnx file")
    assert info["weights_sha256"] == torch_info["weights_sha256"]


def test_timing_records_backend_precision_load_and_affinity(tmp_path, tiny_onnx):
    import os

    result = _run(tmp_path, "timed", model=None, weights=str(tiny_onnx))
    timing = json.loads((result.run_dir / "timing.json").read_text())
    cond = timing["conditions"]
    assert (cond["backend"], cond["precision"]) == ("onnxruntime", "fp32")
    assert cond["usable_cores"] == len(os.sched_getaffinity(0))
    assert cond["cpu_affinity"]
    assert len(cond["load_average_start"]) == 3 and len(cond["load_average_end"]) == 3
    split = cond["thread_split"]
    assert split["torch_threads"] == 1 and split["dataloader_workers"] == 0
    assert split["oversubscribed"] is False
    assert isinstance(timing["unstable"], bool)
    assert isinstance(timing["unstable_reasons"], list)
    assert timing["unstable"] == bool(timing["unstable_reasons"])


def test_cli_runs_an_onnx_file_without_a_model_name(tmp_path, tiny_onnx):
    from endobench.cli import app

    result = CliRunner().invoke(
        app,
        [
            "run",
            "--weights",
            str(tiny_onnx),
            "--dataset",
            "sample/kvasir",
            "--out",
            str(tmp_path),
            "--name",
            "cli",
            "--workers",
            "0",
            "--threads",
            "1",
            "--no-score",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list(set_pred_dir(tmp_path / "cli", "sample-kvasir").glob("*_mask.*"))) == 10
    refused = CliRunner().invoke(
        app, ["run", "--dataset", "sample/kvasir", "--out", str(tmp_path / "none")]
    )
    assert refused.exit_code == 2
    assert "pass --model NAME (or --weights FILE.onnx" in refused.output


def test_run_takes_the_verified_fast_path_by_default_and_records_why(
    tmp_path, tiny_weights, monkeypatch
):
    from endobench.export import fast_backend

    speeds = {"torch": 10.0, "onnxruntime": 4.0}
    monkeypatch.setattr(fast_backend, "_median_ms", lambda f, x: speeds[f.__self__.backend])
    fast = _run(tmp_path, "fast", model=TINY, weights=str(tiny_weights))
    eager = _run(tmp_path, "eager", model=TINY, weights=str(tiny_weights), backend="torch")
    info = json.loads((fast.run_dir / "run.json").read_text())
    assert (info["backend"], info["config"]["backend"]) == ("onnxruntime", "onnxruntime")
    choice = info["backend_choice"]
    assert (
        choice["reason"].startswith("onnxruntime: same masks")
        and choice["check"]["min_dice"] >= 0.99
    )
    timing = json.loads((fast.run_dir / "timing.json").read_text())
    assert timing["conditions"]["backend"] == "onnxruntime"
    got = sorted(set_pred_dir(fast.run_dir, "sample-clinicdb").glob("*_mask.*"))
    want = sorted(set_pred_dir(eager.run_dir, "sample-clinicdb").glob("*_mask.*"))
    for a, b in zip(got, want, strict=True):
        assert np.count_nonzero(read_prediction(a) != read_prediction(b)) <= 2
    resumed = _run(tmp_path, "fast", model=TINY, weights=str(tiny_weights), resume=True)
    assert json.loads((resumed.run_dir / "run.json").read_text())["backend"] == "onnxruntime"
