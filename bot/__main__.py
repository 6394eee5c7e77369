"""``python -m bot``: run the chat frontends configured in the environment.

``python -m bot console`` runs the terminal frontend instead; so does ``python -m bot`` when no token is set.
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

        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))  # the chat, not logs
        async with backend(bot_settings, redis_settings, worker_log=bot_settings.data_dir / "worker.log") as shared:
            await run_until_stopped(lambda: run_console(shared.molbert, shared.results, bot_settings.data_dir))
        return
    telegram, discord = load(TelegramSettings), load(DiscordSettings)
    if telegram.bot_token is None and discord.token is None:
        log.info("neither TELEGRAM_BOT_TOKEN nor DISCORD_TOKEN is set: starting the terminal chat instead")
        await serve("console")
        return
    if telegram.bot_token is None:
        raise ConfigError(
            "Configuration error: DISCORD_TOKEN: the Discord frontend is not in this version yet; "
            "set TELEGRAM_BOT_TOKEN, or try `python -m bot console`"
        )
    if discord.token is not None:
        log.warning("DISCORD_TOKEN is set, but the Discord frontend is not in this version yet: Telegram only")
    from bot.telegram.app import run_telegram

    async with backend(bot_settings, redis_settings) as shared:
        await run_until_stopped(
            lambda: run_telegram(telegram, shared.molbert, shared.results, consumer=bot_settings.instance)
        )


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
