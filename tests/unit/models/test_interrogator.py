"""/describe's interrogator on the tiny preset's ruCLIP: deterministic, bounded, greedy, and the phrase bank's
embeddings computed once per model (kept in memory, then on disk like the default labels')."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from models.classifier import PLAIN_TEMPLATE, ZeroShotClassifier
from models.embedding_store import FORMAT_VERSION
from models.interrogator import CANDIDATES, JOINER, MAX_PROMPT_CHARS, Interrogator
from models.phrases import CATEGORIES, phrase_bank


def classifier_of(tiny_models, embedding_dir=None) -> ZeroShotClassifier:
    """The tiny preset's model with nothing in memory yet (the shared classifier's memory depends on test order)."""
    shared = tiny_models.classifier
    return ZeroShotClassifier(shared.model, shared.processor, shared.name, "cpu", embedding_dir=embedding_dir)


def photo(color: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (64, 48), color)
    image.paste((255 - color[0], color[1], 40), (10, 10, 40, 30))
    return image


def encoded_prompts(classifier: ZeroShotClassifier, monkeypatch) -> list[int]:
    """The number of prompts each text-encoder pass gets, as the passes happen."""
    passes: list[int] = []
    original = classifier.model.get_text_features

    def spy(*args, input_ids, **kwargs):
        passes.append(len(input_ids))
        return original(*args, input_ids=input_ids, **kwargs)

    monkeypatch.setattr(classifier.model, "get_text_features", spy)
    return passes


def test_the_tiny_preset_classifier_is_ruclip(tiny_models):
    assert type(tiny_models.classifier.model).__name__ == "CLIPModel"


def test_a_description_is_bank_phrases_one_per_category_in_two_to_four_prompts(tiny_models):
    described = Interrogator(classifier_of(tiny_models)).describe(photo((200, 120, 30)))
    bank = phrase_bank()
    category_of = {phrase: category for category, phrases in bank.categories.items() for phrase in phrases}
    assert described.subject in bank.categories["subjects"]
    assert described.prompts[0].split(JOINER)[0] == described.subject
    assert 2 <= len(described.prompts) <= 4 and len(set(described.prompts)) == len(described.prompts)
    for prompt in described.prompts:
        assert len(prompt) <= MAX_PROMPT_CHARS
        categories = [category_of[part] for part in prompt.split(JOINER)]
        assert categories[0] == "subjects"
        assert len(set(categories)) == len(categories), prompt  # one phrase per category at most
        assert categories == sorted(categories, key=CATEGORIES.index)  # in the prompt's order
    assert described.prompts[0] == JOINER.join([described.subject, *described.traits])


def test_the_same_photo_gets_the_same_description(tiny_models):
    classifier = classifier_of(tiny_models)
    first = Interrogator(classifier).describe(photo((30, 90, 200)))
    assert Interrogator(classifier).describe(photo((30, 90, 200))) == first
    assert Interrogator(classifier_of(tiny_models)).describe(photo((30, 90, 200))) == first


def test_the_chain_keeps_only_phrases_that_raise_the_similarity(tiny_models):
    classifier = classifier_of(tiny_models)
    image = photo((120, 200, 60))
    described = Interrogator(classifier).describe(image)
    picture = classifier.image_embedding(image)
    growing = [described.subject]
    for trait in described.traits:
        growing.append(growing[-1] + JOINER + trait)
    similarities = (classifier.text_embeddings(growing) @ picture).tolist()
    assert similarities == sorted(similarities) and len(set(similarities)) == len(similarities)


def test_the_bank_is_encoded_once_then_read_from_memory_and_disk(tiny_models, tmp_path, monkeypatch):
    classifier = classifier_of(tiny_models, tmp_path)
    passes = encoded_prompts(classifier, monkeypatch)
    interrogator = Interrogator(classifier)
    interrogator.describe(photo((10, 10, 10)))
    bank_size = len(phrase_bank().phrases)
    assert sum(passes) > bank_size  # the bank, then the prompts of the chain
    stored = interrogator.classifier.embedding_store().path(phrase_bank().phrases, PLAIN_TEMPLATE)
    data = torch.load(stored, weights_only=True)
    assert data["version"] == FORMAT_VERSION and data["embeddings"].shape[0] == bank_size

    passes.clear()
    interrogator.describe(photo((250, 250, 250)))
    chain_bound = 1 + (len(CATEGORIES) - 1) * CANDIDATES
    assert 0 < sum(passes) <= chain_bound  # a second photo: no bank embeddings computed
    assert interrogator.bank_embeddings()[1] == "memory"

    restarted = classifier_of(tiny_models, tmp_path)  # a restarted worker: the same model, the same cache dir
    restarted_passes = encoded_prompts(restarted, monkeypatch)
    assert Interrogator(restarted).bank_embeddings()[1] == "disk"
    assert restarted_passes == []


def test_a_bank_without_subjects_is_refused(tiny_models):
    from models.phrases import PhraseBank

    with pytest.raises(ValueError, match="subjects"):
        Interrogator(classifier_of(tiny_models), PhraseBank({"mediums": ("акварель",)}))


def test_a_picture_like_a_prompt_gets_that_prompts_phrases(tiny_models):
    """A "photo" whose embedding lies between those of a subject and of the subject with a medium (the joint space
    makes it one; the tiny model's random weights know no real photo): the chain starts from that subject and keeps
    a medium, each phrase kept raising the similarity."""
    classifier = classifier_of(tiny_models)
    subject, medium = "кот на подоконнике", "акварель"
    prompts = classifier.text_embeddings([subject, subject + JOINER + medium])
    picture = torch.nn.functional.normalize(prompts.sum(dim=0), dim=-1)
    # every phrase a candidate: the tiny model's similarity of «акварель» alone to the picture says little
    described = Interrogator(classifier, candidates=1000).describe_embedding(picture)
    assert described.subject == subject
    assert "mediums" in described.picks  # some medium brings the prompt closer (the random model picks which)
    growing = [described.subject]
    for trait in described.traits:
        growing.append(growing[-1] + JOINER + trait)
    similarities = (classifier.text_embeddings(growing) @ picture).tolist()
    assert similarities == sorted(similarities) and len(set(similarities)) == len(similarities)
