"""Few-shot chat classes (``/teach``) in the classifier: the prototype's maths, and taught classes scored with
the labels in one softmax on the tiny ruCLIP, through the production loading path."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from models.classifier import FEW_SHOT_AFFINITY, few_shot_photo_mean, normalize, taught_bonus
from models.labels import default_labels

RED, BLUE = (220, 30, 30), (30, 30, 220)


def photos(color: tuple[int, int, int], count: int) -> list[Image.Image]:
    """``count`` photos of one solid colour, each a little different (the tiny random model tells colours apart)."""
    return [Image.new("RGB", (64, 48), tuple(max(0, c - 6 * i) for c in color)) for i in range(count)]


def test_the_bonus_is_bounded_and_fades_with_the_distance_to_the_class_photos():
    torch.manual_seed(0)
    pictures = normalize(torch.randn(10, 16))
    mean = few_shot_photo_mean(pictures)
    assert mean.norm().item() == pytest.approx(1.0, abs=1e-5)
    assert (mean @ normalize(pictures.mean(dim=0))).item() == pytest.approx(1.0, abs=1e-5)
    other = normalize(torch.randn(16))
    near, far = taught_bonus(mean, mean[None])[0].item(), taught_bonus(other, mean[None])[0].item()
    assert near == pytest.approx(FEW_SHOT_AFFINITY)  # at most α, for a photo at the class's centre
    assert 0 < far < near / 100  # an unrelated photo gets next to nothing


def test_a_taught_class_wins_over_the_labels_on_a_new_photo_of_its_pattern(tiny_models):
    classifier = tiny_models.classifier
    taught = [
        ("Мурка", classifier.prototype(photos(RED, 3), "Мурка")),
        ("Барсик", classifier.prototype(photos(BLUE, 3), "Барсик")),
    ]
    labels = list(default_labels())
    new_red, new_blue = Image.new("RGB", (80, 60), (240, 20, 25)), Image.new("RGB", (80, 60), (25, 20, 240))
    red, blue = classifier.classify_batch([new_red, new_blue], [labels, labels], [taught, taught])
    assert red[0][0] == "Мурка"
    assert blue[0][0] == "Барсик"
    assert sum(score for _label, score in red) == pytest.approx(1.0, abs=1e-4)  # one softmax, labels included
    assert {label for label, _score in red} == {*labels, "Мурка", "Барсик"}
    untaught = classifier.classify_batch([new_red], [labels])[0]
    assert "Мурка" not in {label for label, _score in untaught}


def test_a_taught_class_replaces_a_label_of_the_same_name(tiny_models):
    classifier = tiny_models.classifier
    cat = classifier.prototype(photos(RED, 2), "кошка")
    scores = classifier.classify_batch(photos(RED, 1), [["Кошка", "собака"]], [[("кошка", cat)]])[0]
    assert sorted(label for label, _score in scores) == ["кошка", "собака"]


def test_a_prototype_of_another_model_is_refused(tiny_models):
    with pytest.raises(ValueError, match="dimensions"):
        tiny_models.classifier.classify_batch(photos(RED, 1), [["собака"]], [[("Мурка", [1.0, 0.0])]])


def test_a_taught_class_wins_only_photos_like_its_own_not_every_photo(tiny_models):
    """The modality gap: a photo is nearer any photo than any text, so a taught class scored as one more label
    won every photo of the chat. A photo far from the class's photos must get the answer the labels' text gives
    (the name scored as a plain label, where the text clearly prefers another label); one like them, the class."""
    classifier = tiny_models.classifier
    labels = list(default_labels())
    far, near = Image.new("RGB", (80, 60), (25, 20, 240)), Image.new("RGB", (80, 60), (240, 20, 25))
    zero_shot = classifier.classify_batch([far], [[*labels, "Мурка"]])[0]
    ranks = [label for label, _score in zero_shot]
    assert ranks.index("Мурка") > 10  # the text clearly prefers other labels for this photo
    taught = [("Мурка", classifier.prototype(photos(RED, 3), "Мурка"))]
    far_scores, near_scores = classifier.classify_batch([far, near], [labels, labels], [taught, taught])
    assert far_scores[0][0] == zero_shot[0][0]
    assert near_scores[0][0] == "Мурка"


def test_a_class_without_its_photos_mean_is_scored_by_its_name_like_a_label(tiny_models):
    classifier = tiny_models.classifier
    red = photos(RED, 1)
    as_label = dict(classifier.classify_batch(red, [["кошка", "собака", "Мурка"]])[0])
    as_old_class = dict(classifier.classify_batch(red, [["кошка", "собака"]], [[("Мурка", None)]])[0])
    assert as_old_class == pytest.approx(as_label, abs=1e-5)
