"""Handlers with the in-memory adapter: parsing, validation, what the user is told, what gets queued."""

from __future__ import annotations

import io
from functools import partial

import pytest
from PIL import Image

from core.keys import image_key
from core.protocol import ChatRef, GenerateJob, ResultEvent, ScoredLabel, job_id_for
from handlers import chat_settings
from handlers import images as image_checks
from handlers.buttons import (
    STRONG,
    SUBTLE,
    VARY,
    VARY_STRENGTHS,
    Action,
    RepeatedPresses,
    parse_action,
    result_keyboard,
)
from handlers.delivery import deliver_result, render_caption, render_labels, render_progress
from handlers.errors import QueueUnavailable, UserError
from handlers.options import command_line
from handlers.ports import ACTION_MAX_BYTES, CAPTION_MAX_CHARS
from handlers.prompts import MAX_PROMPT_CHARS, clean_text, parse_labels, parse_prompt
from handlers.safety import PromptBlocklist
from handlers.service import Molbert
from handlers.texts import EN, RU, pick_language, t
from tests import factories, images
from tests.factories import make_molbert
from tests.memory import MemoryJobs

chat = partial(factories.chat, platform="memory")


@pytest.fixture
def molbert(jobs: MemoryJobs) -> Molbert:
    return make_molbert(jobs)


def downloader(data: bytes):
    async def download() -> bytes:
        return data

    return download


# --- parsing ---------------------------------------------------------------------------------------------


def test_clean_text_removes_invisible_and_control_characters():
    assert clean_text("  кот\u200b в\tкосмосе\x00\u202e ") == "кот в космосе"


FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦: four emoji joined by ZWJ
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # a flag of tag characters
RAINBOW_FLAG = "\U0001f3f3\ufe0f\u200d\U0001f308"


@pytest.mark.parametrize("emoji", [FAMILY, SCOTLAND, RAINBOW_FLAG, "1\ufe0f\u20e3"])
def test_clean_text_keeps_emoji_sequences_whole(emoji):
    assert clean_text(f"семья\u200b {emoji} на\u200d пикнике\u202e") == f"семья {emoji} на пикнике"


async def test_an_emoji_sequence_reaches_the_model_and_the_caption_whole(molbert, jobs, outbox):
    job = jobs.jobs[await molbert.imagine(chat(), f"семья {FAMILY} на пикнике --seed 3", outbox)]
    assert job.prompt == f"семья {FAMILY} на пикнике"
    caption = render_caption(ResultEvent(job_id="j", kind="imagine", chat=chat(), ok=True, generation=job))
    assert f"/imagine семья {FAMILY} на пикнике --seed 3" in caption


@pytest.mark.parametrize("text", [None, "", "   ", "\u200b\u200d", "\x00\x07"])
def test_empty_prompts_are_refused(text):
    with pytest.raises(UserError) as err:
        parse_prompt(text)
    assert err.value.key == "imagine_empty"


def test_long_prompt_is_refused_with_its_length():
    with pytest.raises(UserError) as err:
        parse_prompt("к" * 5000)
    assert err.value.key == "prompt_too_long"
    assert err.value.values == {"length": 5000, "limit": MAX_PROMPT_CHARS}


def test_labels_split_on_commas_semicolons_and_newlines_deduplicated():
    assert parse_labels("кошка, собака; медведь\nКошка,, ") == ["кошка", "собака", "медведь"]


def test_caption_without_labels_means_default_set():
    assert parse_labels(None) is None
    assert parse_labels(" , ;\n") is None


@pytest.mark.parametrize(
    "caption", ["что это?", "Что это за птица?", "What is this?", "кто на фото?", "Когда наконец-то " + "х" * 100]
)
def test_an_open_question_or_a_long_sentence_means_the_default_set(caption):
    assert parse_labels(caption) is None


