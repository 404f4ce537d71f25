"""The temporal filter of a video stream: when a polyp alarm starts and when it ends.

Per frame, the model's post-processed mask gives a *raw* decision (any foreground pixel: polyp).
Raw decisions flicker; the alarm a clinician sees follows a (k, n, m) rule:

- an alarm **starts** on a frame when at least ``k`` of the last ``n`` raw decisions (that frame
  included) are positive;
- a running alarm **ends** on the ``m``-th consecutive clear (raw negative) frame: that frame is
  the first without the alarm, so ``m = 1`` ends it on the first clear frame;
- after an alarm ends the window starts empty: only frames after the end count towards the next.

(1, 1, 1) is no filter at all: the alarm is the raw decision. Torch-free.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from endobench.errors import ConfigError

#: The filter of weights that carry none: 3 of the last 5 frames start an alarm, 5 clear frames
#: end it (a fifth of a second at 25 frames/s either way).
DEFAULT_FILTER = {"k": 3, "n": 5, "m": 5}


@dataclass(frozen=True)
class FilterParams:
    """The (k, n, m) of a temporal filter (see the module docstring).

    Raises:
        ConfigError: A value below 1, or ``k`` above ``n``.
    """

    k: int
    n: int
    m: int

    def __post_init__(self) -> None:
        if min(self.k, self.n, self.m) < 1 or self.k > self.n:
            raise ConfigError(
                f"temporal filter {self.k},{self.n},{self.m} (--filter K,N,M): need 1 <= K <= N "
                "and M >= 1"
            )

    @classmethod
    def from_mapping(cls, values: Mapping[str, object] | None) -> FilterParams:
        """Parameters from ``{"k", "n", "m"}`` (the weights' ``temporal_filter``); None: default."""
        values = dict(values or DEFAULT_FILTER)
        try:
            return cls(int(values["k"]), int(values["n"]), int(values["m"]))
        except (KeyError, TypeError, ValueError):
            raise ConfigError(
                f"temporal filter {values!r}: give integers k, n and m, e.g. {DEFAULT_FILTER}"
            ) from None

    @classmethod
    def parse(cls, text: str) -> FilterParams:
        """Parameters from ``"K,N,M"`` (the command line's ``--filter 3,5,5``)."""
        parts = [p.strip() for p in str(text).split(",")]
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ConfigError(f"--filter {text!r}: give three whole numbers K,N,M, e.g. 3,5,5")
        return cls(*(int(p) for p in parts))

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form (stored with the weights and in ``summary.json``)."""
        return {"k": self.k, "n": self.n, "m": self.m}


@dataclass
class TemporalFilter:
    """The alarm state of one stream; feed it one raw decision a frame, in order.

    Attributes:
        params: The (k, n, m).
        on: Whether the alarm is on after the last frame.
    """

    params: FilterParams
    on: bool = False
    _window: deque = field(init=False, repr=False)
    _clear: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._window = deque(maxlen=self.params.n)

    def step(self, raw: bool) -> bool:
        """Take the next frame's raw decision; return whether the alarm is on for that frame."""
        raw = bool(raw)
        if self.on:
            self._clear = 0 if raw else self._clear + 1
            if self._clear >= self.params.m:
                self.on, self._clear = False, 0
                self._window.clear()
            return self.on
        self._window.append(raw)
        if sum(self._window) >= self.params.k:
            self.on, self._clear = True, 0
        return self.on


def apply_filter(raw: Iterable[bool], params: FilterParams) -> list[bool]:
    """Return the alarm of each frame of a sequence of raw decisions."""
    state = TemporalFilter(params)
    return [state.step(r) for r in raw]


def episodes(alarm: Iterable[bool]) -> list[tuple[int, int]]:
    """Return the alarm episodes as ``(first, last)`` frame positions, both included."""
    out: list[tuple[int, int]] = []
    start = None
    last = -1
    for i, on in enumerate(alarm):
        last = i
        if on and start is None:
            start = i
        elif not on and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, last))
    return out


def changes(raw: Iterable[bool]) -> int:
    """Count the frames whose raw decision differs from the previous frame's."""
    count, previous = 0, None
    for r in raw:
        if previous is not None and bool(r) != previous:
            count += 1
        previous = bool(r)
    return count
