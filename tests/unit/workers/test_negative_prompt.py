"""``--no`` on a model that paints without classifier-free guidance (SDXL-Turbo at guidance 0): diffusers drops the
negative prompt without a word, so the picture's caption says so.

End to end in one process: the shared handlers queue the request on a real Redis, the real worker paints it with
the tiny preset (set up as guidance-free through its ``molbert.json``, as SDXL-Turbo is by name), and the result
listener delivers the picture with the caption every platform shows.
"""

from __future__ import annotations

import json

import pytest

from bot.queue import RedisJobs
from bot.results import ResultListener
from core.protocol import ChatRef
from handlers.styles import find_style
from handlers.texts import t
from models import presets
from models.generator import DEFAULTS_FILE
from models.tiny import build_tiny_generator
from tests.factories import make_molbert, work_until_empty
from tests.memory import MemoryOutbox, SentMessage
from tests.unit.bot.test_results import Running, wait_until


@pytest.fixture(scope="module")
def guidance_free_models(tmp_path_factory, model_cache_dir):
    """The tiny preset with its generator told to run at guidance 0, as SDXL-Turbo does (``MODEL_GENERATOR``)."""
    path = build_tiny_generator(tmp_path_factory.mktemp("guidance-free") / "generator")
    sidecar = path / DEFAULTS_FILE
    defaults = json.loads(sidecar.read_text(encoding="utf-8"))
    sidecar.write_text(json.dumps({**defaults, "call_kwargs": {"guidance_scale": 0.0}}), encoding="utf-8")
    return presets.load_models("tiny", model_cache_dir, device="cpu", generator=str(path))


async def painted(models, redis_conn, aredis, text: str, platform: str = "telegram", lang: str = "ru") -> SentMessage:
    """Ask for ``/imagine <text>`` through the shared handlers and return the picture the chat gets."""
    outbox = MemoryOutbox()
    chat = ChatRef(platform=platform, chat_id=5, user_id=5, message_id=1, lang=lang)
    assert await make_molbert(RedisJobs(redis_conn)).imagine(chat, text, outbox) is not None
    work_until_empty(models, redis_conn)
    listener = ResultListener(aredis, platform, outbox, consumer="test", block_ms=50)
    async with Running(listener):
        await wait_until(lambda: any(message.photo for message in outbox.sent), timeout=30)
    return next(message for message in outbox.sent if message.photo)


@pytest.mark.parametrize(("platform", "lang"), [("telegram", "ru"), ("discord", "en"), ("console", "ru")])
async def test_a_guidance_free_model_says_in_the_caption_that_no_was_not_used(
    guidance_free_models, redis_conn, aredis, platform, lang
):
    picture = await painted(guidance_free_models, redis_conn, aredis, "маяк на скале --no люди", platform, lang)
    note = t("negative_ignored", lang, platform=platform)
    assert picture.text.endswith("\n" + note)
    assert "--no люди" in picture.text  # the reproducing line still shows what was asked
    assert ("negative" in note) == (platform == "discord")  # Discord's users type it into the negative field


async def test_a_guided_model_reads_no_and_says_nothing(tiny_models, redis_conn, aredis):
    tiny_models.generator.generate("маяк", seed=1, negative_prompt="люди")
    assert tiny_models.generator.negative_heeded is True  # Stable Diffusion's own guidance_scale, 7.5
    picture = await painted(tiny_models, redis_conn, aredis, "маяк на скале --no люди")
    assert t("negative_ignored", "ru") not in picture.text
    assert "ℹ️" not in picture.text


async def test_a_styles_own_negative_words_are_not_the_users_to_be_told_about(guidance_free_models, redis_conn, aredis):
    assert find_style("акварель").negative
    picture = await painted(guidance_free_models, redis_conn, aredis, "маяк на скале --style акварель")
    assert "ℹ️" not in picture.text
