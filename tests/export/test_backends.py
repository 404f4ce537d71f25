"""The Predictor's backend rule: which weights run where, at which precision, and bf16's refusal."""

from __future__ import annotations

import pytest
import torch
from export_tiny_model import TINY
from typer.testing import CliRunner

import endobench.backends as backends
from endobench.backends import check_cpu_bf16, cpu_flags, cpu_supports_bf16, resolve_backend
from endobench.errors import ConfigError, WeightsError
from endobench.predictor import Predictor

CPU = torch.device("cpu")


@pytest.mark.parametrize(
    ("backend", "precision", "weights", "dtype", "expected"),
    [
        ("auto", None, "w.safetensors", torch.float32, ("torch", "fp32")),
        ("auto", None, "m.onnx", torch.float32, ("onnxruntime", None)),
        ("auto", "int8", "m.ONNX", torch.float32, ("onnxruntime", "int8")),
        ("torch", None, None, torch.bfloat16, ("torch", "bf16")),
        ("torch", "fp16", None, torch.float32, ("torch", "fp16")),
        ("onnxruntime", "fp32", "m.onnx", torch.float32, ("onnxruntime", "fp32")),
    ],
)
def test_backend_and_precision_are_resolved(backend, precision, weights, dtype, expected):
    choice = resolve_backend(backend, precision, weights, dtype, torch.device("cuda", 0))
    assert (choice.backend, choice.precision) == expected


@pytest.mark.parametrize(
    ("backend", "precision", "weights", "dtype", "message"),
    [
        ("tensorrt", None, None, torch.float32, "--backend 'tensorrt' is not one of"),
        ("auto", "fp8", None, torch.float32, "--precision 'fp8' is not one of"),
        ("onnxruntime", None, "w.safetensors", torch.float32, "export it with `endobench export"),
        ("torch", None, "m.onnx", torch.float32, "use --backend onnxruntime"),
        ("auto", "int8", None, torch.float32, "int8 runs with ONNX Runtime"),
        ("auto", "bf16", "m.onnx", torch.float32, "ONNX Runtime runs fp32 or int8"),
        ("auto", "fp32", None, torch.bfloat16, "contradicts --dtype bfloat16"),
    ],
)
def test_contradictions_are_refused_in_one_line(backend, precision, weights, dtype, message):
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_backend(backend, precision, weights, dtype, CPU)
    assert "\n" not in str(caught.value)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16\n\nprocessor\t: 1\n")
    assert cpu_flags(info) == {"fpu", "sse", "avx512f", "avx512_bf16"}
    assert cpu_flags(tmp_path / "absent") is None
    assert cpu_supports_bf16({"avx512f", "avx512_bf16"})
    assert cpu_supports_bf16({"amx_bf16"})
    assert not cpu_supports_bf16({"avx512f", "avx2"})


def test_bf16_is_refused_on_a_cpu_without_it(monkeypatch, tiny_weights):
    monkeypatch.setattr(backends, "cpu_flags", lambda *args: {"sse4_2", "avx2", "avx512f"})
    with pytest.raises(ConfigError, match="has no bfloat16 instructions") as caught:
        Predictor(TINY, weights=str(tiny_weights), device="cpu", precision="bf16")
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="use --precision fp32"):
        Predictor(TINY, weights=str(tiny_weights), device="cpu", dtype="bfloat16")
    with pytest.raises(ConfigError):
        check_cpu_bf16(set())


def test_bf16_runs_with_autocast_on_a_cpu_with_it(monkeypatch, tiny_weights):
    monkeypatch.setattr(backends, "cpu_flags", lambda *args: {"avx512_bf16"})
    predictor = Predictor(TINY, weights=str(tiny_weights), device="cpu", precision="bf16")
    assert (predictor.backend, predictor.precision, predictor.dtype) == (
        "torch",
        "bf16",
        torch.bfloat16,
    )


def test_run_refuses_bf16_on_such_a_cpu_with_one_line(monkeypatch, tmp_path):
    from endobench.cli import app

    monkeypatch.setattr(backends, "cpu_flags", lambda *args: {"avx2"})
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--model",
            "brp_lite",
            "--dataset",
            "sample/kvasir",
            "--precision",
            "bf16",
            "--device",
            "cpu",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: --precision bf16: this CPU")
    assert list(tmp_path.iterdir()) == []


def test_onnx_files_are_checked_against_what_was_asked(tiny_onnx):
    with pytest.raises(ConfigError, match="is a fp32 export, not int8"):
        Predictor(None, weights=tiny_onnx, precision="int8")
    with pytest.raises(ConfigError, match="is an export of 'export_tiny', not 'brp_lite'"):
        Predictor("brp_lite", weights=tiny_onnx)
    with pytest.raises(ConfigError, match="pass a model name"):
        Predictor(None, weights=None)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_onnx_file_without_endobench_metadata_is_refused(tmp_path):
    plain = tmp_path / "plain.onnx"
    conv = torch.nn.Conv2d(3, 1, 1).eval()
    torch.onnx.export(
        conv, (torch.zeros(1, 3, 32, 32),), str(plain), input_names=["image"], dynamo=False
    )
    with pytest.raises(
        WeightsError, match="no endobench metadata .* export it with `endobench export"
    ):
        Predictor(None, weights=plain)
    with pytest.raises(WeightsError, match="no such ONNX file"):
        Predictor(None, weights=tmp_path / "absent.onnx")
