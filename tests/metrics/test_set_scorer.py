"""The one set scorer: every reader of files feeds it, and a further block plugs in beside the
standard metrics."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from endobench.metrics import Frame, FrameConsumer, SetScorer, score_arrays
from endobench.metrics.folders import score_folders
from endobench.metrics.frames import score_frames
from endobench.metrics.standard import StandardMetrics, file_values


def _blob(seed: int, shape=(40, 56)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, np.uint8)
    top, left = rng.integers(2, 12, 2)
    mask[top : top + rng.integers(8, 20), left : left + rng.integers(8, 30)] = 255
    return mask


def _write(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)


class _Counts:
    """A plug-in block: polyp pixels of the truth and of the probability map above 0.5."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, int]] = []

    def add(self, name: str, values: tuple[int, int]) -> None:
        self.rows.append((name, *values))

    def compute(self) -> dict:
        return {"frames": len(self.rows), "truth": sum(r[1] for r in self.rows)}


def _counts(frame: Frame) -> tuple[int, int]:
    source = frame.probability if frame.probability is not None else frame.prediction
    return int((frame.truth > 127).sum()), int((source > 127).sum())


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_plugged_in_block_is_fed_each_frame_with_a_truth_in_order():
    counts = FrameConsumer("counts", _counts, _Counts)
    scorer = SetScorer(consumers=[counts], standard=True)
    truths = [_blob(i) for i in range(3)]
    for index, truth in enumerate(truths):
        scorer.update(Frame(f"f{index}", truth, truth, probability=truth // 2 + 100))
    scorer.update(Frame("polyp without mask", None, truths[0]))
    result = scorer.compute()
    assert result.extras == {
        "counts": {"frames": 3, "truth": sum(int((t > 127).sum()) for t in truths)}
    }
    assert scorer.blocks["counts"].rows[0][0] == "f0"
    assert [name for name, _ in result.rows] == ["f0", "f1", "f2"]
    assert result.detection["n_positive_frames"] == 4
    expected = StandardMetrics()
    for index, truth in enumerate(truths):
        expected.add(f"f{index}", file_values(f"f{index}", truth, truth // 2 + 100, True))
    assert result.standard == expected.compute()


def test_measuring_apart_and_adding_in_order_gives_the_same_figures():
    frames = [Frame(f"f{i}", _blob(i), _blob(i + 10), score=i / 10) for i in range(4)]
    frames.append(Frame("neg", np.zeros((40, 56), np.uint8), _blob(3), score=0.9))
    direct, apart = SetScorer(standard=True), SetScorer(standard=True)
    for frame in frames:
        direct.update(frame)
    measured = [apart.rules.measure(frame) for frame in reversed(frames)][::-1]
    for item in measured:
        apart.add(item)
    assert direct.compute() == apart.compute()


def test_frames_and_folders_take_the_standard_metrics_by_one_rule(tmp_path):
    """JPEG masks at another size than their truths: ``score --negatives --standard`` and ``score
    --standard`` read the same files into the same standard metrics."""
    for index in range(3):
        _write(tmp_path / "gt" / f"p{index}.png", _blob(index))
        _write(tmp_path / "pred" / f"p{index}_mask.jpg", cv2.resize(_blob(index + 5), (70, 50)))
    folders = score_folders(tmp_path / "gt", tmp_path / "pred", standard=True, progress=False)
    frames = score_frames(tmp_path / "pred", gt_dir=tmp_path / "gt", standard=True, progress=False)
    assert frames.standard == folders.standard
    assert frames.rows == folders.rows


def test_score_arrays_takes_a_uint8_prediction_as_a_probability_map():
    truth = _blob(1) > 0
    grey = (_blob(2) // 3).astype(np.uint8)
    result = score_arrays([("a", truth, grey)], standard=True)
    expected = StandardMetrics()
    expected.update("a", truth, grey)
    assert result.standard == expected.compute()
    with pytest.raises(Exception, match="8-bit"):
        score_arrays([("b", truth, grey.astype(np.float32))], standard=True)
