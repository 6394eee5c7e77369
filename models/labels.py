"""The default Russian label set used when a photo comes without labels of its own."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def default_labels() -> tuple[str, ...]:
    """Labels from ``models/data/labels_ru.txt``: one per line, blank lines and ``#`` comments skipped."""
    text = resources.files("models").joinpath("data/labels_ru.txt").read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))
