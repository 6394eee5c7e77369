"""Remix: a reply's words merged into the stored request (negative words in dictionary form, additions, styles,
options), the seed kept."""

from __future__ import annotations

import pytest

from bot.queue import PARAMS_TTL, RedisJobs
from core.keys import image_key, message_job_key
from core.protocol import ChatRef, ResultEvent, job_id_for
from handlers.buttons import REMIX, parse_action, result_keyboard
from handlers.delivery import render_caption
from handlers.errors import UserError
from handlers.options import DEFAULT_STRENGTH, MAX_NEGATIVE_CHARS, command_line, generation_job, parse_imagine
from handlers.ports import ACTION_MAX_BYTES, Upload
from handlers.remix import RemixForm, merge, request_of
from handlers.routing import GeneratorRoutes
from handlers.safety import PromptBlocklist
from handlers.texts import t
from tests import factories, images
from tests.factories import make_molbert

BASE = parse_imagine("кот в космосе --ar 16:9 --seed 5 --style фото --n 2 --steps 20")
CHAT = ChatRef(platform="memory", chat_id=1, user_id=1, message_id=1)


@pytest.mark.parametrize(
    ("reply", "negative"),
    [
        ("а без шляпы", "шляпа"),
        ("без шляпы", "шляпа"),
        ("Без шляпы!", "шляпа"),
        ("а без шляп?", "шляпы"),
        ("убери людей", "люди"),
        ("убери всех людей", "люди"),
        ("уберите деревья", "деревья"),
        ("удали облака", "облака"),
        ("без красной шляпы и очков", "красная шляпа, очки"),
        ("без шляпы, зонта и машин", "шляпа, зонт, машины"),
        ("не надо машин", "машины"),
        ("а теперь без луны", "луна"),
        ("без шляпы на голове", "шляпа на голове"),
        ("убери большую собаку", "большая собака"),
        ("without the hat", "hat"),
        ("no people, no cars", "people, cars"),
        ("remove the trees", "trees"),
    ],
)
def test_removals_go_into_the_negative_prompt_in_their_dictionary_form(reply, negative):
    merged = merge(BASE, reply)
    assert merged.negative == negative
    assert merged.prompt == "кот в космосе"
    assert (merged.seed, merged.aspect, merged.style.name, merged.count, merged.steps) == (5, (16, 9), "фото", 2, 20)


def test_removals_join_the_negative_prompt_there_was_once_each():
    request = parse_imagine("кот --no вода, шляпа")
    assert merge(request, "а без шляпы и людей").negative == "вода, шляпа, люди"


def test_what_was_added_and_is_removed_leaves_the_description():
    added = merge(BASE, "добавь луну")
    removed = merge(added, "убери луну")
    assert (added.prompt, removed.prompt, removed.negative) == ("кот в космосе, луна", "кот в космосе", "луна")


@pytest.mark.parametrize(
    ("reply", "prompt"),
    [
        ("добавь луну", "кот в космосе, луна"),
        ("добавь большую красную луну", "кот в космосе, большая красная луна"),
        ("добавь звёзды и комету", "кот в космосе, звёзды, комета"),
        ("а теперь ночью", "кот в космосе, ночью"),
        ("теперь ночью", "кот в космосе, ночью"),
        ("сделай зимой", "кот в космосе, зимой"),
        ("а зимой?", "кот в космосе, зимой"),
        ("с луной", "кот в космосе, с луной"),
        ("а в лесу", "кот в космосе, в лесу"),
        ("пусть будет ночь", "кот в космосе, ночь"),
        ("add a moon", "кот в космосе, moon"),
        ("make it winter", "кот в космосе, winter"),
        ("now at night", "кот в космосе, at night"),
    ],
)
def test_additions_go_into_the_description(reply, prompt):
    merged = merge(BASE, reply)
    assert merged.prompt == prompt
    assert (merged.negative, merged.seed, merged.style.name) == (None, 5, "фото")


@pytest.mark.parametrize(
    ("reply", "style"),
    [
        ("пусть будет акварель", "акварель"),
        ("сделай в стиле аниме", "аниме"),
        ("а можно акварелью?", "акварель"),
        ("сделай маслом", "масло"),
        ("а теперь киберпанк", "киберпанк"),
        ("make it anime", "аниме"),
        ("а без стиля", "нет"),
    ],
)
def test_a_known_style_name_becomes_the_style(reply, style):
    merged = merge(BASE, reply)
    assert (merged.style.name, merged.prompt, merged.negative) == (style, "кот в космосе", None)


def test_several_changes_in_one_reply():
    merged = merge(BASE, "убери людей и добавь луну, пусть будет акварель")
    assert (merged.prompt, merged.negative, merged.style.name) == ("кот в космосе, луна", "люди", "акварель")