@pytest.mark.parametrize(
    ("caption", "label"), [("это жираф?", "жираф"), ("кошка?", "кошка"), ("Is it a cat?", "cat"), ("жираф", "жираф")]
)
def test_a_yes_or_no_question_asks_about_its_label(caption, label):
    assert parse_labels(caption) == [label]


def test_a_list_keeps_its_long_label_refusal_and_drops_question_marks():
    assert parse_labels("кошка, собака?") == ["кошка", "собака"]
    with pytest.raises(UserError) as err:
        parse_labels("кошка, " + "б" * 90)
    assert err.value.key == "label_too_long"


def test_too_many_labels_are_refused():
    with pytest.raises(UserError) as err:
        parse_labels(",".join(f"метка {i}" for i in range(60)))
    assert err.value.key == "labels_too_many"


def test_job_id_is_derived_from_the_event_and_safe_for_rq():
    group = ChatRef(platform="telegram", chat_id=-100123, user_id=1, message_id=77)
    assert job_id_for(group, "imagine") == "telegram-imagine-m100123-77"
    assert job_id_for(group, "imagine") == job_id_for(group.model_copy(), "imagine")
    assert job_id_for(group, "imagine") != job_id_for(group.model_copy(update={"message_id": 78}), "imagine")


# --- images ----------------------------------------------------------------------------------------------


def test_normalize_image_returns_rgb_jpeg():
    out = Image.open(io.BytesIO(image_checks.normalize_image(images.png(64, 48))))
    assert (out.format, out.mode, out.size) == ("JPEG", "RGB", (64, 48))


def test_exif_orientation_is_applied():
    out = Image.open(io.BytesIO(image_checks.normalize_image(images.jpeg_rotated(80, 40))))
    assert out.size == (40, 80)


def test_animated_gif_uses_its_first_frame():
    out = Image.open(io.BytesIO(image_checks.normalize_image(images.animated_gif())))
    red, _green, blue = out.getpixel((16, 16))
    assert red > 200 and blue < 50


def test_animated_webp_uses_its_first_frame():
    out = Image.open(io.BytesIO(image_checks.normalize_image(images.animated_webp())))
    _red, green, blue = out.getpixel((16, 16))
    assert green > 200 and blue < 60


def test_large_images_are_scaled_down():
    out = Image.open(io.BytesIO(image_checks.normalize_image(images.png(3000, 1500))))
    assert max(out.size) == image_checks.MAX_SIDE


@pytest.mark.parametrize("image_format", ["HEIF", "AVIF"])
def test_iphone_heic_and_avif_photos_are_read(image_format):
    photo = Image.new("RGB", (64, 48), (200, 30, 30))
    data = io.BytesIO()
    if image_format == "HEIF":  # written by pillow-heif itself: Pillow is not told about HEIF here
        from pillow_heif import from_pillow

        from_pillow(photo).save(data)
    else:
        photo.save(data, format=image_format)
    out = Image.open(io.BytesIO(image_checks.normalize_image(data.getvalue())))
    assert (out.format, out.size) == ("JPEG", (64, 48))
    assert out.getpixel((32, 24))[0] > 150


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (images.png_bomb(), "image_too_many_pixels"),
        (images.truncated(images.png(256, 256)), "image_unreadable"),
        (b"not an image at all", "image_unreadable"),
        (images.SVG, "image_unsupported"),
        (images.PDF, "image_unreadable"),
    ],
    ids=["decompression-bomb", "truncated", "garbage", "svg", "pdf"],
)
def test_bad_images_are_refused(data, key):
    with pytest.raises(UserError) as err:
        image_checks.normalize_image(data)
    assert err.value.key == key


def test_files_over_the_download_limit_are_refused_before_download():
    with pytest.raises(UserError) as err:
        image_checks.check_download_size(25 * 2**20)
    assert err.value.key == "file_too_big"


# --- use cases -------------------------------------------------------------------------------------------


