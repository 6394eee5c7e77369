"""The terminal chat teaching a class, end to end: `python -m bot` with no token, no REDIS_URL, tiny models; a
photo typed after the class was learnt is answered with it among the labels, then the class is forgotten. The
``console`` fixture is tests/e2e/conftest.py's."""

from __future__ import annotations

from handlers.texts import t
from tests import images

WAIT_SECONDS = 180


def test_the_console_teaches_a_class_and_recognises_it(tmp_path, console):
    photos = []
    for number, color in enumerate([(220, 30, 30), (210, 25, 35), (235, 30, 25)]):
        photos.append(tmp_path / f"red{number}.png")
        photos[-1].write_bytes(images.png(64, 64, color))
    chat = console(WAIT_SECONDS)
    learnt = chat.typed(f"/teach Мурка {photos[0]} {photos[1]}", "🎓")
    assert t("teach_done", "ru", name="Мурка", count=2) in learnt
    answer = chat.typed(f"{photos[2]}", "Мурка 🎓")
    assert "% Мурка 🎓" in answer
    assert "• Мурка — 2 фото" in chat.typed("/classes", "Мурка — ")
    assert t("forget_class_done", "ru", name="Мурка") in chat.typed("/forget_class Мурка", "Забыл")
    assert chat.finish() == 0
