"""The one error a recording raises for a bad file, folder or class."""

from __future__ import annotations

__all__ = ["RecordingError"]


class RecordingError(ValueError):
    """A file or folder that is not a readable evlab recording; the message names it and why."""