async def test_imagine_queues_a_job_and_says_so(molbert, jobs, outbox):
    job_id = await molbert.imagine(chat(), "  кот в космосе ", outbox)
    job = jobs.jobs[job_id]
    assert isinstance(job, GenerateJob)
    assert job.prompt == "кот в космосе"
    assert 0 <= job.seed < 2**31
    assert outbox.texts == [t("queued_next", "ru")]
    assert jobs.status_messages[job_id] == outbox.sent[0].message_id
    assert outbox.sent[0].quiet, "the result will replace the status: no notification for it"


async def test_second_job_is_told_its_position(molbert, outbox):
    await molbert.imagine(chat(1), "кот", outbox)
    await molbert.imagine(chat(2), "пёс", outbox)
    assert outbox.texts[-1] == t("queued", "ru", position=2)


async def test_repeated_event_makes_no_second_job(molbert, jobs, outbox):
    assert await molbert.imagine(chat(5), "кот", outbox) is not None
    assert await molbert.imagine(chat(5), "кот", outbox) is None
    assert len(jobs.jobs) == 1
    assert len(outbox.sent) == 1


@pytest.mark.parametrize("text", [None, "  ", "к" * 5000])
async def test_bad_prompt_is_answered_in_russian_and_queues_nothing(molbert, jobs, outbox, text):
    assert await molbert.imagine(chat(), text, outbox) is None
    assert jobs.jobs == {}
    assert len(outbox.texts) == 1
    assert any(word in outbox.texts[0] for word in ("Напишите", "слишком длинное"))


async def test_english_speakers_get_english(molbert, outbox):
    await molbert.imagine(chat(lang="en"), "", outbox)
    assert outbox.texts == [t("imagine_empty", "en")]


async def test_queue_down_is_explained(molbert, jobs, outbox):
    async def broken(job_id, job):
        raise QueueUnavailable("connection refused")

    jobs.submit_generate = broken
    assert await molbert.imagine(chat(), "кот", outbox) is None
    assert outbox.texts == [t("queue_unavailable", "ru")]


async def test_status_message_is_removed_when_the_result_came_first(molbert, jobs, outbox):
    jobs.delivered.add(job_id_for(chat(9), "imagine"))
    await molbert.imagine(chat(9), "кот", outbox)
    assert outbox.sent[0].deleted


async def test_photo_with_caption_labels_is_queued_with_them(molbert, jobs, outbox):
    job_id = await molbert.classify(chat(), downloader(images.png()), 1000, "кошка, собака, медведь", outbox)
    job = jobs.jobs[job_id]
    assert job.labels == ["кошка", "собака", "медведь"]
    assert Image.open(io.BytesIO(jobs.images[job.image_key])).format == "JPEG"


async def test_photo_without_caption_uses_default_labels(molbert, jobs, outbox):
    job_id = await molbert.classify(chat(), downloader(images.png()), None, None, outbox)
    assert jobs.jobs[job_id].labels is None


async def test_corrupt_photo_is_answered_and_not_queued(molbert, jobs, outbox):
    assert await molbert.classify(chat(), downloader(b"\x89PNG garbage"), 12, None, outbox) is None
    assert jobs.jobs == {}
    assert outbox.texts == [t("image_unreadable", "ru")]


async def test_huge_file_is_not_even_downloaded(molbert, jobs, outbox):
    async def must_not_download() -> bytes:
        raise AssertionError("downloaded a file over the limit")

    await molbert.classify(chat(), must_not_download, 21 * 2**20, None, outbox)
    assert jobs.jobs == {}
    assert "слишком большой" in outbox.texts[0]


# --- delivery --------------------------------------------------------------------------------------------


def event(**fields) -> ResultEvent:
    base = {"job_id": "j1", "kind": "classify", "chat": chat(), "ok": True}
    return ResultEvent(**{**base, **fields})


def test_labels_render_top5_with_percentages_and_bars():
    scores = [0.5, 0.2, 0.1, 0.08, 0.07, 0.05]
    labels = [ScoredLabel(label=f"метка{i}", score=s) for i, s in enumerate(scores)]
    text = render_labels(event(labels=labels))
    lines = text.splitlines()
    assert lines[0] == t("classify_header", "ru")
    assert len(lines) == 6
    assert lines[1] == "▰▰▰▰▰▱▱▱▱▱  50% метка0"
    assert "метка5" not in text


