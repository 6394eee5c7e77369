"""✨ Prompt enhancement in the use cases: ``--enhance`` / ``--улучшить``, the ``/settings`` row, the ✨ button and
what a result painted from an enhanced description (or from the words as typed, after a fallback) shows."""

from __future__ import annotations

from functools import partial

import pytest

from core.protocol import ChatRef, GenerateJob, ResultEvent, job_id_for
from handlers import chat_settings
from handlers.buttons import ENHANCE, parse_action, result_keyboard
from handlers.chat_settings import ChatSettings, MemoryChatSettings, main_menu
from handlers.delivery import deliver_result, enhanced_in_full, render_caption
from handlers.errors import UserError
from handlers.options import command_line, parse_imagine
from handlers.ports import ACTION_MAX_BYTES, CAPTION_MAX_CHARS
from handlers.texts import t
from tests import factories, images
from tests.factories import make_molbert
from tests.memory import MemoryJobs, MemoryOutbox

chat = partial(factories.chat, platform="memory")
DESCRIPTION = "Рыжий кот дремлет на подоконнике, мягкий утренний свет, акварель."


# --- the option ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["кот --enhance", "кот --улучшить", "кот —улучшить", "кот --ar 16:9 --улучши"])
def test_enhance_is_a_flag_in_either_language(text):
    request = parse_imagine(text)
    assert request.prompt == "кот" and request.enhance


def test_without_the_flag_nothing_is_enhanced():
    assert not parse_imagine("кот --ar 16:9").enhance


def test_a_value_after_the_flag_is_refused_with_an_example():
    with pytest.raises(UserError) as err:
        parse_imagine("кот --улучшить пожалуйста")
    assert err.value.key == "option_flag_value" and err.value.values["option"] == "--улучшить"
    assert "/imagine кот --улучшить" in t(err.value.key, "ru", **err.value.values)


def test_the_flag_twice_is_refused():
    with pytest.raises(UserError) as err:
        parse_imagine("кот --enhance --улучшить")
    assert err.value.key == "option_twice"


def test_a_platforms_own_switch_sets_it_and_false_does_not():
    assert parse_imagine("кот", {"enhance": True}).enhance
    assert not parse_imagine("кот", {"enhance": False}).enhance


def test_the_reproducing_line_never_says_enhance():
    job = GenerateJob(chat=chat(), prompt=DESCRIPTION, seed=4, enhance=True)
    assert command_line(job) == f"/imagine {DESCRIPTION} --seed 4"


# --- /settings ---------------------------------------------------------------------------------------------------


def test_the_settings_row_offers_off_ask_and_always_in_both_languages():
    assert chat_settings.CHOICES["enhance"] == ("off", "ask", "always")
    assert ChatSettings().enhance == "off"
    for lang in ("ru", "en"):
        menu = main_menu(ChatSettings(enhance="always"), lang)
        assert f"{t('settings_enhance', lang)}: {t('settings_enhance_always', lang)}" in menu.text
        assert any(button.action == "cs:enhance" for row in menu.buttons for button in row)
    assert chat_settings.parse_action("cs:enhance:ask") == chat_settings.MenuAction("enhance", "ask")
    assert chat_settings.parse_action("cs:enhance:sometimes") is None


@pytest.fixture
def store() -> MemoryChatSettings:
    return MemoryChatSettings()


async def queued(store, text: str, enhance: str) -> GenerateJob:
    jobs = MemoryJobs()
    molbert = make_molbert(jobs, settings=store)
    await store.save(chat(), "enhance", enhance)
    return jobs.jobs[await molbert.imagine(chat(), text, MemoryOutbox())]


async def test_always_enhances_every_imagine(store):
    job = await queued(store, "кот", "always")
    assert job.enhance and not job.enhance_hint


async def test_ask_leaves_the_words_and_offers_the_button(store):
    job = await queued(store, "кот", "ask")
    assert not job.enhance and job.enhance_hint
    assert (await queued(store, "кот --enhance", "ask")).enhance_hint is False  # asked already


async def test_off_enhances_only_when_asked(store):
    assert not (await queued(store, "кот", "off")).enhance
    assert (await queued(store, "кот --улучшить", "off")).enhance


# --- the ✨ button --------------------------------------------------------------------------------------------


def test_the_enhance_action_parses_and_fits():
    action = f"{ENHANCE}:{'j' * 60}"
    assert len(action.encode()) <= ACTION_MAX_BYTES
    parsed = parse_action(action)
    assert parsed is not None and parsed.verb == ENHANCE and parsed.job_id == "j" * 60
    assert parse_action("e:") is None and parse_action("e:a:b") is None