@pytest.mark.parametrize(
    ("reply", "changed"),
    [
        ("--ar 9:16", {"aspect": (9, 16)}),
        ("—ar 9:16", {"aspect": (9, 16)}),
        ("--steps 30", {"steps": 30}),
        ("--шаги 30 --пропорции 1:1", {"steps": 30, "aspect": (1, 1)}),
        ("--seed 9", {"seed": 9}),
        ("--style аниме", {"style": "аниме"}),
        ("--no вода", {"negative": "вода"}),
    ],
)
def test_a_reply_of_options_changes_only_those(reply, changed):
    merged = merge(BASE, reply)
    fields = {
        "prompt": merged.prompt,
        "aspect": merged.aspect,
        "seed": merged.seed,
        "steps": merged.steps,
        "style": merged.style.name,
        "negative": merged.negative,
        "count": merged.count,
    }
    expected = {
        "prompt": "кот в космосе",
        "aspect": (16, 9),
        "seed": 5,
        "steps": 20,
        "style": "фото",
        "negative": None,
        "count": 2,
    }
    assert fields == expected | changed


@pytest.mark.parametrize("reply", ["собака на пляже", "в лесу", "Маяк в шторм", "a dog on the beach"])
def test_a_new_description_replaces_the_old_and_keeps_the_options(reply):
    merged = merge(BASE, reply)
    assert merged.prompt == reply
    assert (merged.seed, merged.aspect, merged.style.name, merged.count, merged.steps) == (5, (16, 9), "фото", 2, 20)


def test_words_and_options_together():
    merged = merge(BASE, "а без шляпы --ar 1:1 --seed 7")
    assert (merged.negative, merged.aspect, merged.seed, merged.prompt) == ("шляпа", (1, 1), 7, "кот в космосе")


@pytest.mark.parametrize("reply", ["", "   ", "?!", "добавь", "а без", "а?", "ну и"])
def test_a_reply_that_asks_nothing_is_refused(reply):
    with pytest.raises(UserError) as refused:
        merge(BASE, reply)
    assert refused.value.key == "remix_empty"


def test_bad_options_are_refused_as_in_imagine():
    with pytest.raises(UserError) as refused:
        merge(BASE, "--ar 20:1")
    assert refused.value.key == "option_ar"


def test_a_negative_prompt_past_its_limit_is_refused():
    request = parse_imagine(f"кот --no {'в' * (MAX_NEGATIVE_CHARS - 3)}")
    with pytest.raises(UserError) as refused:
        merge(request, "без шляпы")
    assert refused.value.key == "option_too_long"


def test_the_stored_job_turns_back_into_its_request():
    job = generation_job(CHAT, BASE, 5)
    assert request_of(job) == BASE


def test_the_merged_line_is_what_the_caption_shows():
    merged = merge(BASE, "а без шляпы, добавь луну")
    line = command_line(generation_job(CHAT, merged, merged.seed or 0))
    assert line == "/imagine кот в космосе, луна --ar 16:9 --style фото --no шляпа --steps 20 --n 2 --seed 5"


# --- the use case ------------------------------------------------------------------------------------------


@pytest.fixture
def molbert(jobs):
    return make_molbert(jobs)


async def painted(molbert, outbox, text="кот в космосе --ar 16:9 --style фото --seed 5") -> str:
    job_id = await molbert.imagine(factories.chat(1, platform="memory"), text, outbox)
    assert job_id is not None
    return job_id


def reply(message_id: int = 2, user_id: int = 7, lang: str = "ru") -> ChatRef:
    return factories.chat(message_id, platform="memory", user_id=user_id, lang=lang)


async def test_a_reply_queues_the_merged_request_with_the_same_seed(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox)
    remixed_id = await molbert.remix(reply(), job_id, "а без шляпы, добавь луну", outbox)
    assert remixed_id == job_id_for(reply(), "remix")
    remixed = jobs.jobs[remixed_id]
    assert (remixed.prompt, remixed.negative, remixed.seed, remixed.aspect, remixed.style) == (
        "кот в космосе, луна",
        "шляпа",
        5,
        (16, 9),
        "фото",
    )
    assert remixed.model_prompt.startswith("кот в космосе, луна, фотография")
    assert remixed.model_negative.startswith("шляпа, ")  # the user's words first, then the style's
    assert remixed.chat == reply()
    assert outbox.sent[-1].text == t("queued", "ru", position=2)


