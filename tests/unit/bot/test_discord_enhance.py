"""Discord's ✨: the ``enhance`` switch of ``/imagine`` (and ``--enhance`` typed into the prompt) asks the worker for
an enhanced description, and the ✨ button under a result repaints it from one. In process against the fake Discord
and a real Redis with the real worker on the tiny models; the fixtures are those of ``tests/unit/bot/test_discord.py``.
"""

from __future__ import annotations

import pytest

from core.protocol import GENERATE_QUEUE, GenerateJob
from handlers.texts import t
from tests.unit.bot.test_discord import dispatch, job_payload, queued, shown_queued, until

pytest_plugins = ["tests.unit.bot.test_discord"]
pytestmark = pytest.mark.usefixtures("no_progress_reports")


@pytest.mark.parametrize("options", [{"prompt": "кот", "enhance": True}, {"prompt": "кот --улучшить"}])
async def test_the_switch_or_the_typed_flag_asks_for_an_enhanced_description(fake, world, bot, redis_conn, options):
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", options)
    dispatch(bot, payload)
    await fake.wait_for(lambda: (m := fake.original(payload)) and m.content.startswith("⏳"))
    job = GenerateJob.model_validate(
        job_payload(redis_conn, f"discord-imagine-{payload['channel_id']}-{payload['id']}")
    )
    assert job.prompt == "кот" and job.enhance


async def test_the_enhance_button_repaints_from_a_description(fake, world, bot, run_worker, redis_conn, aredis):
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот --seed 8"})
    dispatch(bot, payload)
    await shown_queued(fake, aredis, payload)
    run_worker()
    first = await fake.wait_for_message(world["channel"]["id"], lambda m: m.files, timeout=60)
    job_id = f"discord-imagine-{payload['channel_id']}-{payload['id']}"
    assert f"e:{job_id}" in first.custom_ids

    press = fake.press_button(world["alice"], first, f"e:{job_id}")
    dispatch(bot, press)
    await until(lambda: any(job != job_id for job in queued(redis_conn, GENERATE_QUEUE)), timeout=30)
    [enhanced_id] = [job for job in queued(redis_conn, GENERATE_QUEUE) if job != job_id]
    job = GenerateJob.model_validate(job_payload(redis_conn, enhanced_id))
    assert (job.prompt, job.seed, job.enhance) == ("кот", 8, True)
    run_worker()
    second = await fake.wait_for_message(world["channel"]["id"], lambda m: m.files and m is not first, timeout=60)
    # the tiny preset's random writer answers nothing usable: painted from the words, and the user is told
    assert "🎨 кот\n" in second.content  # (after a mention: the interaction's token expired while it painted)
    assert t("enhance_fallback", "ru", why=t("enhance_why_unusable", "ru")) in second.content
