"""One aiogram router per feature, each built by its module's ``router()``; :func:`all_routers` builds them in the
order they must be tried."""

from __future__ import annotations

from aiogram import Router

from bot.telegram.routers import basics, buttons, describe, fallback, imagine, photos, settings, teach


def all_routers() -> list[Router]:
    """New feature routers for one dispatcher, the catch-all fallback last."""
    features = (basics, settings, teach, imagine, describe, photos, buttons, fallback)
    return [feature.router() for feature in features]
