"""Discord's 🖋: the button under a result opens a modal with the description and options filled in, and its
submission queues the remixed request (the bot cannot read replies: no message content intent). In process
against the fake Discord and a real Redis; the fixtures are those of ``tests/unit/bot/test_discord.py``."""

from __future__ import annotations

import pytest

from core.protocol import GENERATE_QUEUE, GenerateJob
from handlers.buttons import result_keyboard
from handlers.texts import t
from tests.fakes.discord_api import MODAL
from tests.unit.bot.test_discord import dispatch, job_payload, keyboard_components, queued, shown_queued, until

pytest_plugins = ["tests.unit.bot.test_discord"]
pytestmark = pytest.mark.usefixtures("no_progress_reports")


async def painted(fake, world, bot, aredis, prompt: str) -> tuple[str, object]:
    """A request queued through /imagine, and a result message under it with its buttons (as the listener posts)."""
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": prompt})
    dispatch(bot, payload)
    await shown_queued(fake, aredis, payload)
    job_id = f"discord-imagine-{payload['channel_id']}-{payload['id']}"
    result = fake.user_message(world["channel"], fake.bot_user, "🎨")
    result.components = keyboard_components(result_keyboard(job_id, 1))
    return job_id, result


async def test_the_pen_opens_a_filled_modal_whose_submission_remixes(fake, world, bot, redis_conn, aredis):
    job_id, result = await painted(fake, world, bot, aredis, "кот в шляпе --ar 16:9 --seed 5")
    press = fake.press_button(world["alice"], result, f"m:{job_id}")
    dispatch(bot, press)
    modal = await fake.wait_for(lambda: fake.interaction(press).modal, what="the modal")
    await until(lambda: modal["custom_id"] in bot._connection._view_store._modals)
    assert fake.interaction(press).response_type == MODAL
    assert modal["title"] == t("discord_remix_modal_title", "ru")
    fields = {field["component"]["custom_id"]: field["component"] for field in modal["components"]}
    assert fields["description"]["value"] == "кот в шляпе"
    assert fields["options"]["value"] == "--ar 16:9 --seed 5"

    submit = fake.submit_modal(press, {"description": "а без шляпы", "options": "--ar 9:16 --seed 5"})
    dispatch(bot, submit)
    status = await fake.wait_for(lambda: (m := fake.original(submit)) and not m.loading and m, what="the status")
    assert status.content.startswith("⏳")
    remix_id = f"discord-remix-{submit['channel_id']}-{submit['id']}"
    assert remix_id in queued(redis_conn, GENERATE_QUEUE)
    job = GenerateJob.model_validate(job_payload(redis_conn, remix_id))
    assert (job.prompt, job.negative, job.aspect, job.seed) == ("кот в шляпе", "шляпа", (9, 16), 5)


async def test_someone_else_s_pen_gets_a_notice_not_a_modal(fake, world, bot, redis_conn, aredis):
    job_id, result = await painted(fake, world, bot, aredis, "кот")
    press = fake.press_button(world["bob"], result, f"m:{job_id}")
    dispatch(bot, press)
    answer = await fake.wait_for(lambda: fake.interaction(press).original and fake.original(press))
    assert answer.ephemeral and answer.content == t("button_not_yours", "ru")
    assert fake.interaction(press).modal is None
    assert queued(redis_conn, GENERATE_QUEUE) == [job_id]
