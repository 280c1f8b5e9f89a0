"""The one error type every transformer raises for a payload it refuses."""

from __future__ import annotations


class TransformerError(ValueError):
    """A payload cannot be transformed.

    ``cause`` is a short fixed code (e.g. ``empty_name``) fit for a metric label;
    ``str(err)`` is the human-readable reason."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause
