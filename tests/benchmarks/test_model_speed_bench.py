"""Benchmark: brp_lite beside pranet, one 352x352 image at a time on the CPU.

Runs as a cheap smoke test (64x64, one call each) when benchmarks are disabled, as the suite does.
Run ``pytest tests/benchmarks/test_model_speed_bench.py --benchmark-enable -s`` for the timing
table: both models in one run, inference only (``Predictor.forward_batch``: batch norms folded,
channels-last, ``torch.inference_mode``), float32 and, for brp_lite, bfloat16 autocast, with 2 threads
and with 1 thread. The machine
(CPU, threads, load average) goes into each row's extra info and the printed summary. The goal for
brp_lite is at least 25 frames per second at 352x352 on a 2-core CPU; docs/models.md records the
measurement. On a shared machine, compare the minimum as well as the median: other processes'
load slows OpenMP threads down many times.
"""

from __future__ import annotations

import os

import pytest
import torch

from endobench.env import cpu_name
from endobench.predictor import Predictor

TARGET_FPS = 25.0
SIZE = 352
BF16 = pytest.mark.needs("cpu_bf16")
CASES = [
    pytest.param("brp_lite", "float32", 2, 40, id="brp_lite-float32-2thread"),
    pytest.param("brp_lite", "bfloat16", 2, 40, id="brp_lite-bfloat16-2thread", marks=BF16),
    pytest.param("pranet", "float32", 2, 5, id="pranet-float32-2thread"),
    pytest.param("brp_lite", "float32", 1, 40, id="brp_lite-float32-1thread"),
    pytest.param("brp_lite", "bfloat16", 1, 40, id="brp_lite-bfloat16-1thread", marks=BF16),
    pytest.param("pranet", "float32", 1, 5, id="pranet-float32-1thread"),
]


@pytest.fixture
def threads(request):
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("name", "dtype", "threads", "rounds"),
    CASES,
    indirect=["threads"],
)
def test_model_speed(benchmark, name, dtype, threads, rounds):
    size = SIZE
    predictor = Predictor(
        name, size=size, device="cpu", dtype=dtype, allow_random=True, optimise=True
    )
    x = torch.randn(1, 3, size, size)
    predictor.forward_batch(x)  # warm-up: oneDNN picks its kernels on the first call
    benchmark.extra_info.update(
        model=name,
        dtype=dtype,
        input=f"1x3x{size}x{size}",
        cpu=cpu_name(),
        cpu_count=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        load_average_1min=round(os.getloadavg()[0], 2),
    )
    benchmark.pedantic(predictor.forward_batch, args=(x,), rounds=rounds, warmup_rounds=2)
    stats = benchmark.stats.stats
    benchmark.extra_info.update(
        fps_median=round(1 / stats.median, 1), fps_best=round(1 / stats.min, 1)
    )
    print(
        f"\n{name} {dtype}: median {1 / stats.median:.1f} fps, best {1 / stats.min:.1f} fps at "
        f"{size}x{size} on {cpu_name()} ({torch.get_num_threads()} threads, load average "
        f"{os.getloadavg()[0]:.1f}); goal for brp_lite: {TARGET_FPS:.0f} fps"
    )
