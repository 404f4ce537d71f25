"""Benchmark: one 1080x1350 pair scored by endobench and by the toolkit's reference functions.

``make bench`` runs it (``--benchmark-enable``): the numbers must be identical and endobench at
least 50 times faster; docs/metrics.md records the measured speed-up with the CPU it was measured
on. Without ``--benchmark-enable`` it is skipped (tests/benchmarks/conftest.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))

from mask_cases import blob  # noqa: E402
from speed_goals import check_speed_goals, first, machine  # noqa: E402
from toolkit_reference import reference_image_scores, reference_prepare  # noqa: E402

from endobench.metrics import score_pair  # noqa: E402

MIN_SPEEDUP = 50


def _jpeg_pair(tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A truth and a plausible prediction (shifted, grown, one false positive), saved as JPEG."""
    rng = np.random.default_rng(1080)
    truth = blob((1080, 1350), rng)
    pred = cv2.dilate(np.roll(truth, (12, -20), axis=(0, 1)), np.ones((9, 9), np.uint8))
    pred = (pred | blob((1080, 1350), rng, 1)) * 255
    truth = truth * 255
    cv2.imwrite(str(tmp_path / "gt.jpg"), truth)
    cv2.imwrite(str(tmp_path / "pred_mask.jpg"), pred)
    return cv2.imread(str(tmp_path / "gt.jpg")), cv2.imread(str(tmp_path / "pred_mask.jpg"))


def _endobench(gt_bgr: np.ndarray, pred_bgr: np.ndarray) -> dict[str, float]:
    return score_pair(gt_bgr[:, :, 0] > 0, pred_bgr).as_dict()


def _reference(gt_bgr: np.ndarray, pred_bgr: np.ndarray) -> dict[str, float]:
    return reference_image_scores(*reference_prepare(gt_bgr, pred_bgr))


def test_scorer_speedup_over_the_toolkit(benchmark, tmp_path):
    gt_bgr, pred_bgr = _jpeg_pair(tmp_path)
    before = machine()
    _reference(gt_bgr[:8, :8], pred_bgr[:8, :8])  # compile the numba loop outside the timing

    start = time.perf_counter()
    reference = _reference(gt_bgr, pred_bgr)
    reference_s = time.perf_counter() - start

    ours = benchmark(_endobench, gt_bgr, pred_bgr)
    ours_s = min(_timed(_endobench, gt_bgr, pred_bgr) for _ in range(5))

    for key, value in reference.items():
        assert ours[key] == pytest.approx(float(value), abs=1e-12, rel=0), key
    assert ours["hausdorff"] == reference["hausdorff"]
    speedup = reference_s / ours_s
    after = machine()
    benchmark.extra_info.update(
        cpu=before["cpu"], reference_s=reference_s, endobench_s=ours_s, speedup=speedup
    )
    print(
        f"\n[scorer benchmark] {before['cpu']}: reference {reference_s * 1e3:.1f} ms, "
        f"endobench {ours_s * 1e3:.2f} ms, speed-up {speedup:.0f}x"
    )
    missed = [f"speed-up {speedup:.0f}x < {MIN_SPEEDUP}x"] if speedup < MIN_SPEEDUP else []
    loads = (first(before["load_average"]), first(after["load_average"]))
    check_speed_goals(missed, loads, int(before["usable_cores"]))


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start