def test_a_low_best_score_is_admitted():
    spread = [ScoredLabel(label=f"метка{i}", score=0.004) for i in range(5)]
    assert render_labels(event(labels=spread, label_count=250)).startswith(t("classify_uncertain", "ru"))
    close_call = [ScoredLabel(label="кошка", score=0.4), ScoredLabel(label="собака", score=0.35)]
    assert render_labels(event(labels=close_call, label_count=3, user_labels=True)).startswith("🤔")
    clear = [ScoredLabel(label="кошка", score=0.8), ScoredLabel(label="собака", score=0.2)]
    assert render_labels(event(labels=clear, label_count=2, user_labels=True)).startswith("🔎")


def test_one_label_is_answered_yes_or_no():
    yes = [ScoredLabel(label="кошка", score=0.7), ScoredLabel(label="собака", score=0.1)]
    assert render_labels(event(labels=yes, question="кошка")) == "✅ Да, похоже на «кошка» (70%)."
    no = [ScoredLabel(label="трактор", score=0.6), ScoredLabel(label="кошка", score=0.1)]
    text = render_labels(event(labels=no, question="кошка", chat=chat(lang="en")))
    assert text == "❌ Probably not: it doesn't look much like «кошка». More like «трактор» (60%)."


async def test_classification_result_replaces_the_status_message(outbox):
    status = await outbox.send_text(chat(), "⏳")
    labels = [ScoredLabel(label="кошка", score=0.9), ScoredLabel(label="собака", score=0.1)]
    await deliver_result(event(labels=labels, user_labels=True), [], status, outbox)
    assert outbox.texts == [render_labels(event(labels=labels, user_labels=True))]


async def test_image_result_is_sent_with_buttons_and_status_deleted(outbox):
    status = await outbox.send_text(chat(), "⏳")
    job = GenerateJob(chat=chat(), prompt="кот", seed=5, aspect=(16, 9), style="аниме", num_images=2)
    result = event(kind="imagine", generation=job, model="tiny", seconds=1.25, image_keys=["k0", "k1"], grid_key="g")
    await deliver_result(result, [images.png()], status, outbox)
    photo = outbox.sent[-1]
    assert photo.photo == images.png()
    assert photo.text == "🎨 кот\n\nseed 5 · tiny · 1.2 с\n/imagine кот --ar 16:9 --style аниме --n 2 --seed 5"
    assert [[b.text for b in row] for row in photo.buttons] == [
        ["U1", "U2"],
        ["V1", "V2"],
        ["~1", "~2"],
        ["🔄", "🖋", "✨", "👍", "👎"],  # ✨ under words as typed; 👍/👎: handlers/feedback.py
    ]
    assert photo.buttons[1][1].action == "v:j1:1:h"  # strong
    assert photo.buttons[2][1].action == "v:j1:1:l"  # subtle
    assert outbox.by_id(status).deleted


async def test_a_model_that_cannot_vary_gets_no_v_buttons(outbox):
    job = GenerateJob(chat=chat(), prompt="кот", seed=5, num_images=2)
    result = event(kind="imagine", generation=job, image_keys=["k0", "k1"], grid_key="g", variations=False)
    await deliver_result(result, [images.png()], None, outbox)
    assert [[b.text for b in row] for row in outbox.sent[-1].buttons] == [["U1", "U2"], ["🔄", "🖋", "✨", "👍", "👎"]]


async def test_failure_is_explained_with_a_reference(outbox):
    await deliver_result(event(ok=False, error_ref="ab12cd34"), [], None, outbox)
    assert outbox.texts == [t("job_failed", "ru", ref="ab12cd34")]


# --- texts -----------------------------------------------------------------------------------------------


def test_every_text_exists_in_both_languages():
    assert RU.keys() == EN.keys()