async def test_the_result_caption_shows_the_merged_line(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox)
    remixed = jobs.jobs[await molbert.remix(reply(), job_id, "пусть будет акварель --ar 9:16", outbox)]
    event = ResultEvent(job_id="r", kind="imagine", chat=reply(), generation=remixed, image_keys=["k"], model="m")
    assert "/imagine кот в космосе --ar 9:16 --style акварель --seed 5" in render_caption(event)


async def test_someone_elses_reply_is_a_reaction(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox)
    sent = len(outbox.sent)
    assert not await molbert.requested(reply(user_id=8), job_id)
    assert await molbert.remix(reply(user_id=8), job_id, "а без шляпы", outbox) is None
    assert len(jobs.jobs) == 1 and len(outbox.sent) == sent


async def test_a_forgotten_request_or_an_empty_reply_is_answered(molbert, jobs, outbox):
    assert await molbert.remix(reply(), "memory-imagine-42-1", "а без шляпы", outbox) is None
    assert outbox.texts[-1] == t("remix_stale", "ru")
    job_id = await painted(molbert, outbox)
    assert await molbert.remix(reply(3, lang="en"), job_id, "   ", outbox) is None
    assert outbox.texts[-1] == t("remix_empty", "en")
    assert await molbert.remix(reply(4), job_id, "--n 9", outbox) is None
    assert outbox.texts[-1].startswith(t("option_range", "ru", option="--n", value="9", low=1, high=4)[:20])
    assert len(jobs.jobs) == 1


async def test_a_blocked_addition_is_refused(jobs, outbox):
    molbert = make_molbert(jobs, blocklist=PromptBlocklist.from_text("запретное"))
    job_id = await painted(molbert, outbox)
    assert await molbert.remix(reply(), job_id, "а теперь запретное", outbox) is None
    assert outbox.texts[-1] == t("prompt_blocked", "ru") and len(jobs.jobs) == 1


async def test_the_job_is_found_from_the_result_buttons_or_the_prompt_message(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox)
    assert await molbert.remix_target(reply(), 900, [f"u:{job_id}:0", f"r:{job_id}"]) == job_id
    assert await molbert.remix_target(reply(), 900, [f"x:{job_id}"]) is None  # a "queued" message
    assert await molbert.remix_target(reply(), 900, []) is None
    await jobs.remember_message_job(reply(), 900, job_id)
    assert await molbert.remix_target(reply(), 900, []) == job_id
    elsewhere = reply().model_copy(update={"chat_id": 43})
    assert await molbert.remix_target(elsewhere, 900, []) is None


async def test_through_redis_the_prompt_message_is_remembered_as_long_as_the_request(redis_conn, outbox):
    jobs = RedisJobs(redis_conn)
    molbert = make_molbert(jobs)
    job_id = await painted(molbert, outbox)
    await jobs.remember_message_job(reply(), 901, job_id)
    assert await molbert.remix_target(reply(), 901, []) == job_id
    key = message_job_key(reply(), 901)
    assert PARAMS_TTL - 60 < redis_conn.ttl(key) <= PARAMS_TTL
    remixed_id = await molbert.remix(reply(), job_id, "убери людей", outbox)
    remixed = await jobs.load_generation(remixed_id)
    assert (remixed.prompt, remixed.negative, remixed.seed) == ("кот в космосе", "люди", 5)


# --- one picture (a U image), and a request that started from a photo ------------------------------------


async def pressed_u(molbert, jobs, outbox, job_id: str, index: int = 1) -> list[int]:
    """Press U under ``job_id``'s result (its pictures stored as a worker stores them); the U messages' ids."""
    for i in range(4):
        jobs.images[image_key(job_id, i)] = images.png(30 + i, 20)
    before = len(outbox.sent)
    under = factories.chat(50, platform="memory")
    await molbert.press(under, f"u:{job_id}:{index}", "press-1", outbox)
    return [message.message_id for message in outbox.sent[before:] if message.photo or message.document]


async def test_a_reply_to_a_u_image_remixes_that_picture_from_its_pixels(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox, "кот в космосе --n 4 --seed 5")
    photo_message, file_message = await pressed_u(molbert, jobs, outbox, job_id, index=2)
    for message_id in (photo_message, file_message):
        target = await molbert.remix_target(reply(), message_id, [])
        assert target == f"{job_id}:2"
        assert await molbert.requested(reply(), target)
    remixed = jobs.jobs[await molbert.remix(reply(), f"{job_id}:2", "а теперь ночью", outbox)]
    assert remixed.init_image_key == image_key(job_id, 2)  # the picture replied to, not the whole request
    assert (remixed.prompt, remixed.seed, remixed.strength) == ("кот в космосе, ночью", 5, DEFAULT_STRENGTH)
    assert remixed.best_of is None and remixed.photo_key is None


