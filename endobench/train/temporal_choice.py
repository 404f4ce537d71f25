"""Choosing the temporal filter of `endobench stream` during `endobench calibrate`.

The calibrated post-processing gives each validation frame a raw decision (polyp or not). The
filter (:mod:`endobench.stream.temporal`: an alarm starts when k of the last n frames are positive
and ends on the m-th clear frame) is then chosen on:

- **negative sequences**: the polyp-free ``--negatives`` frames grouped by sequence, each in the
  order of the numbers in its file names, played at :data:`STREAM_FPS`; each alarm is a false
  alarm, and ``false_alarms_per_minute`` = alarms / minutes of video;
- **polyp appearances**: the positive validation frames, in order, cut into windows of
  ``within_s`` seconds (a polyp in view that long), each played from a quiet filter;
  ``sensitivity`` = share of windows in which an alarm starts.

The chosen (k, n, m) has the fewest false alarms per minute among those whose sensitivity reaches
the target (ties: the earlier mean first alarm, then smaller n, k, m). When none reaches it, the
most sensitive is chosen and ``target_met`` says so. The raw decision itself, (1, 1, 1), is
reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from endobench.errors import ConfigError
from endobench.stream.temporal import FilterParams, apply_filter, episodes

#: Frame rate the sequences are played at (PolypGen's videos and a folder's default).
STREAM_FPS = 25.0
DEFAULT_SENSITIVITY = 0.95
DEFAULT_WITHIN_S = 1.0
WINDOW_SIZES = (1, 2, 3, 4, 5, 6, 8, 10)
CLEAR_FRAMES = (1, 2, 3, 5, 8, 12)


@dataclass(frozen=True)
class FilterCandidate:
    """One (k, n, m) and what it does on the validation frames."""

    k: int
    n: int
    m: int
    false_alarms_per_minute: float
    sensitivity: float
    mean_first_alarm_s: float | None

    @property
    def params(self) -> FilterParams:
        """The filter's parameters."""
        return FilterParams(self.k, self.n, self.m)


@dataclass(frozen=True)
class TemporalChoice:
    """The chosen filter, the raw decision's figures, and what they were measured on."""

    chosen: FilterCandidate
    raw: FilterCandidate
    target_sensitivity: float
    target_met: bool
    within_s: float
    fps: float
    n_sequences: int
    negative_frames: int
    positive_windows: int

    def record(self) -> dict:
        """JSON-ready form for the checkpoint's calibration record."""
        return asdict(self)


def _candidate(
    params: FilterParams,
    negatives: Sequence[Sequence[bool]],
    windows: Sequence[Sequence[bool]],
    fps: float,
) -> FilterCandidate:
    alarms = sum(len(episodes(apply_filter(seq, params))) for seq in negatives)
    minutes = sum(len(seq) for seq in negatives) / fps / 60.0
    firsts = []
    for window in windows:
        spans = episodes(apply_filter(window, params))
        if spans:
            firsts.append(spans[0][0] / fps)
    return FilterCandidate(
        params.k, params.n, params.m,
        alarms / minutes if minutes else 0.0,
        len(firsts) / len(windows),
        sum(firsts) / len(firsts) if firsts else None,
    )  # fmt: skip


def _rank(c: FilterCandidate) -> tuple:
    return (c.false_alarms_per_minute, c.mean_first_alarm_s or 0.0, c.n, c.k, c.m)


