"""The terminal chat's ``/teach Мурка a.jpg b.jpg``, ``/classes`` and ``/forget_class`` (the whole console process
teaching and recognising is in tests/e2e/test_console_teach.py)."""

from __future__ import annotations

import pytest

from bot.console import ConsoleOutbox, ConsoleSession, split_teach
from core.protocol import TeachJob
from handlers.images import normalize_image
from handlers.ports import TaughtClass
from handlers.texts import t
from tests import images
from tests.factories import make_molbert
from tests.memory import MemoryJobs, MemoryTaughtClasses


@pytest.fixture
def session(tmp_path) -> tuple[ConsoleSession, MemoryJobs, MemoryTaughtClasses]:
    jobs, classes = MemoryJobs(), MemoryTaughtClasses()
    return ConsoleSession(make_molbert(jobs, classes=classes), ConsoleOutbox(tmp_path / "images")), jobs, classes


@pytest.mark.parametrize(
    ("typed", "name", "paths"),
    [
        ("Мурка a.jpg b.png", "Мурка", ["a.jpg", "b.png"]),
        ('рыжий кот "my photo.jpg"', "рыжий кот", ["my photo.jpg"]),
        ("д'Артаньян a.jpg", "д'Артаньян", ["a.jpg"]),
        ("Мурка", "Мурка", []),
        ("", "", []),
    ],
)
def test_the_name_comes_first_then_the_photos(typed, name, paths):
    assert split_teach(typed) == (name, paths)


async def test_teach_queues_the_photos_named(session, tmp_path, capsys):
    console, jobs, _classes = session
    data = [images.png(40, 30, (200, 30, 30)), images.png(30, 40, (210, 20, 20))]
    for number, png in enumerate(data):
        (tmp_path / f"{number}.png").write_bytes(png)
    await console.handle_line(f"/научи Мурка {tmp_path / '0.png'} {tmp_path / '1.png'}\n")
    [job] = jobs.jobs.values()
    assert isinstance(job, TeachJob) and job.name == "Мурка"
    assert [jobs.images[key] for key in job.image_keys] == [normalize_image(png) for png in data]
    assert "⏳" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/teach Мурка", t("teach_no_photo", "ru", platform="console")),
        ("/teach Мурка nope.jpg", t("console_no_file", "ru", path="nope.jpg")),
    ],
)
async def test_bad_teach_lines_are_explained_and_queue_nothing(session, capsys, typed, expected):
    console, jobs, _classes = session
    await console.handle_line(typed + "\n")
    assert expected in capsys.readouterr().out
    assert jobs.jobs == {}


async def test_classes_are_listed_and_forgotten(session, capsys):
    console, _jobs, classes = session
    await console.handle_line("/classes\n")
    assert t("classes_none", "ru", platform="console") in capsys.readouterr().out
    await classes.add(console.chat(), TaughtClass("Мурка", (1.0,), 3, 1.0))
    await console.handle_line("/классы\n")
    assert "• Мурка — 3 фото" in capsys.readouterr().out
    await console.handle_line("/forget_class Мурка\n")
    assert t("forget_class_done", "ru", name="Мурка") in capsys.readouterr().out
    assert await classes.classes(console.chat()) == []
