"""Remix: a reply to a result changes its request instead of starting over, whatever the platform.

«а без шляпы», «убери людей» put the words into the negative prompt in their dictionary form (pymorphy3:
«шляпы» → «шляпа»); «добавь луну», «а теперь ночью», «сделай зимой» add to the description, and a known style
name («пусть будет акварель») becomes ``--style``. A reply of options only (``--ar 9:16``) changes just those;
any other text is a whole new description that keeps the options. The seed stays unless the reply gives one, so
the change is what differs.

The merge works on the request (:class:`handlers.options.ImagineRequest`). A reply to one picture (the U image of
a grid) remixes that picture: the merged request paints image-to-image from it, so the composition stays; its
target is :func:`picture_target` (``<job id>:<index>``), a reply to a whole result's target is the job id.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from core.protocol import ChatRef, GenerateJob
from handlers.errors import UserError
from handlers.options import MAX_NEGATIVE_CHARS, ImagineRequest, apply_options, command_line
from handlers.prompts import clean_text, parse_prompt
from handlers.styles import NO_STYLE, Style, find_style

if TYPE_CHECKING:
    from pymorphy3 import MorphAnalyzer
    from pymorphy3.analyzer import Parse

# words that continue the dialogue rather than start a new description: «а ночью», «и теперь зимой»
_LEAD = (
    r"(?:а|и|но|ну|ок|окей|теперь|ещё|еще|также|тоже|лучше|пожалуйста|можно|давай|давайте|можешь|можете|"
    r"now|and|but|ok|okay|please|can you|could you)"
)
_REMOVE = (
    r"без|убери|уберите|убрать|убираем|удали|удалите|удалить|не надо|не нужно|не нужны|не нужен|не нужна|"
    r"пусть не будет|чтобы не было|without|no|remove|delete|drop|get rid of"
)
_ADD = r"добавь|добавьте|добавить|добавим|add|put"
_CHANGE = r"пусть будет|пусть|сделай|сделайте|сделать|нарисуй|make it|make|turn it|let it be"
_KEEP = r"с|со|в стиле|в|на|with|in the style of|in|at"  # a preposition starts a change and stays in its words
_MARKER = re.compile(
    rf"^(?:(?:(?P<remove>{_REMOVE})|(?P<add>{_ADD})|(?P<change>{_CHANGE}))(?:\s+|$)|(?=(?P<keep>{_KEEP})\s))",
    re.IGNORECASE,
)
_LEADS = re.compile(rf"^(?:{_LEAD}(?:[\s,]+|$))+", re.IGNORECASE)
# a new clause starts after a comma or a conjunction, with a marker: «убери людей и добавь луну»
_CLAUSE = re.compile(
    rf"(?:\s*[,;]\s*(?:(?:и|а|but|and)\s+)?|\s+(?:и|а|but|and)\s+)(?=(?:{_REMOVE}|{_ADD}|{_CHANGE})\s)", re.IGNORECASE
)
_ITEMS = re.compile(r"\s*(?:,|;|\s+и\s+|\s+and\s+)\s*", re.IGNORECASE)
_STYLE_WORDS = re.compile(r"^(?:в\s+стиле|стиль|как|in\s+the\s+style\s+of|style|in|as|like)\s+", re.IGNORECASE)
_ARTICLES = re.compile(r"^(?:the|a|an|some|all|any)\s+", re.IGNORECASE)
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_NOMINAL = {"NOUN", "ADJF", "PRTF", "NUMR"}
# the case a word has after the marker: «без шляпы», «не надо машин» (genitive), «убери людей», «добавь луну»
# (accusative); the second is tried when the first does not fit
_GENITIVE_AFTER = ("без", "не ", "пусть", "чтобы")
_CASES_AFTER_REMOVAL = {"remove": ("gent", "accs"), "take": ("accs", "gent")}
_CASES_AFTER_ADD = ("accs", "nomn")
_PICTURE_TARGET = re.compile(r"^(?P<job>[A-Za-z0-9_-]+):(?P<index>[0-9])$")


def picture_target(job_id: str, index: int) -> str:
    """What a reply to picture ``index`` of job ``job_id`` alone (its U image) remixes (job ids have no colon)."""
    return f"{job_id}:{index}"


def parse_target(target: str) -> tuple[str, int | None]:
    """The job a remix target names, and the picture of it (``None``: the whole request)."""
    match = _PICTURE_TARGET.match(target)
    return (match.group("job"), int(match.group("index"))) if match else (target, None)


@dataclass(frozen=True)
class RemixForm:
    """What 🖋 shows to change a result: its description and options, as the ``/imagine`` line that made it.

    ``asked`` is where the request was made (its ``message_id``: the requester's message), so that a platform can
    address its question to the requester (Telegram's selective ForceReply)."""

    job_id: str
    description: str
    options: str
    asked: ChatRef

    @property
    def command(self) -> str:
        """The whole ``/imagine`` line, to copy and change."""
        return f"/imagine {self.description} {self.options}".strip()

    @classmethod
    def of(cls, job_id: str, job: GenerateJob) -> RemixForm:
        """The form of a stored generation (the seed is among its options: it stays unless changed)."""
        line = command_line(job)
        return cls(job_id, job.prompt, line.removeprefix(f"/imagine {job.prompt}").strip(), job.chat)


def request_of(job: GenerateJob) -> ImagineRequest:
    """The request a stored generation answered, as ``/imagine`` would parse its reproducing line."""
    return ImagineRequest(
        prompt=job.prompt,
        aspect=job.aspect,
        seed=job.seed,
        negative=job.negative,
        steps=job.steps,
        style=find_style(job.style) if job.style else None,
        count=job.num_images,
        best_of=job.best_of,
        generator=job.generator,
        upscale=None if job.init_image_key else job.upscale,  # --up stays; a ⤴ press's picture is not the request's
    )


def merge(request: ImagineRequest, reply: str) -> ImagineRequest:
    """``request`` changed as the reply asks; :class:`UserError` for a reply that asks nothing or breaks a limit."""
    words, merged = apply_options(request, reply)
    had_options = words != clean_text(reply)
    words = words.strip(" .!?…«»\"'")
    if not words:
        if not had_options:
            raise UserError("remix_empty")
        return merged
    clauses = _clauses(words)
    if clauses is None:  # no marker: a whole new description, the options kept
        return replace(merged, prompt=parse_prompt(words))
    if not clauses and not had_options:  # «а?», «ну и»
        raise UserError("remix_empty")
    for kind, text in clauses:
        merged = _change(merged, kind, text)
    return merged


def _clauses(words: str) -> list[tuple[str, str]] | None:
    """The reply's changes as (kind, words): ``remove``, ``add`` (to the description) or ``change`` (a style, or
    words added as typed); ``None`` when it starts with no marker (a new description)."""
    led = _LEADS.match(words)
    rest = words[led.end() :] if led else words
    first = _MARKER.match(rest)
    keep = first.group("keep") if first else None
    if not led and (first is None or (keep is not None and keep.casefold() not in ("с", "со", "with"))):
        return None  # «в лесу» alone is a new description; «с луной», «а в лесу» change the old one
    clauses = []
    for part in _CLAUSE.split(rest):
        part = part.strip(" ,;.!?…«»\"'")
        if not part:
            continue
        marker = _MARKER.match(part)
        kind = next((name for name, found in (marker.groupdict() if marker else {}).items() if found), "change")
        if kind == "remove" and marker and not marker.group("remove").casefold().startswith(_GENITIVE_AFTER):
            kind = "take"  # «убери людей»: the things are in the accusative
        kind = "change" if kind == "keep" else kind
        clauses.append((kind, part[marker.end() :].strip() if marker else part))
    return clauses


def _change(request: ImagineRequest, kind: str, text: str) -> ImagineRequest:
    if not text:
        raise UserError("remix_empty")
    if kind in _CASES_AFTER_REMOVAL:
        return _without(request, [_dictionary_form(item, _CASES_AFTER_REMOVAL[kind]) for item in _items(text)])
    style = _style_named(text)
    if style is not None:
        return replace(request, style=style)
    addition = ", ".join(_dictionary_form(item, _CASES_AFTER_ADD) for item in _items(text)) if kind == "add" else text
    return replace(request, prompt=parse_prompt(f"{request.prompt}, {addition}"))


def _without(request: ImagineRequest, items: list[str]) -> ImagineRequest:
    """``items`` into the negative prompt (once each); one the description was given as a part of («добавь луну»,
    then «убери луну») leaves the description too. «без стиля» is ``--style нет``."""
    if any(item.casefold() in ("стиль", "style") for item in items):
        request = replace(request, style=NO_STYLE)
        items = [item for item in items if item.casefold() not in ("стиль", "style")]
    parts = [part.strip() for part in request.prompt.split(",")]
    kept = [part for part in parts if part.casefold() not in {item.casefold() for item in items}]
    prompt = ", ".join(kept) if kept and len(kept) < len(parts) else request.prompt
    negatives = [part.strip() for part in (request.negative or "").split(",") if part.strip()]
    for item in items:
        if item.casefold() not in {n.casefold() for n in negatives}:
            negatives.append(item)
    negative = ", ".join(negatives) or None
    if negative and len(negative) > MAX_NEGATIVE_CHARS:
        raise UserError("option_too_long", option="--no", limit=MAX_NEGATIVE_CHARS)
    return replace(request, prompt=prompt, negative=negative)


def _items(text: str) -> list[str]:
    """«шляпы и очков, зонта» → the things named, one each."""
    return [_ARTICLES.sub("", item).strip() for item in _ITEMS.split(text) if item.strip()]


def _style_named(text: str) -> Style | None:
    """The style ``text`` names: «акварель», «в стиле аниме», «акварелью», «make it anime»."""
    name = _STYLE_WORDS.sub("", _ARTICLES.sub("", text.strip()))
    style = find_style(name)
    if style is None and len(name.split()) == 1 and _CYRILLIC.search(name):
        style = find_style(_morph().parse(name)[0].normal_form)
    return None if style is NO_STYLE else style  # «без» is NO_STYLE's alias, not a style to choose here


def _dictionary_form(phrase: str, cases: tuple[str, ...]) -> str:
    """A Russian noun phrase in the nominative, keeping number and gender: «красной шляпы» → «красная шляпа»,
    «всех людей» → «люди». The words from the first one that is not a noun, adjective or numeral on are kept as
    typed («шляпы на голове» → «шляпа на голове»); words in other alphabets are kept too."""
    words = phrase.split()
    formed: list[str] = []
    for index, word in enumerate(words):
        parse = _parse(word, cases) if _CYRILLIC.search(word) else None
        if parse is None:
            formed += words[index:]
            break
        if "Apro" in parse.tag:  # «всех», «эту»: a pronoun says nothing to the model
            continue
        inflected = parse.inflect({"nomn"})
        formed.append(_same_letters(word, inflected.word if inflected else parse.normal_form))
    return " ".join(formed) or phrase


def _parse(word: str, cases: tuple[str, ...]) -> Parse | None:
    """The reading of ``word`` in one of ``cases`` (the first that fits), else its likeliest; ``None`` when that
    is not a noun, adjective, participle or numeral."""
    parses = [p for p in _morph().parse(word) if p.tag.POS in _NOMINAL]
    for case in cases:
        fitting = [p for p in parses if p.tag.case == case]
        if fitting:
            return fitting[0]
    likeliest = _morph().parse(word)[0]
    return likeliest if likeliest.tag.POS in _NOMINAL else None


def _same_letters(typed: str, formed: str) -> str:
    """``formed`` capitalised as ``typed`` was (pymorphy3 answers in lower case), ё kept where it was typed."""
    return formed.capitalize() if typed[:1].isupper() else formed


@functools.cache
def _morph() -> MorphAnalyzer:
    """The analyzer, loaded on the first remix (its dictionaries take a moment and some memory)."""
    from pymorphy3 import MorphAnalyzer

    return MorphAnalyzer(lang="ru")
