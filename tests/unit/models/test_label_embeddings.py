"""Label text embeddings are kept per label: a label set only sends its new labels through the text encoder,
a batch sends all its new labels in one pass, and memory stays bounded."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from models import classifier as classifier_module
from models.classifier import ZeroShotClassifier
from models.labels import default_labels

NEW_LABELS = ["тюлень на льдине", "морж в воде", "альбатрос над морем", "пингвин на камне", "кит у берега"]


@pytest.fixture
def fresh(tiny_models) -> ZeroShotClassifier:
    """The tiny preset's model with nothing in memory yet (the shared classifier's memory depends on test order)."""
    shared = tiny_models.classifier
    return ZeroShotClassifier(shared.model, shared.processor, shared.name, "cpu")


@pytest.fixture
def prompts_encoded(fresh, monkeypatch) -> list[list[str]]:
    """The prompts of each text-encoder pass, decoded back to text."""
    passes: list[list[str]] = []
    original = fresh.model.get_text_features

    def spy(*args, input_ids, **kwargs):
        passes.append(fresh.processor.tokenizer.batch_decode(input_ids, skip_special_tokens=True))
        return original(*args, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(fresh.model, "get_text_features", spy)
    return passes


def photo(color: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (48, 40), color)


def encoded_count(passes: list[list[str]]) -> int:
    return sum(len(prompts) for prompts in passes)


def test_a_question_about_one_label_encodes_only_that_label(fresh, prompts_encoded):
    defaults = default_labels()
    fresh.preload_labels(defaults)
    prompts_encoded.clear()
    question = [NEW_LABELS[0], *defaults]  # what the worker scores for "is it a seal?"
    scores = fresh.classify(photo((90, 90, 200)), question)
    assert [len(prompts) for prompts in prompts_encoded] == [len(fresh.templates)]
    assert sorted(label for label, _ in scores) == sorted(question)
    assert sum(score for _, score in scores) == pytest.approx(1.0, abs=1e-5)


def test_label_sets_sharing_labels_encode_each_label_once(fresh, prompts_encoded):
    fresh.classify(photo((10, 200, 10)), NEW_LABELS[:2])
    fresh.classify(photo((10, 200, 10)), [NEW_LABELS[1], NEW_LABELS[2]])
    fresh.classify(photo((10, 200, 10)), list(reversed(NEW_LABELS[:3])))
    templates = len(fresh.templates)
    assert [len(prompts) for prompts in prompts_encoded] == [2 * templates, templates]


def test_a_batch_encodes_all_its_new_labels_in_one_pass(fresh, prompts_encoded):
    label_sets = [NEW_LABELS[:2], NEW_LABELS[1:4], [NEW_LABELS[4]], NEW_LABELS[:2]]
    pictures = [photo((40 * index, 90, 200 - 40 * index)) for index in range(len(label_sets))]
    batched = fresh.classify_batch(pictures, label_sets)
    assert [len(prompts) for prompts in prompts_encoded] == [len(NEW_LABELS) * len(fresh.templates)]
    assert set(NEW_LABELS) <= set(prompts_encoded[0])  # template "{}": the label as it is
    alone = ZeroShotClassifier(fresh.model, fresh.processor, fresh.name, "cpu")  # each set encoded on its own
    for picture, labels, result in zip(pictures, label_sets, batched, strict=True):
        expected = alone.classify(picture, labels)
        assert [label for label, _ in result] == [label for label, _ in expected]
        assert [score for _, score in result] == pytest.approx([score for _, score in expected], abs=1e-5)


def test_many_new_labels_go_through_the_encoder_in_bounded_passes(fresh, prompts_encoded, monkeypatch):
    monkeypatch.setattr(classifier_module, "TEXT_BATCH_PROMPTS", 2 * len(fresh.templates))
    labels = tuple(NEW_LABELS)
    chunked = fresh._label_embeddings(labels)
    assert [len(prompts) for prompts in prompts_encoded] == [2 * len(fresh.templates)] * 2 + [len(fresh.templates)]
    whole = ZeroShotClassifier(fresh.model, fresh.processor, fresh.name, "cpu")
    monkeypatch.setattr(classifier_module, "TEXT_BATCH_PROMPTS", 1024)
    assert torch.allclose(chunked, whole._label_embeddings(labels), atol=1e-5)


def test_prompts_of_one_length_share_a_pass_and_no_pass_computes_padding(fresh, monkeypatch):
    masks: list[torch.Tensor] = []
    original = fresh.model.get_text_features

    def spy(*args, attention_mask, **kwargs):
        masks.append(attention_mask)
        return original(*args, attention_mask=attention_mask, **kwargs)

    labels = ("кот", "большой рыжий кот на подоконнике у окна", *NEW_LABELS)
    monkeypatch.setattr(classifier_module, "MIN_PASS_PROMPTS", 1)
    monkeypatch.setattr(fresh.model, "get_text_features", spy)
    by_length = fresh._label_embeddings(labels)
    assert len(masks) > 1 and all(bool(mask.all()) for mask in masks)
    assert sum(len(mask) for mask in masks) == len(labels) * len(fresh.templates)
    one_pass = ZeroShotClassifier(fresh.model, fresh.processor, fresh.name, "cpu")
    monkeypatch.setattr(classifier_module, "MIN_PASS_PROMPTS", 10_000)
    masks.clear()
    assert torch.allclose(by_length, one_pass._label_embeddings(labels), atol=1e-5)
    assert len(masks) == 1 and not bool(masks[0].all())  # the long label pads the others


def test_memory_keeps_the_recent_labels_and_every_preloaded_one(fresh, prompts_encoded, monkeypatch):
    monkeypatch.setattr(classifier_module, "TEXT_CACHE_LABELS", 2)
    preloaded = default_labels()[:3]
    fresh.preload_labels(preloaded)
    for label in NEW_LABELS[:3]:
        fresh.classify(photo((1, 2, 3)), [label, *preloaded])
    before = encoded_count(prompts_encoded)
    fresh.classify(photo((1, 2, 3)), [*NEW_LABELS[1:3], *preloaded])  # the two most recent, and the pinned ones
    assert encoded_count(prompts_encoded) == before
    fresh.classify(photo((1, 2, 3)), [NEW_LABELS[0]])  # the oldest was let go: encoded again
    assert encoded_count(prompts_encoded) == before + len(fresh.templates)
    assert len(fresh._recent) == 2
    assert fresh.preload_labels(preloaded) == "memory"


def test_a_preloaded_set_is_scored_without_the_encoder_and_as_if_encoded_now(fresh, prompts_encoded):
    labels = default_labels()[:20]
    fresh.preload_labels(labels)
    prompts_encoded.clear()
    picture = photo((200, 120, 40))
    scored = fresh.classify(picture, labels)
    assert prompts_encoded == []
    expected = ZeroShotClassifier(fresh.model, fresh.processor, fresh.name, "cpu").classify(picture, labels)
    assert [label for label, _ in scored] == [label for label, _ in expected]
    assert [score for _, score in scored] == pytest.approx([score for _, score in expected], abs=1e-5)
