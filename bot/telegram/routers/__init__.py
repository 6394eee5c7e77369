"""One aiogram router per feature; :func:`all_routers` lists them in the order they must be tried."""

from __future__ import annotations

from aiogram import Router

from bot.telegram.routers import basics, buttons, fallback, imagine, photos, settings


def all_routers() -> list[Router]:
    """Feature routers first, the catch-all fallback last."""
    return [basics.router, settings.router, imagine.router, photos.router, buttons.router, fallback.router]
