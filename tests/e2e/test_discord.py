"""The Discord frontend as users run it: ``python -m bot`` and ``python -m bot sync-commands`` as real processes,
against the fake Discord (REST and gateway) started by the test, with a real Redis and the real worker."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys

import pytest
from PIL import Image

from handlers.texts import t
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.processes import REPO, ManagedProcess
from tests.unit.bot.test_discord import COMMAND_NAMES


@pytest.fixture
async def fake():
    async with FakeDiscordAPI() as fake:
        yield fake


async def run_command(args: list[str], env: dict[str, str], cwd) -> subprocess.CompletedProcess:
    """Run ``python -m bot …`` to completion without blocking the loop the fake serves from."""
    process = ManagedProcess(args, env, cwd=cwd, log_path=cwd / "command.log")
    code = await process.wait_for_exit(60)
    process.stop()
    return subprocess.CompletedProcess(args, code, process.log, "")


async def test_sync_commands_registers_them_in_a_guild_and_exits(fake, tmp_path):
    guild = fake.guild()
    env = {"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.base_url}
    result = await run_command(["-m", "bot", "sync-commands", "--guild", guild["id"]], env, tmp_path)
    assert result.returncode == 0, result.stdout
    assert f"synced {len(COMMAND_NAMES)} Discord commands in guild {guild['id']}: " in result.stdout
    assert {c["name"] for c in fake.commands[guild["id"]]} == COMMAND_NAMES
    assert fake.token not in result.stdout


async def test_python_m_bot_serves_discord_alone_over_the_gateway(fake, redis_url, run_worker, tmp_path):
    env = {"DISCORD_TOKEN": fake.token, "DISCORD_API_URL": fake.base_url, "REDIS_URL": redis_url}
    bot = ManagedProcess(["-m", "bot"], env, cwd=tmp_path, log_path=tmp_path / "bot.log")
    try:
        await fake.wait_for(lambda: fake.gateway_sessions, timeout=30, what="the bot to identify on the gateway")
        await bot.wait_for_log("Discord frontend started as")
        assert "start-up objects set aside from garbage collection" in bot.log
        alice, channel = fake.user("Алиса"), fake.text_channel(fake.guild())
        asked = fake.slash_command(alice, channel, "imagine", {"prompt": "маяк на скале"})
        fake.dispatch(asked)
        await fake.wait_for(lambda: (m := fake.original(asked)) and m.content.startswith("⏳"), timeout=10)
        await asyncio.sleep(0.3)  # the frontend remembers its status message
        run_worker()  # blocks this loop (and so the fake) for a moment; the bot process just waits
        picture = await fake.wait_for_message(channel["id"], lambda m: m.files, timeout=30)
        assert Image.open(io.BytesIO(picture.files[0].data)).format == "PNG"
        assert picture.via == "followup" and picture.content.startswith("🎨 маяк на скале")
        helped = fake.slash_command(alice, channel, "help", locale="en-US")
        fake.dispatch(helped)
        answer = await fake.wait_for(lambda: (m := fake.original(helped)) and not m.loading and m, timeout=10)
        assert answer.content == t("discord_help", "en")
    finally:
        code = await asyncio.to_thread(bot.stop)
    assert code == 0, bot.log
    assert "Telegram" not in bot.log
    assert fake.token not in bot.log and asked["token"] not in bot.log


async def test_telegram_and_discord_run_together(fake, redis_url, tmp_path):
    async with FakeTelegramAPI() as telegram:
        env = {
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_URL": fake.base_url,
            "TELEGRAM_BOT_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.base_url,
            "REDIS_URL": redis_url,
        }
        bot = ManagedProcess(["-m", "bot"], env, cwd=tmp_path, log_path=tmp_path / "bot.log")
        try:
            await telegram.wait_for_call("setMyCommands", timeout=30)
            await fake.wait_for(lambda: fake.gateway_sessions, timeout=30, what="the bot on the gateway")
        finally:
            code = await asyncio.to_thread(bot.stop)
    assert code == 0, bot.log


async def test_a_token_discord_rejects_stops_the_bot_with_one_clear_line(fake, redis_url, tmp_path):
    wrong = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gwrong.this-token-is-not-known-to-discord"
    env = {"DISCORD_TOKEN": wrong, "DISCORD_API_URL": fake.base_url, "REDIS_URL": redis_url}
    result = await run_command(["-m", "bot"], env, tmp_path)
    assert result.returncode == 2, result.stdout
    assert result.stdout.strip().splitlines()[-1] == (
        "Configuration error: DISCORD_TOKEN: Discord rejected this token (Unauthorized)"
    )
    assert "not-known" not in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "variable"),
    [
        (["-m", "bot"], {"DISCORD_TOKEN": "Bot not-a-secret-discord-token"}, "DISCORD_TOKEN"),
        (["-m", "bot", "sync-commands"], {}, "DISCORD_TOKEN"),
    ],
    ids=["malformed-token", "sync-without-token"],
)
def test_discord_settings_errors_are_one_line(args, env, variable, tmp_path):
    scrubbed = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_"))}
    result = subprocess.run(
        [sys.executable, *args],
        env={**scrubbed, "PYTHONPATH": str(REPO), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"Configuration error: {variable}")
    assert "not-a-secret" not in result.stderr
