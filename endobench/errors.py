"""User-facing errors.

Every problem a user can fix (a missing file, a wrong folder layout, weights for another model)
raises an :class:`EndobenchError` whose message is one line naming the file and the fix. The
command-line interface prints it without a traceback and exits with status 2.
"""

from __future__ import annotations


class EndobenchError(Exception):
    """A problem with the user's input, stated in one line with the file and the fix."""


class DataError(EndobenchError):
    """An image, mask or data set folder that cannot be read or paired."""


class ScoringError(EndobenchError):
    """Predictions and ground truth that cannot be scored together."""


class WeightsError(EndobenchError):
    """A weights file that is missing or does not fit the model."""


class ConfigError(EndobenchError):
    """An option or configuration value that is out of range or inconsistent."""