def test_language_choice():
    assert pick_language("en-GB") == "en"
    assert pick_language("ru") == "ru"
    assert pick_language("uk") == "ru"
    assert pick_language(None) == "ru"


# --- buttons ---------------------------------------------------------------------------------------------


async def finished_generation(molbert, jobs, outbox, text="кот --n 4 --ar 3:2") -> str:
    """A generation that was queued and 'painted': its images are stored as a worker would."""
    job_id = await molbert.imagine(chat(1), text, outbox)
    for index in range(jobs.jobs[job_id].num_images):
        jobs.images[image_key(job_id, index)] = images.png(30 + index, 20)
    return job_id


def presser(user_id: int = 7, message_id: int = 500, lang: str = "ru") -> ChatRef:
    return ChatRef(platform="memory", chat_id=42, user_id=user_id, message_id=message_id, lang=lang)


async def test_u_sends_that_image_full_size_as_photo_and_file(molbert, jobs, outbox):
    job_id = await finished_generation(molbert, jobs, outbox)
    notice = await molbert.press(presser(), f"u:{job_id}:2", "press-1", outbox)
    assert notice == t("button_sending", "ru")
    photo, document = outbox.sent[-2:]
    assert photo.photo == document.document == images.png(32, 20)
    assert document.filename.endswith("-3.png")
    assert photo.text == t("upscale_caption", "ru", number=3, prompt="кот")


async def test_v_queues_variations_of_that_image_with_the_same_settings(molbert, jobs, outbox):
    job_id = await finished_generation(molbert, jobs, outbox)
    notice = await molbert.press(presser(), f"v:{job_id}:1", "press-2", outbox)
    assert notice == t("button_accepted", "ru")
    original, variation = jobs.jobs[job_id], jobs.jobs[job_id_for(presser(), "vary", "press-2")]
    assert variation.init_image_key == image_key(job_id, 1)
    assert (variation.prompt, variation.aspect, variation.num_images) == (original.prompt, (3, 2), 4)
    assert variation.seed != original.seed
    assert variation.chat == presser()


@pytest.mark.parametrize(("suffix", "strength"), [(":l", VARY_STRENGTHS[SUBTLE]), (":h", VARY_STRENGTHS[STRONG])])
async def test_subtle_and_strong_v_ask_for_their_strength(molbert, jobs, outbox, suffix, strength):
    job_id = await finished_generation(molbert, jobs, outbox)
    assert await molbert.press(presser(), f"v:{job_id}:2{suffix}", "press-s", outbox) == t("button_accepted", "ru")
    variation = jobs.jobs[job_id_for(presser(), "vary", "press-s")]
    assert (variation.init_image_key, variation.strength) == (image_key(job_id, 2), strength)


async def test_a_v_button_from_before_strengths_keeps_the_requests_own_strength(molbert, jobs, outbox):
    job_id = await finished_generation(molbert, jobs, outbox)
    jobs.jobs[job_id] = jobs.jobs[job_id].model_copy(update={"strength": 0.5})
    assert await molbert.press(presser(), f"v:{job_id}:0", "press-old", outbox) == t("button_accepted", "ru")
    assert jobs.jobs[job_id_for(presser(), "vary", "press-old")].strength == 0.5
    assert VARY_STRENGTHS[SUBTLE] < GenerateJob.model_fields["strength"].default < VARY_STRENGTHS[STRONG]


def test_a_single_picture_has_its_two_variation_buttons_side_by_side():
    rows = result_keyboard("job", 1)
    assert [[(b.text, b.action) for b in row] for row in rows] == [
        [("U1", "u:job:0")],
        [("V1", "v:job:0:h"), ("~1", "v:job:0:l")],
        [("⤴ ×2", "s:job:0:2"), ("⤴ ×4", "s:job:0:4")],
        [("🔄", "r:job"), ("🖋", "m:job")],
    ]