def choose_temporal_filter(
    negative_sequences: Sequence[Sequence[bool]],
    positive_frames: Sequence[bool],
    *,
    target_sensitivity: float = DEFAULT_SENSITIVITY,
    within_s: float = DEFAULT_WITHIN_S,
    fps: float = STREAM_FPS,
) -> TemporalChoice:
    """Choose (k, n, m) from raw decisions (see the module docstring).

    Args:
        negative_sequences: Raw decisions of each polyp-free sequence, in frame order.
        positive_frames: Raw decisions of the positive validation frames, in order.
        target_sensitivity: Share of polyp appearances that must raise an alarm.
        within_s: How long a polyp appearance lasts (its window).
        fps: The frame rate the frames are played at.

    Raises:
        ConfigError: No negative sequence, no positive frame, or a target outside (0, 1].
    """
    if not 0 < target_sensitivity <= 1:
        raise ConfigError(f"--alarm-sensitivity {target_sensitivity}: give a share in (0, 1]")
    if within_s <= 0:
        raise ConfigError(f"--alarm-within {within_s}: give a positive number of seconds")
    negatives = [list(map(bool, seq)) for seq in negative_sequences if len(seq)]
    if not negatives or not positive_frames:
        raise ConfigError("choosing the temporal filter needs negative sequences and polyp frames")
    size = max(1, round(within_s * fps))
    positives = list(map(bool, positive_frames))
    windows = [positives[i : i + size] for i in range(0, len(positives), size)]
    if len(windows) > 1 and len(windows[-1]) < size:
        windows.pop()  # a shorter last window would ask more of the filter than the rest
    candidates = [
        _candidate(FilterParams(k, n, m), negatives, windows, fps)
        for n in WINDOW_SIZES
        for k in range(1, n + 1)
        for m in CLEAR_FRAMES
    ]
    reaching = [c for c in candidates if c.sensitivity >= target_sensitivity]
    if reaching:
        chosen = min(reaching, key=_rank)
    else:
        chosen = min(candidates, key=lambda c: (-c.sensitivity, *_rank(c)))
    return TemporalChoice(
        chosen=chosen,
        raw=_candidate(FilterParams(1, 1, 1), negatives, windows, fps),
        target_sensitivity=target_sensitivity,
        target_met=bool(reaching),
        within_s=within_s,
        fps=fps,
        n_sequences=len(negatives),
        negative_frames=sum(len(s) for s in negatives),
        positive_windows=len(windows),
    )


def describe_temporal(choice: TemporalChoice) -> str:
    """One line for the terminal."""
    c, raw = choice.chosen, choice.raw
    met = "" if choice.target_met else f" (target {choice.target_sensitivity:g} not reached)"
    return (
        f"temporal filter for `endobench stream`: alarm at {c.k} of {c.n} frames, ended by "
        f"{c.m} clear frames: {c.false_alarms_per_minute:.2f} false alarms/min on "
        f"{choice.n_sequences} polyp-free sequences ({raw.false_alarms_per_minute:.2f} without "
        f"it), alarm within {choice.within_s:g} s for {c.sensitivity:.1%} of "
        f"{choice.positive_windows} polyp appearances{met}"
    )


def choose_from_frames(
    frames,
    params: dict[str, float],
    negative_pairs: Sequence,
    **targets: float,
) -> TemporalChoice:
    """Choose the filter from a calibration's frame table and its chosen post-processing.

    Args:
        frames: The :class:`~endobench.train.operating_point.FrameTable` of the chosen side; its
            last negative frames are ``negative_pairs``, in their order.
        params: The chosen ``reference_area``, ``confidence`` and ``polarise``.
        negative_pairs: The polyp-free frames (grouped by their ``sequence``, else their folder).
        targets: ``target_sensitivity``, ``within_s``, ``fps`` (see :func:`choose_temporal_filter`).
    """
    from endobench.stream.source import frame_order

    ci = frames.grid.confidences.index(params["confidence"])

    def called(white, largest) -> bool:
        return bool(white[ci] > params["reference_area"] and largest > params["polarise"])

    negatives = [called(w, m) for w, m in zip(frames.neg_white, frames.neg_max, strict=True)]
    negatives = negatives[len(negatives) - len(negative_pairs) :]
    by_sequence: dict[str, list[tuple[tuple, bool]]] = {}
    for pair, decision in zip(negative_pairs, negatives, strict=True):
        key = pair.sequence or str(pair.image.parent)
        by_sequence.setdefault(key, []).append((frame_order(pair.image), decision))
    sequences = [
        [d for _, d in sorted(items, key=lambda x: x[0])] for items in by_sequence.values()
    ]
    positives = [called(w, m) for w, m in zip(frames.pos_white, frames.pos_max, strict=True)]
    return choose_temporal_filter(sequences, positives, **targets)
