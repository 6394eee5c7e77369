"""Parsing and cleaning what users type: ``/imagine`` prompts and caption label lists."""

from __future__ import annotations

import re
import unicodedata

import regex

from handlers.errors import UserError

MAX_PROMPT_CHARS = 1000
MAX_LABELS = 50
MAX_LABEL_CHARS = 80

_LABEL_SEPARATORS = re.compile(r"[,;\n]+")
# "что это?", "What is this bird?": a question about the photo, answered with the default labels
_OPEN_QUESTION = re.compile(
    r"^(что|кто|какой|какая|какое|какие|чей|чья|чьё|чьи|где|what|what's|whats|who|who's|which)\b.*\?$", re.IGNORECASE
)
# "это жираф?", "is it a cat?": a yes/no question about one label
_ASKED = re.compile(
    r"^(?:(?:это|тут|здесь|на фото|is it|is this|is that|is there)\s+)?(?:(?:a|an|the)\s+)?(.+?)\s*\?+$", re.IGNORECASE
)
_SPACES = re.compile(r"\s+")
_GRAPHEME = regex.compile(r"\X")  # a user-perceived character (an emoji sequence is one)
_PICTOGRAPH = regex.compile(r"\p{Extended_Pictographic}")


def clean_text(text: str) -> str:
    """Drop control and invisible format characters (zero-width spaces, bidi marks), fold white space.

    Inside an emoji sequence the joiners and tags are part of the emoji (👨‍👩‍👧‍👦 is four emoji joined by ZWJ, a
    subdivision flag is spelt in tag characters), so a grapheme cluster with a pictograph keeps them.
    """
    return _SPACES.sub(" ", "".join(map(_clean_cluster, _GRAPHEME.findall(text)))).strip()


def _clean_cluster(cluster: str) -> str:
    dropped = ("Cc",) if _PICTOGRAPH.search(cluster) else ("Cc", "Cf")
    kept = (ch for ch in cluster if ch.isspace() or unicodedata.category(ch) not in dropped)
    return "".join(" " if ch.isspace() else ch for ch in kept)


def parse_prompt(text: str | None) -> str:
    """Return the cleaned prompt, or raise :class:`UserError` when it is empty or too long."""
    prompt = clean_text(text or "")
    if not prompt:
        raise UserError("imagine_empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise UserError("prompt_too_long", length=len(prompt), limit=MAX_PROMPT_CHARS)
    return prompt


def is_label_list(caption: str | None) -> bool:
    """Whether a caption lists labels (``кошка, собака``) rather than being one phrase (``самый смешной мем``)."""
    return bool(_LABEL_SEPARATORS.search((caption or "").strip()))


def is_open_question(caption: str | None) -> bool:
    """Whether a caption asks what is in the photo (``что это?``) rather than naming labels or a query."""
    return bool(_OPEN_QUESTION.match(clean_text(caption or "")))


def parse_labels(caption: str | None) -> list[str] | None:
    """Split a caption like ``кошка, собака; медведь`` into labels (deduplicated, order kept).

    Returns ``None`` when the caption holds no label, so the default label set applies: no caption, an open
    question (``Что это за птица?``), or one phrase too long to be a label (a forwarded post's caption). A yes/no
    question (``это жираф?``) is its one label (``жираф``).
    """
    text = clean_text(caption or "")
    if is_open_question(text) or (not is_label_list(caption) and len(text) > MAX_LABEL_CHARS):
        return None
    if not is_label_list(caption) and (asked := _ASKED.match(text)):
        return [asked.group(1)]
    labels: list[str] = []
    seen: set[str] = set()
    for part in _LABEL_SEPARATORS.split(caption or ""):
        label = clean_text(part).rstrip("?").rstrip()
        if not label or label.casefold() in seen:
            continue
        if len(label) > MAX_LABEL_CHARS:
            raise UserError("label_too_long", label=label[:20], limit=MAX_LABEL_CHARS)
        seen.add(label.casefold())
        labels.append(label)
    if len(labels) > MAX_LABELS:
        raise UserError("labels_too_many", count=len(labels), limit=MAX_LABELS)
    return labels or None
