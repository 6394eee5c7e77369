"""The shipped phrase bank of /describe (models/data/phrases_ru.txt): Russian, no repeats, every category filled,
and every phrase a piece that reads right in a comma-separated prompt (checked with pymorphy3's dictionary)."""

from __future__ import annotations

import re
from functools import cache

import pymorphy3
import pytest

from models.interrogator import JOINER, _assemble, _Step
from models.phrases import CATEGORIES, parse_bank, phrase_bank

CYRILLIC = re.compile(r"^[А-ЯЁа-яё]+(?:[ -][А-ЯЁа-яё]+)*$")  # words, single spaces or hyphens between them
LATIN_ALLOWED: set[str] = set()  # Latin words the bank may use (names); none so far
# capitalised outside «artists»: names of characters and places
PROPER = {
    "Баба-яга", "Кощей Бессмертный", "Жар-птица", "Змей Горыныч", "Снегурочка", "Дед Мороз", "Млечный Путь",
    "Красная площадь", "Кремль",
}  # fmt: skip
# words the dictionary lacks (loan words): they are nouns; and phrases without a noun that read right in a prompt
UNKNOWN_NOUNS = {"боке", "бохо", "рустик", "кракелюр", "психоделика"}
NO_NOUN = {"анфас", "вполоборота", "две луны"}
PREPOSITIONS = {"в", "на", "с", "у", "из", "над", "под", "сквозь", "через", "от", "по", "за", "для", "вокруг", "и"}


def normalised(phrase: str) -> str:
    return phrase.casefold().replace("ё", "е")


def test_the_bank_is_large_and_every_category_has_phrases():
    bank = phrase_bank()
    assert set(bank.categories) == set(CATEGORIES)
    assert all(len(bank.categories[category]) >= 50 for category in CATEGORIES), {
        category: len(phrases) for category, phrases in bank.categories.items()
    }
    assert len(bank.phrases) > 1500


def test_no_phrase_repeats_whatever_its_case_or_yo():
    seen: dict[str, str] = {}
    repeats = []
    for phrase in phrase_bank().phrases:
        if normalised(phrase) in seen:
            repeats.append((seen[normalised(phrase)], phrase))
        seen[normalised(phrase)] = phrase
    assert repeats == []


def test_every_phrase_is_russian_words():
    for phrase in phrase_bank().phrases:
        latin = {word for word in re.findall(r"[A-Za-z]+", phrase)}
        assert latin <= LATIN_ALLOWED, phrase
        assert CYRILLIC.match(phrase), f"not plain Russian words: {phrase!r}"


def test_only_names_are_capitalised_and_artists_are_said_in_the_style_of():
    bank = phrase_bank()
    for category, phrases in bank.categories.items():
        for phrase in phrases:
            if category == "artists":
                assert phrase.startswith(("в стиле ", "в духе ")), phrase
            elif phrase[0].isupper():
                assert phrase in PROPER, f"capitalised but not a name: {phrase!r}"


@cache
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


def _agrees(adjective, noun) -> bool:
    tag = adjective.tag
    if not ({"ADJF", "PRTF"} & set(tag.grammemes)) or "nomn" not in tag or tag.number != noun.tag.number:
        return False
    return noun.tag.number == "plur" or tag.gender == noun.tag.gender


def _reads_as_nominative(phrase: str) -> bool:
    """A phrase a prompt can list: its words before any preposition are adjectives agreeing with a noun in the
    nominative (``мягкий утренний свет``, ``пастельные тона``, ``кот на подоконнике``), or it is itself a
    circumstance (``на белом фоне``, ``в стиле Левитана``)."""
    words = phrase.lower().split()
    if phrase in NO_NOUN or words[0] in PREPOSITIONS:
        return True
    head = []
    for word in words:
        if word in PREPOSITIONS:
            break
        head.append(word)
    morph = _morph()
    for index, word in enumerate(head):
        if word in UNKNOWN_NOUNS and index == len(head) - 1:
            return True
        nouns = [parse for parse in morph.parse(word) if {"NOUN", "nomn"} <= set(parse.tag.grammemes)]
        for noun in nouns:
            if all(any(_agrees(parse, noun) for parse in morph.parse(before)) for before in head[:index]):
                return True
    return False


def test_every_phrase_reads_as_a_nominative_phrase():
    wrong = [phrase for phrase in phrase_bank().phrases if not _reads_as_nominative(phrase)]
    assert wrong == []


def test_the_grammar_check_catches_what_does_not_agree():
    assert not _reads_as_nominative("мягкая свет")
    assert not _reads_as_nominative("пастельных тонов")
    assert not _reads_as_nominative("быстро бежать")
    assert _reads_as_nominative("мягкий утренний свет")


@pytest.mark.parametrize("seed", range(5))
def test_an_assembled_prompt_is_the_subject_then_one_phrase_per_category(seed):
    import random

    bank = phrase_bank()
    chooser = random.Random(seed)
    steps = [_Step(category, [chooser.choice(bank.categories[category])], kept=True) for category in CATEGORIES[1:]]
    subject = chooser.choice(bank.categories["subjects"])
    prompt = _assemble(subject, steps, {})
    parts = prompt.split(JOINER)
    assert parts[0] == subject
    assert parts[1:] == [step.ranked[0] for step in steps]
    assert all(_reads_as_nominative(part) for part in parts)
    assert "  " not in prompt and ",," not in prompt and not prompt.endswith(",")


def test_a_line_without_a_known_category_is_refused():
    with pytest.raises(ValueError, match="line 2"):
        parse_bank("subjects\tкот\nanimals\tсобака\n")
    assert parse_bank("# комментарий\n\nsubjects\tкот\n").categories["subjects"] == ("кот",)
