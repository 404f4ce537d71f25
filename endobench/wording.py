"""Wording shared by every message: counted nouns ("1 thread", "2 threads")."""

from __future__ import annotations

_IRREGULAR = {"is": "are", "was": "were", "has": "have", "this": "these"}


def counted(n: int | float | None, noun: str, plural: str | None = None) -> str:
    """Return ``n`` and ``noun``, in the plural unless ``n`` is exactly one.

    Args:
        n: The count (None is written as ``?``).
        noun: The singular noun ("thread", "image").
        plural: The plural where adding "s" is wrong ("matches", "indices").

    Returns:
        E.g. ``"1 thread"``, ``"2 threads"``, ``"0 images"``.
    """
    if n is None:
        return f"? {plural or _plural(noun)}"
    return f"{n} {noun if n == 1 else plural or _plural(noun)}"


def _plural(noun: str) -> str:
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"
