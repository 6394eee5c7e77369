"""The Russian phrase bank ``/describe`` builds prompts from (``models/data/phrases_ru.txt``).

One phrase a line, ``category<TAB>phrase``, in the form a prompt uses it («акварель», «мягкий утренний свет», «вид
сверху», «кот на подоконнике»): nominative noun phrases (or «в стиле …»), so that any of them joined by commas reads
as a Russian prompt. Blank lines and ``#`` comments are skipped. tests/unit/models/test_phrases.py checks the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

# The categories, in the order a prompt lists them: what it is, how it is made, then how it looks.
CATEGORIES = ("subjects", "mediums", "styles", "artists", "lighting", "colours", "composition", "mood", "details")
PHRASES_FILE = "data/phrases_ru.txt"


@dataclass(frozen=True)
class PhraseBank:
    """Phrases by category (each category's in the file's order)."""

    categories: dict[str, tuple[str, ...]]

    @property
    def phrases(self) -> tuple[str, ...]:
        """Every phrase, category after category (the order their embeddings are stored in)."""
        return tuple(phrase for category in CATEGORIES for phrase in self.categories.get(category, ()))


def parse_bank(text: str) -> PhraseBank:
    """The bank in ``text``; ``ValueError`` for a line without a known category."""
    found: dict[str, list[str]] = {category: [] for category in CATEGORIES}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        category, _tab, phrase = line.partition("\t")
        if category not in found or not phrase.strip():
            raise ValueError(f"{PHRASES_FILE} line {number}: expected '<category>\\t<phrase>'")
        found[category].append(phrase.strip())
    return PhraseBank({category: tuple(phrases) for category, phrases in found.items()})


@cache
def phrase_bank() -> PhraseBank:
    """The shipped bank, read once."""
    return parse_bank(resources.files("models").joinpath(PHRASES_FILE).read_text(encoding="utf-8"))
