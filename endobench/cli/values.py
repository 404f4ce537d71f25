"""Parsing of the comma-separated option values that several commands share."""

from __future__ import annotations


def comma_names(values: list[str] | None) -> list[str]:
    """Accept ``--data a --data b`` and ``--data a,b`` alike."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def comma_sides(
    text: str | None, option: str = "--sizes", example: str = "384,448,512"
) -> list[int]:
    """Input sides from ``"288,352"`` (empty for no value).

    Raises:
        ConfigError: A part is not a positive integer (one line naming the option).
    """
    from endobench.errors import ConfigError

    if not text:
        return []
    try:
        sides = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        sides = []
    if not sides or any(side <= 0 for side in sides):
        raise ConfigError(
            f"{option} {text!r}: give comma-separated positive integers such as {example}"
        )
    return sides
