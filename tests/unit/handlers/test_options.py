"""``/imagine`` options: parsing, Russian aliases, every bad value refused by name and range, styles."""

from __future__ import annotations

import pytest

from core.protocol import ChatRef
from handlers.errors import UserError
from handlers.options import command_line, generation_job, parse_imagine
from handlers.styles import STYLES, find_style
from handlers.texts import t

CHAT = ChatRef(platform="memory", chat_id=1, user_id=1, message_id=1)


def test_prompt_without_options():
    request = parse_imagine("кот в космосе")
    assert (request.prompt, request.aspect, request.seed, request.count) == ("кот в космосе", None, None, None)


def test_all_options_together():
    request = parse_imagine("кот в космосе --ar 16:9 --seed 42 --no вода, люди --steps 30 --style аниме --n 4 --best 8")
    assert request.prompt == "кот в космосе"
    assert request.aspect == (16, 9)
    assert request.seed == 42
    assert request.negative == "вода, люди"
    assert request.steps == 30
    assert request.style.name == "аниме"
    assert (request.count, request.best_of) == (4, 8)


def test_russian_option_names_and_the_long_dash_phones_type():
    request = parse_imagine("маяк —пропорции 3:2 –сид 7 --без тумана --стиль акварель --кол 2 --шаги 10")
    assert (request.aspect, request.seed, request.negative, request.count, request.steps) == (
        (3, 2),
        7,
        "тумана",
        2,
        10,
    )
    assert request.style.name == "акварель"


@pytest.mark.parametrize("ratio", ["16x9", "16×9", "16/9", "16 : 9"])
def test_aspect_ratio_spellings(ratio):
    assert parse_imagine(f"кот --ar {ratio}").aspect == (16, 9)


@pytest.mark.parametrize(
    ("text", "key", "named"),
    [
        ("кот --ar 9:1", "option_ar", "9:1"),
        ("кот --ar широко", "option_ar", "широко"),
        ("кот --seed -5", "option_range", "--seed"),
        ("кот --seed 99999999999", "option_range", "--seed"),
        ("кот --steps 0", "option_range", "--steps"),
        ("кот --steps 500", "option_range", "--steps"),
        ("кот --n 5", "option_range", "--n"),
        ("кот --best 20", "option_range", "--best"),
        ("кот --n 4 --best 3", "option_best_below_n", "--best 3"),
        ("кот --style гжель", "option_style", "гжель"),
        ("кот --цвет синий", "option_unknown", "--цвет"),
        ("кот --seed", "option_needs_value", "--seed"),
        ("кот --no " + "x" * 400, "option_too_long", "--no"),
        ("--seed 3", "imagine_empty", "/imagine"),
        ("кот --seed 1 --сид 2", "option_twice", "--seed"),
        ("кот --n 2 —n 3", "option_twice", "--n"),
    ],
)
def test_bad_options_are_refused_naming_the_option(text, key, named):
    with pytest.raises(UserError) as err:
        parse_imagine(text)
    assert err.value.key == key
    assert named in t(err.value.key, "ru", **err.value.values)


def test_an_option_without_a_value_gets_an_example_of_its_own():
    with pytest.raises(UserError) as err:
        parse_imagine("кот --n")
    assert t(err.value.key, "ru", **err.value.values) == "После --n нужно значение, например: --n 4"


def test_english_speakers_get_the_english_style_names():
    with pytest.raises(UserError) as err:
        parse_imagine("cat --style foo")
    assert t(err.value.key, "en", **err.value.values).endswith(
        "Styles: photo, anime, watercolor, oil, cyberpunk, pixel-art, 3d."
    )
    assert "акварель" in t(err.value.key, "ru", **err.value.values)


def test_range_message_gives_the_range():
    with pytest.raises(UserError) as err:
        parse_imagine("кот --n 9")
    assert t(err.value.key, "ru", **err.value.values) == "--n: «9» не подходит, нужно целое число от 1 до 4."


@pytest.mark.parametrize("style", STYLES, ids=[style.name for style in STYLES])
def test_each_style_adds_its_words_to_the_model_prompt_only(style):
    job = generation_job(CHAT, parse_imagine(f"кот --style {style.name} --no собака"), seed=1)
    assert job.prompt == "кот"
    assert job.model_prompt == f"кот, {style.suffix}"
    assert job.model_negative == f"собака, {style.negative}"
    assert job.style == style.name
    assert all(find_style(alias) is style for alias in (style.name, *style.aliases))


def test_the_caption_command_reproduces_the_same_job():
    job = generation_job(CHAT, parse_imagine("кот --ar 3:2 --style масло --no люди --steps 12 --n 2 --best 4"), 77)
    again = generation_job(CHAT, parse_imagine(command_line(job).removeprefix("/imagine ")), 77)
    assert again == job