@pytest.mark.parametrize(
    ("action", "parsed"),
    [
        ("v:job:1", Action(VARY, "job", 1)),  # a V button already in a chat, from before strengths
        ("v:job:1:l", Action(VARY, "job", 1, SUBTLE)),
        ("v:job:3:h", Action(VARY, "job", 3, STRONG)),
        ("u:job:1:l", None),  # U has no strength
        ("v:job:1:x", None),
        ("v:job:1:", None),
    ],
)
def test_v_actions_with_and_without_a_strength(action, parsed):
    assert parse_action(action) == parsed


def test_the_longest_job_id_still_fits_with_a_strength():
    job_id = "j" * 56
    actions = [button.action for row in result_keyboard(job_id, 4) for button in row]
    assert max(len(action.encode()) for action in actions) == ACTION_MAX_BYTES - 2
    assert all(parse_action(action) is not None for action in actions)


async def test_reroll_queues_the_same_request_with_a_new_seed(molbert, jobs, outbox):
    job_id = await finished_generation(molbert, jobs, outbox)
    await molbert.press(presser(), f"r:{job_id}", "press-3", outbox)
    reroll = jobs.jobs[job_id_for(presser(), "reroll", "press-3")]
    original = jobs.jobs[job_id]
    assert reroll.model_copy(update={"seed": original.seed, "chat": original.chat}) == original
    assert reroll.seed != original.seed


async def test_a_repeated_press_event_queues_once(molbert, jobs, outbox):
    job_id = await finished_generation(molbert, jobs, outbox)
    await molbert.press(presser(), f"r:{job_id}", "same-event", outbox)
    await molbert.press(presser(), f"r:{job_id}", "same-event", outbox)
    assert len(jobs.jobs) == 2


async def test_a_quick_second_press_of_a_button_is_a_repeat_but_not_after_the_window_or_of_another(
    molbert, jobs, outbox
):
    now = [100.0]
    molbert.repeats = RepeatedPresses(window=5.0, clock=lambda: now[0])
    job_id = await finished_generation(molbert, jobs, outbox)
    sent_before = len(outbox.sent)
    answered = []

    async def answer(notice: str) -> None:
        answered.append((notice, len(outbox.sent) - sent_before))

    assert await molbert.press(presser(), f"u:{job_id}:0", "p1", outbox, answer=answer) == t("button_sending", "ru")
    assert answered == [(t("button_sending", "ru"), 0)], "the press is answered before the pictures are sent"
    assert await molbert.press(presser(), f"u:{job_id}:0", "p2", outbox) == t("button_repeated", "ru")
    assert await molbert.press(presser(), f"v:{job_id}:0", "p3", outbox) == t("button_accepted", "ru")
    assert await molbert.press(presser(), f"r:{job_id}", "p4", outbox) == t("button_accepted", "ru")
    now[0] += 6
    assert await molbert.press(presser(), f"u:{job_id}:0", "p5", outbox) == t("button_sending", "ru")
    photos = [m for m in outbox.sent[sent_before:] if m.photo is not None]
    assert len(photos) == 2


async def test_a_group_that_became_a_supergroup_keeps_its_settings_labels_and_buttons(molbert, jobs, outbox):
    """Telegram moves a group's history into its new supergroup: the buttons under its pictures are pressed from the
    new chat id, and its /settings and /labels apply there."""
    group = chat()
    await molbert.settings_store.save(group, "buttons", chat_settings.EVERYONE)
    await molbert.settings_store.set_labels(group, ["кошка", "собака"])
    job_id = await finished_generation(molbert, jobs, outbox)  # asked in the group
    await molbert.chat_moved(group, -1009)
    supergroup = chat(chat_id=-1009)
    assert (await molbert.settings_of(supergroup)).buttons == chat_settings.EVERYONE
    assert await molbert.settings_store.labels(supergroup) == ["кошка", "собака"]
    other = presser(user_id=8).model_copy(update={"chat_id": -1009})
    assert await molbert.press(other, f"v:{job_id}:0", "moved-1", outbox) == t("button_accepted", "ru")
    elsewhere = presser(user_id=8).model_copy(update={"chat_id": -777})
    await molbert.settings_store.save(elsewhere, "buttons", chat_settings.EVERYONE)
    assert await molbert.press(elsewhere, f"v:{job_id}:1", "moved-2", outbox) == t("button_stale", "ru")


