"""Stopping on request: Ctrl-C (SIGINT) or SIGTERM ends ``run``, ``train`` and ``calibrate`` after
the file in hand, not in the middle of one.

:func:`stop_on_signals` (entered by the command, around the library call) turns the first
SIGINT/SIGTERM into a request that the loops read with :func:`stop_requested` between items;
they finish what is in hand, mark their output interrupted and raise :class:`Interrupted`, which
the command line prints as one line (how many items are done, the command that resumes) with exit
status 130. A second signal stops at once (``KeyboardInterrupt``). Outside the main thread, or
without the context, nothing is installed and no stop is ever requested.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

#: The exit status of a command stopped by a signal (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_requested: list[int] = []


class Interrupted(Exception):  # noqa: N818 - what happened, as KeyboardInterrupt
    """A command stopped on request after finishing the file in hand.

    Attributes:
        done: Items finished (this session and earlier ones).
        total: Items the command had to do.
        noun: What an item is ("image", "epoch", "frame").
        resumable: Whether the same command with ``--resume`` continues it.
        detail: Said right after the count (`` (epoch 3 stopped after batch 12 of 163)``).
    """

    def __init__(self, done: int, total: int, noun: str, resumable: bool = True, detail: str = ""):
        self.done, self.total, self.noun, self.resumable = done, total, noun, resumable
        self.detail = detail
        super().__init__(f"interrupted: {done} of {total} {noun}s done{detail}")


def stop_requested() -> bool:
    """True once SIGINT or SIGTERM arrived inside :func:`stop_on_signals`."""
    return bool(_requested)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn the first SIGINT/SIGTERM into a stop request while the block runs (main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request(signum, frame) -> None:
        if _requested:
            raise KeyboardInterrupt
        _requested.append(signum)

    previous = {signum: signal.signal(signum, request) for signum in _SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _requested.clear()


def ignore_interrupts(_worker: int | None = None) -> None:
    """In a helper process (decoding, scoring): ignore Ctrl-C, which the terminal sends to every
    process of the group, so the command's own process decides when to stop."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def resume_command(args: list[str]) -> str:
    """The command line that resumes ``endobench ARGS``: ``--resume`` instead of ``--force``."""
    import shlex

    kept = [arg for arg in args if arg not in ("--force", "--resume")]
    return "endobench " + shlex.join([*kept, "--resume"])
