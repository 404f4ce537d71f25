"""The one device and dtype rule: endobench.predictor.resolve_device / resolve_dtype."""

from __future__ import annotations

import pytest
import torch

from endobench.errors import ConfigError
from endobench.predictor import resolve_device, resolve_dtype


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_torch_device_passes_through():
    device = torch.device("cpu")
    assert resolve_device(device) is device


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("spec", ["cuda", "cuda:1"])
def test_cuda_missing_is_one_line_error(spec):
    with pytest.raises(ConfigError, match=f"--device {spec}: no CUDA device"):
        resolve_device(spec)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_plain_cuda_means_the_local_rank():
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda", local_rank=3) == torch.device("cuda", 3)
    assert resolve_device("cuda:0", local_rank=3) == torch.device("cuda", 0)


@pytest.mark.parametrize("spec", ["tpu", "gpu", "cpu:x"])
def test_unknown_device(spec):
    with pytest.raises(ConfigError, match="is not known"):
        resolve_device(spec)


@pytest.mark.parametrize(
    ("spec", "dtype"),
    [
        (None, torch.float32),
        ("float32", torch.float32),
        ("fp32", torch.float32),
        ("bfloat16", torch.bfloat16),
        ("bf16", torch.bfloat16),
        ("float16", torch.float16),
        ("fp16", torch.float16),
        (torch.bfloat16, torch.bfloat16),
    ],
)
def test_dtypes(spec, dtype):
    assert resolve_dtype(spec) is dtype


def test_unknown_dtype():
    with pytest.raises(ConfigError, match="--dtype 'int8' is not one of float32"):
        resolve_dtype("int8")


def test_engine_uses_the_owner():
    from endobench.runner.engine import Engine

    with pytest.raises(ConfigError, match="--dtype 'half' is not one of"):
        Engine.create("brp_lite", None, None, "cpu", "half", allow_random=True)
    with pytest.raises(ConfigError, match="float16 is not supported on the CPU"):
        Engine.create("brp_lite", None, None, "cpu", "float16", allow_random=True)


@pytest.mark.parametrize("spec", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
def test_one_grammar_for_every_command_checked_without_torch(spec):
    from endobench.devices import check_device
    from endobench.runner.config import RunConfig

    assert check_device(spec) == spec
    RunConfig(model="brp_lite", datasets=["sample/kvasir"], device=spec).validate()


@pytest.mark.parametrize("spec", ["gpu", "cuda:", "cuda:x", "cpu:0", "CUDA", "auto:1"])
def test_specs_outside_the_grammar_are_refused_before_anything_loads(spec):
    from endobench.devices import check_device
    from endobench.runner.config import RunConfig

    with pytest.raises(ConfigError, match="is not known; use auto, cpu, cuda, cuda:N or mps"):
        check_device(spec)
    with pytest.raises(ConfigError, match="is not known"):
        RunConfig(model="brp_lite", datasets=["sample/kvasir"], device=spec).validate()


def test_the_device_rule_imports_no_torch():
    import subprocess
    import sys

    code = "import sys, endobench.devices, endobench.runner.config; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
