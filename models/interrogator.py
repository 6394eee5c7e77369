"""``/describe``: a photo → a Russian prompt, in the style of CLIP Interrogator, over the classifier already loaded.

The phrase bank's (`models.phrases`) text embeddings are computed once per model and kept (in memory and beside the
default labels' on disk, `ZeroShotClassifier.phrase_embeddings`). For a photo:

1. every phrase is scored against the photo (one matrix product);
2. the best subject starts the prompt; then, category after category in the order a prompt lists them, the
   category's ``candidates`` best phrases are each appended to the prompt so far and the results go through the
   text encoder in one pass: the phrase whose prompt matches the photo best is kept, if it matches better than the
   prompt without it (a greedy chain: a phrase that fits alone may add nothing to the whole);
3. the variants keep the photo's look (light, colours, composition, mood, details) and change how it is made: the
   next-best medium and style of the chain, and the second subject.

Everything is deterministic for a model and a photo (ties go to the bank's order). A describe runs the text
encoder on ``1 + categories × candidates`` short prompts (≈ 50), plus the whole bank on its very first use.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from models.phrases import CATEGORIES, PhraseBank, phrase_bank

if TYPE_CHECKING:
    from PIL import Image

    from models.classifier import ZeroShotClassifier

log = logging.getLogger(__name__)

CANDIDATES = 6  # phrases of a category tried against the growing prompt
VARIANTS = 3  # prompts offered (2–4): the chain's, then other mediums / styles / subjects
MAX_PROMPT_CHARS = 300  # a prompt stops growing here (well under /imagine's limit, and readable)
VARIED = ("mediums", "subjects", "styles", "artists")  # what the variants change, in turn
JOINER = ", "


@dataclass(frozen=True)
class Interrogation:
    """What the photo looks like, as phrases of the bank.

    ``subject``: the best subject; ``picks``: the chain's phrase per category (those it kept, in prompt order);
    ``prompts``: the ready prompts, the chain's first, all different.
    """

    subject: str
    picks: dict[str, str]
    prompts: list[str] = field(default_factory=list)

    @property
    def traits(self) -> list[str]:
        """The chain's phrases after the subject, in prompt order."""
        return list(self.picks.values())


@dataclass
class _Step:
    """One category's step of the chain: its candidates, best first by the similarity of the prompt with them, and
    whether the best one raised the prompt's similarity (then the chain kept it)."""

    category: str
    ranked: list[str]
    kept: bool

    @property
    def pick(self) -> str | None:
        """The phrase the chain kept here, if any."""
        return self.ranked[0] if self.kept else None


class Interrogator:
    """Describes photos with ``classifier``'s model and a phrase bank (the shipped one by default)."""

    def __init__(
        self,
        classifier: ZeroShotClassifier,
        bank: PhraseBank | None = None,
        candidates: int = CANDIDATES,
        variants: int = VARIANTS,
    ) -> None:
        self.classifier = classifier
        self.bank = bank or phrase_bank()
        self.candidates = max(1, candidates)
        self.variants = min(4, max(2, variants))
        self._offsets: dict[str, tuple[int, int]] = {}
        start = 0
        for category in CATEGORIES:
            count = len(self.bank.categories.get(category, ()))
            self._offsets[category] = (start, start + count)
            start += count
        if not self.bank.categories.get("subjects"):
            raise ValueError("the phrase bank has no subjects")

    def bank_embeddings(self) -> tuple[torch.Tensor, str]:
        """The bank's (N, D) embeddings and where they came from (``memory``, ``disk``, ``computed``)."""
        return self.classifier.phrase_embeddings(self.bank.phrases)

    def describe(self, image: Image.Image) -> Interrogation:
        """The photo as a subject, the chain's picks and ``variants`` ready prompts (see the module docstring)."""
        return self.describe_embedding(self.classifier.image_embedding(image))

    def describe_embedding(self, picture: torch.Tensor) -> Interrogation:
        """:meth:`describe` for a picture given as its normalised (D,) embedding in the model's joint space."""
        bank, _source = self.bank_embeddings()
        picture = picture.to(bank.device)
        similarity = (bank @ picture).float().cpu()
        subjects = self._best("subjects", similarity, max(2, self.candidates))
        subject = subjects[0]
        steps = self._chain(subject, similarity, picture)
        picks = {step.category: step.pick for step in steps if step.pick}
        prompts = self._variants(subjects, steps)
        log.info("described a photo: %d phrases picked, %d prompts", len(picks), len(prompts))
        return Interrogation(subject=subject, picks=picks, prompts=prompts)

    def _best(self, category: str, similarity: torch.Tensor, count: int) -> list[str]:
        """The ``count`` phrases of ``category`` most similar to the photo (the bank's order breaks ties)."""
        start, end = self._offsets[category]
        if start == end:
            return []
        order = torch.sort(similarity[start:end], descending=True, stable=True).indices[:count]
        phrases = self.bank.categories[category]
        return [phrases[int(index)] for index in order]

    def _chain(self, subject: str, similarity: torch.Tensor, picture: torch.Tensor) -> list[_Step]:
        """The greedy chain from ``subject``: each category's step (see :class:`_Step`)."""
        prompt = subject
        score = self._scores([prompt], picture)[0]
        steps = []
        for category in CATEGORIES[1:]:
            candidates = self._best(category, similarity, self.candidates)
            room = MAX_PROMPT_CHARS - len(prompt) - len(JOINER)
            candidates = [phrase for phrase in candidates if len(phrase) <= room]
            if not candidates:
                continue
            scores = self._scores([prompt + JOINER + phrase for phrase in candidates], picture)
            ranked = sorted(zip(candidates, scores, strict=True), key=lambda pair: pair[1], reverse=True)
            best, best_score = ranked[0]
            steps.append(_Step(category, [phrase for phrase, _value in ranked], kept=best_score > score))
            if best_score > score:
                prompt, score = prompt + JOINER + best, best_score
        return steps

    def _scores(self, prompts: list[str], picture: torch.Tensor) -> list[float]:
        """Cosine similarity of each prompt (as typed) with the photo, in one text-encoder pass."""
        embeddings = self.classifier.text_embeddings(prompts).to(picture.device)
        return (embeddings @ picture).float().cpu().tolist()

    def _variants(self, subjects: list[str], steps: list[_Step]) -> list[str]:
        """The chain's prompt, then, rank after rank, one with the next medium (the same look), one from the next
        subject, ones with the next style and artist; ``variants`` different prompts at most."""
        prompts = [_assemble(subjects[0], steps, {})]
        by_category = {step.category: step for step in steps}
        for rank in range(1, max(self.candidates, len(subjects))):
            for what in VARIED:
                step = by_category.get(what)
                if step is not None and len(step.ranked) > rank:
                    _add_new(prompts, _assemble(subjects[0], steps, {what: step.ranked[rank]}))
                elif what == "subjects" and len(subjects) > rank:
                    _add_new(prompts, _assemble(subjects[rank], steps, {}))
                if len(prompts) >= self.variants:
                    return prompts
        return prompts


def _assemble(subject: str, steps: list[_Step], swaps: dict[str, str]) -> str:
    """``subject`` and each step's pick (or its swap) joined by commas, the chain's order, within the length."""
    prompt = subject
    for step in steps:
        phrase = swaps.get(step.category) or step.pick
        if phrase and len(prompt) + len(JOINER) + len(phrase) <= MAX_PROMPT_CHARS:
            prompt += JOINER + phrase
    return prompt


def _add_new(prompts: list[str], prompt: str) -> None:
    if prompt not in prompts:
        prompts.append(prompt)