async def test_a_picture_remix_takes_the_reply_s_strength(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox)
    await pressed_u(molbert, jobs, outbox, job_id, index=0)
    remixed = jobs.jobs[await molbert.remix(reply(), f"{job_id}:0", "добавь луну --strength 0.3", outbox)]
    assert (remixed.init_image_key, remixed.strength) == (image_key(job_id, 0), 0.3)


async def test_a_reply_to_a_picture_whose_pixels_expired_is_answered(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox)
    assert await molbert.remix(reply(), f"{job_id}:1", "а теперь ночью", outbox) is None
    assert outbox.texts[-1] == t("button_image_gone", "ru") and len(jobs.jobs) == 1


async def test_a_text_only_generator_remixes_the_picture_s_request_from_text(jobs, outbox):
    routes = GeneratorRoutes.parse("lite=molbert-generate-lite", "lite")
    molbert = make_molbert(jobs, routes=routes)
    job_id = await painted(molbert, outbox)
    await pressed_u(molbert, jobs, outbox, job_id, index=0)
    remixed = jobs.jobs[await molbert.remix(reply(), f"{job_id}:0", "а теперь ночью", outbox)]
    assert remixed.init_image_key is None and remixed.prompt == "кот в космосе, ночью"


async def test_a_remix_of_a_request_painted_from_a_photo_keeps_the_photo(molbert, jobs, outbox):
    picture = images.png()

    async def download() -> bytes:
        return picture

    photo = Upload(download, len(picture))
    job_id = await molbert.imagine(
        factories.chat(1, platform="memory"), "кот --strength 0.4 --seed 5", outbox, photo=photo
    )
    original = jobs.jobs[job_id]
    remixed = jobs.jobs[await molbert.remix(reply(), job_id, "а без шляпы", outbox)]
    assert (remixed.photo_key, remixed.strength, remixed.negative) == (original.photo_key, 0.4, "шляпа")
    again = jobs.jobs[await molbert.remix(reply(3), job_id, "--strength 0.8", outbox)]
    assert (again.photo_key, again.strength) == (original.photo_key, 0.8)


# --- 🖋 ----------------------------------------------------------------------------------------------------


async def test_the_pen_button_is_under_every_result_and_fits_telegram(molbert, jobs, outbox):
    job_id = "telegram-imagine-m1001234567890-1234567890" + "x" * 14  # the longest U and V take (56)
    keyboard = result_keyboard(job_id, 4)
    pen = keyboard[-1][-1]
    assert (pen.text, pen.action) == ("🖋", f"m:{job_id}")
    assert len(pen.action.encode()) <= ACTION_MAX_BYTES
    assert parse_action(pen.action).verb == REMIX


async def test_the_pen_gives_the_requester_the_current_line(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox, "кот в космосе --ar 16:9 --no люди --seed 5")
    form = await molbert.remix_form(reply(), f"m:{job_id}")
    assert isinstance(form, RemixForm)
    assert form.command == "/imagine кот в космосе --ar 16:9 --no люди --seed 5"
    assert (form.job_id, form.description, form.options) == (job_id, "кот в космосе", "--ar 16:9 --no люди --seed 5")
    assert form.asked.message_id == 1  # the requester's /imagine, which a question for them replies to


async def test_the_pen_refuses_others_and_expired_requests(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox)
    assert await molbert.remix_form(reply(user_id=8), f"m:{job_id}") == t("button_not_yours", "ru")
    assert await molbert.remix_form(reply(), "m:memory-imagine-42-77") == t("button_stale", "ru")
    assert await molbert.remix_form(reply(), f"r:{job_id}") == t("button_stale", "ru")


async def test_a_platform_that_asks_nothing_answers_the_pen_with_a_hint(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox)
    assert await molbert.press(reply(), f"m:{job_id}", "e1", outbox) == t("remix_prompt_sent", "ru")
    assert len(jobs.jobs) == 1


async def test_the_modal_s_fields_submitted_unchanged_remix_nothing_but_the_event(molbert, jobs, outbox):
    job_id = await painted(molbert, outbox)
    form = await molbert.remix_form(reply(), f"m:{job_id}")
    first = await molbert.remix(reply(), job_id, f"{form.description} {form.options}", outbox, event_id="i1")
    second = await molbert.remix(reply(), job_id, f"{form.description} --ar 1:1", outbox, event_id="i2")
    assert first != second
    assert jobs.jobs[first].model_copy(update={"chat": None, "times": None}) == jobs.jobs[job_id].model_copy(
        update={"chat": None, "times": None}
    )
    assert (jobs.jobs[second].aspect, jobs.jobs[second].seed) == ((1, 1), 5)