async def test_someone_elses_buttons_are_refused(molbert, jobs, outbox):
    job_id = await finished_generation(molbert, jobs, outbox)
    sent_before = len(outbox.sent)
    notice = await molbert.press(presser(user_id=999), f"u:{job_id}:0", "press-4", outbox)
    assert notice == t("button_not_yours", "ru")
    assert len(outbox.sent) == sent_before and len(jobs.jobs) == 1


@pytest.mark.parametrize(
    "action", ["u:nonexistent-job:0", "z:whatever", "u:job:9", "", "r:" + "a" * 80, "u:../../etc:0", "v:job;drop:1"]
)
async def test_forged_or_stale_actions_are_refused(molbert, jobs, outbox, action):
    assert await molbert.press(presser(), action, "press-5", outbox) == t("button_stale", "ru")
    assert jobs.jobs == {} and outbox.sent == []


async def test_expired_images_are_explained(molbert, jobs, outbox):
    job_id = await finished_generation(molbert, jobs, outbox)
    jobs.images.clear()
    assert await molbert.press(presser(), f"v:{job_id}:0", "press-6", outbox) == t("button_image_gone", "ru")
    assert await molbert.press(presser(lang="en"), f"u:{job_id}:0", "press-7", outbox) == t("button_image_gone", "en")


async def test_imagine_with_bad_options_queues_nothing(molbert, jobs, outbox):
    assert await molbert.imagine(chat(), "кот --n 7", outbox) is None
    assert jobs.jobs == {}
    assert outbox.texts == [t("option_range", "ru", option="--n", value="7", low=1, high=4)]


async def test_imagine_with_options_builds_the_job(molbert, jobs, outbox):
    job_id = await molbert.imagine(chat(), "кот --seed 5 --style фото --n 2", outbox)
    job = jobs.jobs[job_id]
    assert (job.seed, job.style, job.num_images) == (5, "фото", 2)
    assert job.model_prompt.startswith("кот, фотография")


# --- safety ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt", ["голая женщина", "Порнографическое фото", "sexy cat", "обнажённая натура"])
async def test_blocked_prompts_are_refused_politely_and_queue_nothing(molbert, jobs, outbox, prompt):
    assert await molbert.imagine(chat(), prompt, outbox) is None
    assert jobs.jobs == {}
    assert outbox.texts == [t("prompt_blocked", "ru")]


@pytest.mark.parametrize("prompt", ["членистоногое в лесу", "пенистое море", "графство Эссекс", "кот --no голый"])
async def test_harmless_words_that_look_alike_pass(molbert, jobs, outbox, prompt):
    assert await molbert.imagine(chat(), prompt, outbox) is not None


async def test_operators_set_their_own_blocklist(jobs, outbox, tmp_path):
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("# ours\nброкколи*\n")
    molbert = make_molbert(jobs, blocklist=PromptBlocklist.load(blocklist))
    assert await molbert.imagine(chat(1), "Брокколи на тарелке", outbox) is None
    assert await molbert.imagine(chat(2), "голая стена", outbox) is not None


def test_hidden_images_are_announced_in_the_caption():
    job = GenerateJob(chat=chat(), prompt="кот", seed=1, num_images=4)
    caption = render_caption(event(kind="imagine", generation=job, model="m", image_keys=["a"] * 4, hidden=[1, 3]))
    assert caption.startswith(t("images_hidden", "ru", count=2, total=4))