def test_the_button_sits_beside_reroll_and_remix():
    assert [[b.text for b in row] for row in result_keyboard("j1", 1, enhance=True)][-1] == ["🔄", "🖋", "✨"]
    assert result_keyboard("j1", 1, enhance=True)[-1][-1].action == "e:j1"
    assert [b.text for b in result_keyboard("j1", 1)[-1]] == ["🔄", "🖋"]


async def test_pressing_it_repaints_the_same_request_and_seed_from_a_description():
    jobs, outbox = MemoryJobs(), MemoryOutbox()
    molbert = make_molbert(jobs)
    job_id = await molbert.imagine(chat(1), "кот --style акварель --seed 12", outbox)
    presser = ChatRef(platform="memory", chat_id=42, user_id=7, message_id=500)
    notice = await molbert.press(presser, f"e:{job_id}", "press-1", outbox)
    assert notice == t("button_accepted", "ru")
    enhanced = jobs.jobs[job_id_for(presser, "enhance", "press-1")]
    original = jobs.jobs[job_id]
    assert enhanced.enhance and enhanced.seed == 12 and enhanced.prompt == "кот" and enhanced.style == "акварель"
    assert enhanced.model_copy(update={"enhance": False, "chat": original.chat}) == original


async def test_someone_elses_button_is_refused():
    jobs, outbox = MemoryJobs(), MemoryOutbox()
    molbert = make_molbert(jobs)
    job_id = await molbert.imagine(chat(1), "кот", outbox)
    stranger = ChatRef(platform="memory", chat_id=42, user_id=99, message_id=500)
    assert await molbert.press(stranger, f"e:{job_id}", "press-2", outbox) == t("button_not_yours", "ru")
    assert len(jobs.jobs) == 1


# --- the result ----------------------------------------------------------------------------------------------


def result(job: GenerateJob, **fields) -> ResultEvent:
    return ResultEvent(job_id="j1", kind="imagine", chat=job.chat, generation=job, model="tiny", seconds=1.0, **fields)


def test_an_enhanced_caption_shows_the_description_its_line_and_the_words_it_came_from():
    event = result(GenerateJob(chat=chat(), prompt=DESCRIPTION, seed=3), enhanced_from="кот")
    caption = render_caption(event)
    assert caption.startswith(f"🎨 {DESCRIPTION}\n")
    assert f"/imagine {DESCRIPTION} --seed 3" in caption
    assert caption.endswith("\n" + t("enhanced_from", "ru", prompt="кот"))
    assert enhanced_in_full(event) is None


@pytest.mark.parametrize("why", ["failed", "timeout", "unusable", "blocked", "off"])
def test_a_fallback_is_said_with_its_reason(why):
    caption = render_caption(result(GenerateJob(chat=chat(), prompt="кот", seed=3, enhance=True), enhance_failed=why))
    assert caption.endswith(t("enhance_fallback", "ru", why=t(f"enhance_why_{why}", "ru")))
    assert "/imagine кот --seed 3" in caption
    english = render_caption(result(GenerateJob(chat=chat(lang="en"), prompt="cat", seed=3), enhance_failed=why))
    assert t(f"enhance_why_{why}", "en") in english


def test_ask_puts_a_hint_under_a_result_painted_from_the_words():
    caption = render_caption(result(GenerateJob(chat=chat(), prompt="кот", seed=3, enhance_hint=True)))
    assert caption.endswith("\n" + t("enhance_hint", "ru"))
    enhanced = result(GenerateJob(chat=chat(), prompt=DESCRIPTION, seed=3, enhance_hint=True), enhanced_from="кот")
    assert t("enhance_hint", "ru") not in render_caption(enhanced)


async def test_a_description_the_caption_cannot_hold_whole_comes_in_a_message_of_its_own():
    long = ("Рыжий кот дремлет на подоконнике в мягком утреннем свете, " * 12).strip()
    job = GenerateJob(chat=chat(), prompt=long, seed=3, negative="люди, " * 50)
    event = result(job, enhanced_from="кот", image_keys=["k0"])
    outbox = MemoryOutbox()
    await deliver_result(event, [images.png()], None, outbox)
    photo, extra = outbox.sent
    assert len(photo.text) <= CAPTION_MAX_CHARS and command_line(job) not in photo.text
    assert extra.text == t("enhanced_full", "ru", command=command_line(job))
    assert [b.text for b in photo.buttons[-1]] == [
        "🔄",
        "🖋",
        "👍",
        "👎",
    ]  # no ✨ under a picture painted from a description


async def test_a_result_painted_from_the_words_gets_the_button():
    outbox = MemoryOutbox()
    await deliver_result(
        result(GenerateJob(chat=chat(), prompt="кот", seed=3), image_keys=["k0"]), [b"x"], None, outbox
    )
    assert "e:j1" in [button.action for button in outbox.sent[-1].buttons[-1]]  # ✨ beside 🔄 🖋 (then 👍 👎)
