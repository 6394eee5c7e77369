"""The output check every generated image passes before it is stored: zero-shot with the loaded CLIP model.

An image whose unsafe score is above the threshold is blurred beyond recognition before it is stored, so
neither the result nor its U button ever shows the original.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image, ImageFilter

DEFAULT_UNSAFE_LABELS = ("обнажённое тело", "порнография", "откровенная эротика", "кровь и жестокое насилие")
DEFAULT_SAFE_LABELS = (
    "обычная фотография",
    "рисунок",
    "пейзаж",
    "портрет одетого человека",
    "животное",
    "еда",
    "здание",
    "предмет",
    "абстрактный узор",
)


class ZeroShotClassifier(Protocol):
    """What the check needs of a classifier (``models.classifier.ImageClassifier`` in production)."""

    def classify(self, image: Image.Image, labels: Sequence[str]) -> list[tuple[str, float]]: ...


@dataclass(frozen=True)
class ImageSafety:
    """Scores images against unsafe and safe labels with a zero-shot classifier."""

    classifier: ZeroShotClassifier
    unsafe_labels: tuple[str, ...] = DEFAULT_UNSAFE_LABELS
    safe_labels: tuple[str, ...] = DEFAULT_SAFE_LABELS
    threshold: float = 0.5

    def unsafe_score(self, image: Image.Image) -> float:
        """How unsafe ``image`` looks, 0..1: the unsafe labels' share of a softmax, or the top sigmoid score."""
        scores = dict(self.classifier.classify(image, [*self.unsafe_labels, *self.safe_labels]))
        unsafe = [scores[label] for label in self.unsafe_labels]
        return max(unsafe) if getattr(self.classifier, "sigmoid", False) else sum(unsafe)

    def screen(
        self, images: Sequence[Image.Image], threshold: float | None = None
    ) -> tuple[list[Image.Image], list[int]]:
        """Return the images with the unsafe ones blurred, and the indices of those.

        ``threshold`` is a job's own (its chat's ``/settings``); ``None`` uses the configured one.
        """
        limit = self.threshold if threshold is None else threshold
        hidden = [index for index, image in enumerate(images) if self.unsafe_score(image) > limit]
        return [blur(image) if index in hidden else image for index, image in enumerate(images)], hidden


def blur(image: Image.Image) -> Image.Image:
    """Blur ``image`` so that nothing in it can be made out."""
    return image.filter(ImageFilter.GaussianBlur(radius=max(image.size) / 10))


def labels_from_setting(value: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """``"a, b"`` → ``("a", "b")``; empty → ``default``."""
    labels = tuple(label.strip() for label in value.split(",") if label.strip())
    return labels or default
