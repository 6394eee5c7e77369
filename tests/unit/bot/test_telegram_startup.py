"""The Telegram frontend's start (``run_telegram``): it waits for a Telegram that is unreachable or failing and
comes up with it, and a token Telegram rejects is a configuration error at once, without the token in it."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from bot.config import TelegramSettings
from bot.telegram import app, retry
from bot.telegram.app import run_telegram
from core.config import ConfigError
from tests.factories import make_molbert
from tests.fakes.telegram_api import FakeTelegramAPI

FAST = (0.05, 0.2)  # the waits, shortened: the same back-off, in test time


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """Both layers of waiting (TelegramRetry's per-call retries and introduce's rounds) in fractions of a second."""
    monkeypatch.setattr(retry, "BACKOFF", (0.01, 0.01, 0.01))
    monkeypatch.setattr(app, "INTRODUCE_DELAYS", FAST)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def start_frontend(settings: TelegramSettings, aredis) -> asyncio.Task:
    return asyncio.create_task(run_telegram(settings, make_molbert(), aredis, consumer="startup-test"))


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_the_frontend_waits_for_an_unreachable_telegram_and_starts_when_it_answers(aredis, caplog):
    port = free_port()
    settings = TelegramSettings(bot_token=FakeTelegramAPI().token, api_url=f"http://127.0.0.1:{port}")
    frontend = await start_frontend(settings, aredis)
    fake = FakeTelegramAPI()
    try:
        await asyncio.sleep(1.0)  # nothing listens: several rounds of getMe are refused
        assert not frontend.done(), "the frontend gave up while Telegram was unreachable"
        assert "cannot reach Telegram" in caplog.text
        await fake.start(port=port)
        await fake.wait_for_call("getUpdates", timeout=10)  # introduced itself, then started polling
        assert fake.calls_to("getMe"), "getMe was asked once Telegram answered"
        assert not frontend.done()
    finally:
        await stop(frontend)
        await fake.stop()


async def test_the_frontend_waits_out_telegram_server_errors(aredis):
    async with FakeTelegramAPI() as fake:
        fake.fail_next("getMe", status=502, times=9)  # more than one round of TelegramRetry's attempts
        frontend = await start_frontend(TelegramSettings(bot_token=fake.token, api_url=fake.base_url), aredis)
        try:
            await fake.wait_for_call("getUpdates", timeout=10)
            assert len(fake.calls_to("getMe")) >= 10  # 9 refused, then answered (polling asks once more)
            assert not frontend.done()
        finally:
            await stop(frontend)


async def test_a_rejected_token_is_a_configuration_error_at_once_without_the_token(aredis):
    wrong = "987654321:AAWrong-Token_Nobody-Should-See-In-Logs"
    async with FakeTelegramAPI() as fake:  # answers 401 Unauthorized to any other token
        started = time.monotonic()
        with pytest.raises(ConfigError) as raised:
            await run_telegram(TelegramSettings(bot_token=wrong, api_url=fake.base_url), make_molbert(), aredis, "t")
    assert time.monotonic() - started < 2, "a rejected token is not retried"
    message = str(raised.value)
    assert message.startswith("Configuration error: TELEGRAM_BOT_TOKEN:") and "Unauthorized" in message
    assert wrong not in message and wrong.split(":")[1] not in message


def test_each_dispatcher_gets_feature_routers_of_its_own():
    """aiogram attaches a router to one dispatcher only: a second dispatcher in the same process (a frontend
    restarted in place, a test after another) builds new routers instead of failing on the first one's."""
    first, second = app.create_dispatcher(), app.create_dispatcher()
    names = [router.name for router in first.sub_routers]
    assert names == [router.name for router in second.sub_routers]
    assert names[0].endswith("basics") and names[-1].endswith("fallback"), "the catch-all is tried last"
    assert not {id(router) for router in first.sub_routers} & {id(router) for router in second.sub_routers}
