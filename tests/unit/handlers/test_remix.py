"""Remix: a reply's words merged into the stored request (negative words in dictionary form, additions, styles,
options), the seed kept."""

from __future__ import annotations

import pytest

from core.protocol import ChatRef
from handlers.errors import UserError
from handlers.options import MAX_NEGATIVE_CHARS, command_line, generation_job, parse_imagine
from handlers.remix import merge, request_of

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


@pytest.mark.parametrize("reply", ["", "   ", "?!", "добавь", "а без"])
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
