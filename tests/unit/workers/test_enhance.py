"""✨ ``--enhance`` through the worker: the shared handlers queue the request on a real Redis, the real worker asks
the prompt writer (the tiny preset's random Qwen2, or one trained here to answer one description) before painting,
and the result listener delivers the picture with the caption every platform shows."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bot.queue import RedisJobs
from bot.results import ResultListener
from core.blocklist import PromptBlocklist
from core.protocol import ChatRef
from handlers.texts import t
from models.prompt_writer import SYSTEM_PROMPT, LazyPromptWriter, PromptWriter
from models.tiny_families import build_tiny_prompt_writer
from tests.factories import make_molbert, work_until_empty
from tests.memory import MemoryOutbox, SentMessage
from tests.unit.bot.test_results import Running, wait_until
from workers import runtime

DESCRIPTION = "Рыжий кот дремлет на подоконнике, мягкий утренний свет, акварель."
CHAT = ChatRef(platform="telegram", chat_id=5, user_id=5, message_id=1, lang="ru")


async def delivered(models, redis_conn, aredis, text: str, chat: ChatRef = CHAT) -> list[SentMessage]:
    """Ask for ``/imagine <text>`` through the shared handlers; what the chat gets once the picture is there."""
    outbox = MemoryOutbox()
    assert await make_molbert(RedisJobs(redis_conn)).imagine(chat, text, outbox) is not None
    work_until_empty(models, redis_conn, keep_models=True)
    listener = ResultListener(aredis, chat.platform, outbox, consumer="test", block_ms=50)
    async with Running(listener):
        await wait_until(lambda: any(message.photo for message in outbox.sent), timeout=60)
    return outbox.sent


def picture(sent: list[SentMessage]) -> SentMessage:
    return next(message for message in sent if message.photo)


@pytest.fixture(scope="module")
def trained_writer_dir(tmp_path_factory):
    """A tiny Qwen2 (the preset's class and tokenizer) trained to answer «кот» with ``DESCRIPTION``, saved in the
    production layout: a real model that writes a usable description, loaded through the production loader."""
    path = build_tiny_prompt_writer(tmp_path_factory.mktemp("trained") / "writer")
    writer = PromptWriter.from_pretrained(str(path))
    tokenizer, model = writer.tokenizer, writer.model
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "кот"}]
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]
    answer = tokenizer(DESCRIPTION + "<|im_end|>", add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prompt + answer])
    labels = ids.clone()
    labels[0, : len(prompt)] = -100
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # ~25 s on one core; several threads on a shared machine take minutes
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for _ in range(400):
                loss = model(input_ids=ids, labels=labels).loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if loss.item() < 0.005:  # near-certain next tokens: sampling at 0.7 repeats the description
                    break
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(path)
    return path


@pytest.fixture
def trained_models(tiny_models, trained_writer_dir):
    """The tiny preset with the trained writer in place of its random one."""
    writer = PromptWriter.from_pretrained(str(trained_writer_dir), timeout=120)
    yield dataclasses.replace(tiny_models, prompt_writer=LazyPromptWriter(writer.name, lambda: writer))
    runtime.set_blocklist(None)
    runtime.set_models(None)


@pytest.fixture
def tiny(tiny_models):
    yield tiny_models
    runtime.set_models(None)


async def test_the_tiny_writers_random_answer_paints_the_words_as_typed_and_says_so(tiny, redis_conn, aredis):
    sent = await delivered(tiny, redis_conn, aredis, "кот --enhance --seed 3")
    caption = picture(sent).text
    assert caption.startswith("🎨 кот\n")
    assert "/imagine кот --seed 3" in caption  # no --enhance: the line repeats the picture
    why = t("enhance_why_unusable", "ru")
    assert caption.endswith("\n" + t("enhance_fallback", "ru", why=why))
    assert [b.text for b in picture(sent).buttons[-1]] == ["🔄", "🖋", "✨", "👍", "👎"]  # ✨ may try again


async def test_a_usable_description_is_painted_shown_and_kept_for_the_buttons(trained_models, redis_conn, aredis):
    sent = await delivered(trained_models, redis_conn, aredis, "кот --улучшить --style акварель --seed 9")
    message = picture(sent)
    assert message.text.startswith(f"🎨 {DESCRIPTION}\n")
    assert f"/imagine {DESCRIPTION} --style акварель --seed 9" in message.text
    assert message.text.endswith("\n" + t("enhanced_from", "ru", prompt="кот"))
    assert [b.text for b in message.buttons[-1]] == ["🔄", "🖋", "👍", "👎"]  # painted from a description: no ✨
    stored = await RedisJobs(redis_conn).load_generation(message.buttons[-1][0].action.split(":", 1)[1])
    assert stored is not None and stored.prompt == DESCRIPTION and not stored.enhance  # 🔄 and V repaint it
    assert stored.model_prompt.startswith(DESCRIPTION + ", ")  # the style's words still follow for the model


async def test_a_description_with_a_blocked_word_is_not_painted(trained_models, redis_conn, aredis):
    runtime.set_blocklist(PromptBlocklist.from_text("подоконник*"))
    message = picture(await delivered(trained_models, redis_conn, aredis, "кот --enhance"))
    assert message.text.startswith("🎨 кот\n")
    assert message.text.endswith(t("enhance_fallback", "ru", why=t("enhance_why_blocked", "ru")))


async def test_without_a_writer_the_words_are_painted_and_the_user_told(tiny, redis_conn, aredis):
    message = picture(
        await delivered(dataclasses.replace(tiny, prompt_writer=None), redis_conn, aredis, "кот --enhance")
    )
    assert message.text.endswith(t("enhance_fallback", "ru", why=t("enhance_why_off", "ru")))
