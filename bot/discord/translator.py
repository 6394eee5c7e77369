"""Command descriptions from ``handlers/texts.py``: Russian by default, English for English Discord clients.

A localisable string is ``text(key)``: a ``locale_str`` whose message is the Russian text (what Discord shows when
it has no localisation) and whose ``key`` extra names the text; :class:`TextsTranslator` fills in the other
languages when the commands are synced.
"""

from __future__ import annotations

import discord
from discord import app_commands

from handlers.texts import DEFAULT_LANGUAGE, pick_language, t


def text(key: str) -> app_commands.locale_str:
    """The text ``key`` as a command name or description Discord can localise."""
    return app_commands.locale_str(t(key, DEFAULT_LANGUAGE), key=key)


class TextsTranslator(app_commands.Translator):
    """Translates ``text(key)`` strings for the locales we have texts for; others keep the Russian default."""

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        """The text in ``locale``'s language, or ``None`` to keep the default."""
        key = string.extras.get("key")
        lang = pick_language(locale.value)
        if key is None or lang == DEFAULT_LANGUAGE:
            return None
        return t(key, lang)
