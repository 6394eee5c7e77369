"""Few-shot chat classes (``/teach``) in the classifier: the prototype's maths, and taught classes scored with
the labels in one softmax on the tiny ruCLIP, through the production loading path."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from models.classifier import few_shot_prototype, normalize
from models.labels import default_labels

RED, BLUE = (220, 30, 30), (30, 30, 220)


def photos(color: tuple[int, int, int], count: int) -> list[Image.Image]:
    """``count`` photos of one solid colour, each a little different (the tiny random model tells colours apart)."""
    return [Image.new("RGB", (64, 48), tuple(max(0, c - 6 * i) for c in color)) for i in range(count)]


def test_the_prototype_is_a_unit_vector_leaning_to_the_photos_as_they_grow():
    torch.manual_seed(0)
    text = normalize(torch.randn(16))
    pictures = normalize(torch.randn(10, 16))
    mean = normalize(pictures.mean(dim=0))
    one = few_shot_prototype(pictures[:1], text)
    ten = few_shot_prototype(pictures, text)
    assert one.norm().item() == pytest.approx(1.0, abs=1e-5)
    assert (one @ normalize(pictures[0])).item() == pytest.approx((one @ text).item(), abs=1e-5)  # half and half
    assert (ten @ mean).item() > (ten @ text).item() + 0.3  # ten photos say more than a name
    assert (ten @ mean).item() > (few_shot_prototype(pictures[:3], text) @ mean).item()


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