def test_a_long_prompt_is_shortened_in_the_caption_and_the_command_line_kept():
    prompt = "очень подробное описание старого маяка " * 14  # ≈ 550 characters: title + command would not fit
    job = GenerateJob(chat=chat(), prompt=prompt.strip(), seed=777, aspect=(16, 9), num_images=2)
    caption = render_caption(event(kind="imagine", generation=job, model="m", seconds=2.0, image_keys=["a", "b"]))
    assert len(caption) <= CAPTION_MAX_CHARS
    title, details = caption.split("\n\n")
    assert title.endswith("…") and len(title) < len(job.prompt)
    assert details.splitlines() == ["seed 777 · m · 2.0 с", command_line(job)], "the line reproduces the picture"


def test_the_longest_prompt_keeps_its_seed_and_options_in_the_caption():
    job = GenerateJob(chat=chat(), prompt="б" * MAX_PROMPT_CHARS, seed=5, aspect=(3, 2), negative="люди", style="аниме")
    caption = render_caption(event(kind="imagine", generation=job, model="m", seconds=1.0, image_keys=["a"]))
    assert len(caption) <= CAPTION_MAX_CHARS
    assert caption.startswith("🎨 ббб") and "seed 5 · m · 1.0 с" in caption
    assert caption.endswith("/imagine … --ar 3:2 --style аниме --no люди --seed 5")


def test_the_longest_prompt_still_fits_with_the_note_that_no_was_not_used():
    job = GenerateJob(chat=chat(), prompt="б" * MAX_PROMPT_CHARS, seed=5, negative="люди " * 60)
    result = event(kind="imagine", generation=job, model="m", image_keys=["a"], negative_ignored=True)
    caption = render_caption(result)
    assert len(caption) <= CAPTION_MAX_CHARS
    assert caption.endswith("--seed 5\n" + t("negative_ignored", "ru"))


async def test_queue_shows_the_beginning_of_a_long_prompt(molbert, outbox):
    long_prompt = "старый маяк на скале в шторм " * 30
    await molbert.imagine(chat(1), long_prompt, outbox)
    await molbert.queue(chat(2), outbox)
    [line] = [line for line in outbox.texts[-1].splitlines() if "🎨" in line]
    assert "«старый маяк на скале" in line and line.count("маяк") < 5 and "…»" in line


async def test_the_queued_message_estimates_the_wait_from_recent_jobs(molbert, jobs, outbox):
    jobs.durations["molbert-generate"] = 12.0
    await molbert.imagine(chat(1), "кот", outbox)
    await molbert.imagine(chat(2), "пёс", outbox)
    assert outbox.texts[-1] == t("queued", "ru", position=2) + t("wait_estimate", "ru", seconds=24)


def test_progress_shows_percent_and_time_left():
    progress = event(kind="progress", progress=0.4, seconds=12.3)
    assert render_progress(progress) == "⏳ Рисую… 40%, осталось ≈ 12 с"


# --- per-chat labels --------------------------------------------------------------------------------------


async def test_chat_labels_are_set_by_admins_and_used_for_photos(molbert, jobs, outbox):
    await molbert.labels(chat(), None, False, outbox)
    assert outbox.texts[-1].startswith("В этом чате фото распознаются по общему списку")
    await molbert.labels(chat(), "море, лес", False, outbox)
    assert outbox.texts[-1] == t("labels_admins_only", "ru")
    await molbert.labels(chat(), "море", True, outbox)
    assert outbox.texts[-1] == t("labels_need_two", "ru")
    await molbert.labels(chat(), "море, лес", True, outbox)
    job_id = await molbert.classify(chat(message_id=5), downloader(images.png()), None, None, outbox)
    assert jobs.jobs[job_id].labels == ["море", "лес"]
    caption_id = await molbert.classify(chat(message_id=6), downloader(images.png()), None, "кот, пёс", outbox)
    assert jobs.jobs[caption_id].labels == ["кот", "пёс"], "a caption's own labels still win"
    await molbert.labels(chat(), "-", True, outbox)
    reset_id = await molbert.classify(chat(message_id=7), downloader(images.png()), None, None, outbox)
    assert jobs.jobs[reset_id].labels is None
