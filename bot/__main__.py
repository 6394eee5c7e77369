"""``python -m bot``: run the chat frontends configured in the environment.

``python -m bot console`` runs the terminal frontend instead (no token needed).
With ``REDIS_URL`` unset, an embedded Redis and a local worker are started too, so one command runs it all.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.app import backend, run_until_stopped
from bot.settings import BotSettings, ConfigError, DiscordSettings, RedisSettings, TelegramSettings, load

log = logging.getLogger("bot")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: an optional mode."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Molbert chat frontends")
    parser.add_argument(
        "mode",
        nargs="?",
        choices=("run", "console"),
        default="run",
        help="run: the frontends configured in the environment (default); console: a terminal chat",
    )
    return parser.parse_args(argv)


async def serve(mode: str) -> None:
    """Load the settings, bring up the backend and run the chosen frontends until stopped."""
    bot_settings, redis_settings = load(BotSettings), load(RedisSettings)
    logging.getLogger().setLevel(bot_settings.log_level)
    if mode == "console":
        from bot.console import run_console

        async with backend(bot_settings, redis_settings) as shared:
            await run_until_stopped(lambda: run_console(shared.molbert, shared.results, bot_settings.data_dir))
        return
    telegram, discord = load(TelegramSettings), load(DiscordSettings)
    if telegram.bot_token is None and discord.token is None:
        raise ConfigError(
            "Configuration error: TELEGRAM_BOT_TOKEN: not set (nor DISCORD_TOKEN), so there is nothing to run; "
            "set one, or try the bot in a terminal with `python -m bot console`"
        )
    if discord.token is not None:
        log.warning("DISCORD_TOKEN is set, but the Discord frontend is not part of this version yet")
    async with backend(bot_settings, redis_settings) as shared:
        runners = []
        if telegram.bot_token is not None:
            from bot.telegram.app import run_telegram

            runners.append(
                lambda: run_telegram(telegram, shared.molbert, shared.results, consumer=bot_settings.instance)
            )
        if runners:
            await run_until_stopped(*runners)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for a configuration error)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        asyncio.run(serve(args.mode))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
