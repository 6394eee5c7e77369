"""⤴ on Discord (#20): a one-picture result carries live ⤴ ×2 / ×4 buttons; a press is answered to the presser
alone, the real worker enlarges the picture with the tiny RRDBNet and the channel gets it exactly twice the size,
as one attachment (Discord does not recompress it; its outbox fits the server's upload limit)."""

from __future__ import annotations

import io

from PIL import Image

from handlers.texts import t
from tests.unit.bot.test_discord import (  # noqa: F401 (fixtures)
    bot,
    dispatch,
    fake,
    run_worker,
    shown_queued,
    start_bot,
    world,
)


def size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size


async def test_enlarge_x2_on_discord_gives_the_picture_twice_the_size(fake, world, bot, run_worker, aredis):  # noqa: F811
    payload = fake.slash_command(world["alice"], world["channel"], "imagine", {"prompt": "кот --n 1 --steps 1"})
    dispatch(bot, payload)
    await shown_queued(fake, aredis, payload)
    run_worker()
    picture = await fake.wait_for_message(world["channel"]["id"], lambda m: m.files, timeout=30)
    enlarge = next(
        custom_id for custom_id in picture.custom_ids if custom_id.startswith("s:") and custom_id.endswith(":2")
    )
    press = fake.press_button(world["alice"], picture, enlarge)
    dispatch(bot, press)
    answer = await fake.wait_for(lambda: fake.interaction(press).original and fake.original(press))
    assert answer.ephemeral and answer.content == t("button_accepted", "ru")
    await fake.wait_for_message(world["channel"]["id"], lambda m: m.via == "channel" and "⏳" in m.content)  # queued
    run_worker()
    enlarged = await fake.wait_for_message(
        world["channel"]["id"], lambda m: m.files and m.id != picture.id and "×2" in m.content, timeout=60
    )
    width, height = size(picture.files[0].data)
    assert size(enlarged.files[0].data) == (width * 2, height * 2) and len(enlarged.files) == 1
    assert not enlarged.custom_ids  # an enlarged picture is not enlarged again
