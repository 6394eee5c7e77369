"""The Discord frontend (discord.py 2): slash commands, a message context menu, persistent result buttons.

``app`` builds the bot and runs it (or syncs its commands), ``cogs`` hold one feature each, ``outbox`` sends into
Discord for the handlers and the result listener, ``interactions`` keeps interaction tokens in Redis so a result
can still land in the original response after a restart, ``buttons`` turns neutral buttons into components.
"""
