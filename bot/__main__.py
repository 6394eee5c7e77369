"""``python -m bot``: run the chat frontends configured in the environment.

``python -m bot console`` runs the terminal frontend instead; so does ``python -m bot`` when no token is set.
``python -m bot sync-commands [--guild ID]`` registers the Discord slash commands (globally, or in one guild).
With ``REDIS_URL`` unset, an embedded Redis and a local worker are started too, so one command runs it all.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.app import backend, run_until_stopped
from bot.config import BotConfig, BotSettings, DiscordSettings
from bot.monitoring import monitoring
from core.config import ConfigError, load
from core.telemetry import probe_health

log = logging.getLogger("bot")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: an optional mode (and a guild for ``sync-commands``)."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="Molbert chat frontends")
    parser.add_argument(
        "mode",
        nargs="?",
        choices=("run", "console", "sync-commands", "health"),
        default="run",
        help="run: the frontends configured in the environment (default); console: a terminal chat; "
        "sync-commands: register the Discord slash commands, then exit; "
        "health: ask the running bot's /healthz (BOT_METRICS_PORT), exit 0 if healthy, else 1",
    )
    parser.add_argument(
        "--guild", type=int, metavar="ID", help="sync-commands: register in this guild only (instant; for testing)"
    )
    args = parser.parse_args(argv)
    if args.guild is not None and args.mode != "sync-commands":
        parser.error("--guild goes with sync-commands")
    return args


async def serve(mode: str, config: BotConfig) -> None:
    """Bring up the backend and run the chosen frontends until stopped."""
    config.log.apply(config.bot.log_level)
    if mode == "console":
        from bot.console import run_console

        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))  # the chat, not logs
        async with backend(config, worker_log=config.bot.data_dir / "worker.log") as shared:
            await run_until_stopped(lambda: run_console(shared.molbert, shared.results, config.bot.data_dir))
        return
    telegram, discord, consumer = config.telegram, config.discord, config.bot.instance
    if telegram.bot_token is None and discord.token is None:
        log.info("neither TELEGRAM_BOT_TOKEN nor DISCORD_TOKEN is set: starting the terminal chat instead")
        await serve("console", config)
        return
    async with (
        backend(config) as shared,
        monitoring(config.bot.metrics_port, shared.jobs.connection, lambda: shared.jobs.queues) as health,
    ):
        runners = []
        if telegram.bot_token is not None:
            from bot.telegram.app import run_telegram

            runners.append(
                health.track("telegram", lambda: run_telegram(telegram, shared.molbert, shared.results, consumer))
            )
        if discord.token is not None:
            from bot.discord.app import run_discord

            runners.append(
                health.track("discord", lambda: run_discord(discord, shared.molbert, shared.results, consumer))
            )
        await run_until_stopped(*runners)


async def sync_discord_commands(settings: DiscordSettings, guild: int | None) -> None:
    """``sync-commands``: register the slash commands and the context menu with Discord, then exit."""
    if settings.token is None:
        raise ConfigError("DISCORD_TOKEN", "sync-commands needs the Discord bot token")
    from bot.discord.app import sync_commands

    synced = await sync_commands(settings, guild)
    where = f"in guild {guild}" if guild is not None else "globally"
    print(f"synced {len(synced)} Discord commands {where}: {', '.join(command.name for command in synced)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for a configuration error)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        if args.mode == "health":  # a probe of the running bot: it needs the port, not the bot's whole config
            return probe_health(load(BotSettings).metrics_port)
        config = BotConfig.load()
        if args.mode == "sync-commands":
            asyncio.run(sync_discord_commands(config.discord, args.guild))
        else:
            asyncio.run(serve(args.mode, config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
