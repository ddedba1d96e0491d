"""Exceptions for user mistakes. The CLI prints them as one line, never as a traceback."""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "SessrecError"]


class SessrecError(Exception):
    """A problem the user can fix (bad input, unknown name, missing file).

    The message says what was expected, what was found and, where it helps, what to do.
    """


class DataError(SessrecError, ValueError):
    """A raw data file is missing, malformed, or leaves nothing after filtering."""


class ConfigError(SessrecError, ValueError):
    """An unknown model/dataset/option or an invalid parameter value."""
