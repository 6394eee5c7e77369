"""Discord's few-shot chat classes: ``/teach name: image1…image10``, ``/classes`` and ``/forget_class``, in
process against the fake Discord and a real Redis, the result made by the real worker on the tiny models.
The fixtures are those of ``tests/unit/bot/test_discord.py``."""

from __future__ import annotations

import pytest

from bot.config import DiscordSettings
from bot.discord.app import sync_commands
from core.keys import status_message_key, teach_input_key
from core.protocol import CLASSIFY_QUEUE, MAX_TEACH_PHOTOS, TeachJob
from handlers.texts import t
from tests import images
from tests.unit.bot.test_discord import chat_ref_of, dispatch, job_payload, queued, until_async

pytest_plugins = ["tests.unit.bot.test_discord"]
pytestmark = pytest.mark.usefixtures("no_progress_reports")

RED = [(220, 30, 30), (210, 25, 35), (230, 40, 20)]


async def answered(fake, payload, contains: str = ""):
    """The filled original response of an interaction (once it contains ``contains``)."""
    return await fake.wait_for(
        lambda: (m := fake.original(payload)) and not m.loading and contains in m.content and m,
        what="the answer",
        timeout=30,
    )


def red_pictures(fake, channel) -> dict:
    return {
        f"image{n + 1}": fake.upload(channel, images.png(50, 50, color), f"{n + 1}.png", "image/png")
        for n, color in enumerate(RED)
    }


async def test_the_commands_are_synced_with_ten_picture_options(fake):
    await sync_commands(DiscordSettings(token=fake.token, api_url=fake.base_url))
    commands = {c["name"]: c for c in fake.commands["global"] if c.get("type", 1) == 1}
    teach = commands["teach"]
    assert teach["description"] == t("discord_cmd_teach", "ru")
    assert teach["description_localizations"]["en-US"] == t("discord_cmd_teach", "en")
    options = [(o["name"], o["type"], o.get("required", False)) for o in teach["options"]]
    assert options == [("name", 3, True), ("image1", 11, True)] + [
        (f"image{n}", 11, False) for n in range(2, MAX_TEACH_PHOTOS + 1)
    ]
    assert [o["name"] for o in commands["forget_class"]["options"]] == ["name"]
    assert commands["classes"]["description"] == t("discord_cmd_classes", "ru")


async def test_a_manager_teaches_a_class_then_a_picture_is_recognised_listed_and_forgotten(
    fake, world, bot, run_worker, redis_conn, aredis
):
    guild, channel, alice = world["guild"], world["channel"], world["alice"]
    fake.grant_manage_guild(guild, alice)
    payload = fake.slash_command(alice, channel, "teach", {"name": "Мурка", **red_pictures(fake, channel)})
    dispatch(bot, payload)
    await answered(fake, payload, "⏳")
    job_id = f"discord-teach-{payload['channel_id']}-{payload['id']}"
    assert queued(redis_conn, CLASSIFY_QUEUE) == [job_id]
    job = TeachJob.model_validate(job_payload(redis_conn, job_id))
    assert (job.name, job.image_keys) == ("Мурка", [teach_input_key(job_id, n) for n in range(3)])
    await until_async(lambda: aredis.exists(status_message_key(job_id)))
    run_worker()
    await answered(fake, payload, t("teach_done", "ru", name="Мурка", count=3))
    [taught] = await bot.molbert.classes.classes(chat_ref_of(bot, payload))
    assert (taught.name, taught.shots) == ("Мурка", 3)
    assert not redis_conn.exists(*job.image_keys), "the photos are not kept"

    picture = fake.upload(channel, images.png(60, 60, (235, 30, 25)), "new.png", "image/png")
    classify = fake.slash_command(world["bob"], channel, "classify", {"image": picture})
    dispatch(bot, classify)
    await answered(fake, classify, "⏳")
    await until_async(lambda: aredis.exists(status_message_key(f"discord-classify-{channel['id']}-{classify['id']}")))
    run_worker()
    answer = await answered(fake, classify, "%")
    assert "% Мурка 🎓" in answer.content.splitlines()[1]

    listed = fake.slash_command(world["bob"], channel, "classes", {})
    dispatch(bot, listed)
    assert "• Мурка — 3 фото" in (await answered(fake, listed, "Мурка")).content
    refused = fake.slash_command(world["bob"], channel, "forget_class", {"name": "Мурка"})
    dispatch(bot, refused)
    assert (await answered(fake, refused)).content == t("teach_admins_only", "ru", platform="discord")
    forgot = fake.slash_command(alice, channel, "forget_class", {"name": "мурка"})
    dispatch(bot, forgot)
    assert (await answered(fake, forgot)).content == t("forget_class_done", "ru", name="мурка")
    assert await bot.molbert.classes.classes(chat_ref_of(bot, payload)) == []


@pytest.mark.parametrize(
    ("name", "manager", "second", "expected"),
    [
        ("Мурка", False, None, t("teach_admins_only", "ru", platform="discord")),
        (" \u200b ", True, None, t("teach_no_name", "ru")),
        (
            "Мурка",
            True,
            (images.PDF, "doc.pdf", "application/pdf"),
            t("document_not_image", "ru", mime="application/pdf"),
        ),
        ("Мурка", True, (b"\x00" * 64, "broken.png", "image/png"), t("image_unreadable", "ru")),
    ],
    ids=["not-a-manager", "an-invisible-name", "a-pdf", "an-unreadable-picture"],
)
async def test_bad_teach_input_is_explained_and_queues_nothing(
    fake, world, bot, redis_conn, name, manager, second, expected
):
    channel, alice = world["channel"], world["alice"]
    if manager:
        fake.grant_manage_guild(world["guild"], alice)
    options = {"name": name, "image1": fake.upload(channel, images.png(30, 30), "1.png", "image/png")}
    if second is not None:
        options["image2"] = fake.upload(channel, *second)
    payload = fake.slash_command(alice, channel, "teach", options)
    dispatch(bot, payload)
    assert (await answered(fake, payload)).content == expected
    assert queued(redis_conn, CLASSIFY_QUEUE) == []
    assert not redis_conn.keys("molbert:teach-input:*"), "no picture was stored"
