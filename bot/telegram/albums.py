"""Collecting a Telegram album (a media group): its photos arrive as separate updates sharing ``media_group_id``.

No well-kept aiogram 3 package does this (``aiogram-media-group`` targets aiogram 2, the others are young
forks), so this is a small collector: the first part's handler becomes the album's owner, waits until no new
part arrived for ``window`` seconds and gets all parts in message order; the other parts' handlers return at
once. It relies on aiogram handling updates as concurrent tasks (``start_polling``'s default
``handle_as_tasks=True``) and on one polling process per bot token (Telegram allows only one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
ALBUM_WINDOW = 1.0  # seconds of quiet after the last part; Telegram sends an album's parts within milliseconds


@dataclass
class _Album(Generic[T]):
    parts: list[tuple[int, T]] = field(default_factory=list)
    last_seen: float = 0.0


class AlbumCollector(Generic[T]):
    """Groups items by key until ``window`` seconds pass without a new one."""

    def __init__(self, window: float = ALBUM_WINDOW) -> None:
        self.window = window
        self._albums: dict[Hashable, _Album[T]] = {}

    async def add(self, key: Hashable, order: int, item: T) -> list[T] | None:
        """Add a part; the first part's caller gets every part (sorted by ``order``) once the album is
        complete, the others get ``None`` at once."""
        album = self._albums.get(key)
        owner = album is None
        if album is None:
            album = self._albums[key] = _Album()
        album.parts.append((order, item))
        album.last_seen = time.monotonic()
        if not owner:
            return None
        try:
            while (quiet := time.monotonic() - album.last_seen) < self.window:
                await asyncio.sleep(self.window - quiet)
        finally:
            del self._albums[key]
        return [item for _order, item in sorted(album.parts, key=lambda part: part[0])]
