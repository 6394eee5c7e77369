"""Few-shot chat classes (``/teach``, ``/classes``, ``/forget_class``) in the use cases: the name rules, every
refusal (nothing queued, nothing stored), the job, storing the result, and classification carrying the classes."""

from __future__ import annotations

from functools import partial

import pytest

from core.keys import teach_input_key
from core.protocol import ClassifyJob, ResultEvent, TaughtPrototype, TeachJob
from handlers import teach
from handlers.delivery import deliver_result, render_labels
from handlers.errors import ClassesUnavailable, UserError
from handlers.ports import TaughtClass, Upload
from handlers.texts import t
from tests import factories, images
from tests.factories import make_molbert
from tests.memory import MemoryTaughtClasses

chat = partial(factories.chat, message_id=10, platform="memory")


def uploads(count: int, data: bytes | None = None) -> list[Upload]:
    async def fetch() -> bytes:
        return data if data is not None else images.png(40, 40, (200, 30, 30))

    return [Upload(fetch, 1000, 10 + i) for i in range(count)]


@pytest.fixture
def classes() -> MemoryTaughtClasses:
    return MemoryTaughtClasses()


@pytest.fixture
def molbert(jobs, classes):
    return make_molbert(jobs, classes=classes)


@pytest.mark.parametrize(
    ("text", "name"), [("Мурка", "Мурка"), ("  рыжий\u200b   кот? ", "рыжий кот"), ("a" * 40, "a" * 40)]
)
def test_a_class_name_is_cleaned_like_a_label(text, name):
    assert teach.class_name(text) == name


@pytest.mark.parametrize(
    ("text", "key"), [(None, "teach_no_name"), (" ?\u200b ", "teach_no_name"), ("a" * 41, "teach_name_too_long")]
)
def test_an_empty_or_too_long_name_is_refused(text, key):
    with pytest.raises(UserError) as refused:
        teach.class_name(text)
    assert refused.value.key == key


async def test_teach_queues_one_job_with_every_photo(molbert, jobs, outbox):
    job_id = await molbert.teach(chat(), uploads(3), "Мурка", True, outbox)
    job = jobs.jobs[job_id]
    assert isinstance(job, TeachJob)
    assert job.name == "Мурка"
    assert job.image_keys == [teach_input_key(job_id, index) for index in range(3)]
    assert all(jobs.images[key].startswith(b"\xff\xd8") for key in job.image_keys)  # checked, stored as JPEG
    assert t("queued_next", "ru") in outbox.texts[0]


@pytest.mark.parametrize(
    ("count", "text", "is_admin", "key"),
    [
        (0, "Мурка", True, "teach_no_photo"),
        (11, "Мурка", True, "teach_too_many_photos"),
        (2, "", True, "teach_no_name"),
        (2, "x" * 41, True, "teach_name_too_long"),
        (2, "Мурка", False, "teach_admins_only"),
    ],
)
async def test_bad_requests_are_answered_and_nothing_is_queued(molbert, jobs, outbox, count, text, is_admin, key):
    assert await molbert.teach(chat(), uploads(count), text, is_admin, outbox) is None
    assert not jobs.jobs
    [answer] = outbox.texts
    assert answer == t(key, "ru", count=count, limit=40 if key == "teach_name_too_long" else 10, length=len(text))


async def test_a_broken_photo_is_answered_and_nothing_is_queued(molbert, jobs, outbox):
    assert await molbert.teach(chat(), uploads(2, data=b"not a picture"), "Мурка", True, outbox) is None
    assert not jobs.jobs
    assert outbox.texts == [t("image_unreadable", "ru")]


async def test_a_chat_has_at_most_so_many_classes_but_may_reteach_one(molbert, jobs, outbox, classes):
    for number in range(teach.MAX_TAUGHT_CLASSES):
        await classes.add(chat(), TaughtClass(f"класс {number}", (1.0, 0.0), 1, float(number)))
    assert await molbert.teach(chat(), uploads(1), "новый", True, outbox) is None
    assert outbox.texts == [t("teach_too_many_classes", "ru", limit=teach.MAX_TAUGHT_CLASSES)]
    assert await molbert.teach(chat(message_id=11), uploads(1), "Класс 3", True, outbox) is not None


def teach_result(name: str = "Мурка", shots: int = 3, **chat_fields) -> ResultEvent:
    return ResultEvent(
        job_id="memory-teach-42-10",
        kind="teach",
        chat=chat(**chat_fields),
        taught=TaughtPrototype(name=name, prototype=[0.6, 0.8], shots=shots, version=2),
        model="tiny-classifier",
    )


async def test_the_result_is_stored_and_answered_then_a_reteach_replaces_it(outbox, classes):
    await deliver_result(teach_result(), [], None, outbox, classes)
    await deliver_result(teach_result("мурка", 5), [], None, outbox, classes)
    assert outbox.texts == [
        t("teach_done", "ru", name="Мурка", count=3),
        t("teach_replaced", "ru", name="мурка", count=5),
    ]
    [stored] = await classes.classes(chat())
    assert (stored.name, stored.prototype, stored.shots) == ("мурка", (0.6, 0.8), 5)
    assert (stored.model, stored.version) == ("tiny-classifier", 2)  # what the vector is, for later scoring


async def test_classify_carries_each_class_with_its_format(molbert, jobs, outbox, classes):
    await classes.add(chat(), TaughtClass("Мурка", (1.0, 0.0), 3, 1.0))  # kept before the version field
    await classes.add(chat(), TaughtClass("Барсик", (0.0, 1.0), 2, 2.0, "tiny", 2))

    async def photo() -> bytes:
        return images.png(40, 40, (200, 30, 30))

    job_id = await molbert.classify(chat(message_id=20), photo, 1000, None, outbox)
    job = jobs.jobs[job_id]
    assert [(c.name, c.version) for c in job.taught] == [("Мурка", 1), ("Барсик", 2)]
    await molbert.taught_classes(chat(), outbox)
    assert t("classes_line_old", "ru", name="Мурка", count=3) in outbox.texts[-1]  # "teach it again"
    assert t("classes_line", "ru", name="Барсик", count=2) in outbox.texts[-1]


async def test_classes_lists_them_and_forget_class_removes_one(molbert, outbox, classes):
    await molbert.taught_classes(chat(), outbox)
    await deliver_result(teach_result(), [], None, outbox, classes)
    await molbert.taught_classes(chat(), outbox)
    await molbert.forget_class(chat(), "мурка", False, outbox)  # not an admin
    await molbert.forget_class(chat(), "мурка", True, outbox)
    await molbert.forget_class(chat(), "мурка", True, outbox)
    assert outbox.texts[0] == t("classes_none", "ru")
    assert "Мурка — 3 фото" in outbox.texts[2]
    assert outbox.texts[3:] == [
        t("teach_admins_only", "ru"),
        t("forget_class_done", "ru", name="мурка"),
        t("forget_class_unknown", "ru", name="мурка"),
    ]
    assert await classes.classes(chat()) == []


async def test_a_photo_is_classified_with_the_chats_taught_classes(molbert, jobs, outbox, classes):
    await deliver_result(teach_result(), [], None, outbox, classes)

    async def photo() -> bytes:
        return images.png(40, 40, (200, 30, 30))

    job_id = await molbert.classify(chat(message_id=20), photo, 1000, None, outbox)
    job = jobs.jobs[job_id]
    assert isinstance(job, ClassifyJob)
    assert [(taught.name, taught.prototype) for taught in job.taught] == [("Мурка", [0.6, 0.8])]
    other_chat = await molbert.classify(chat(message_id=21, chat_id=43), photo, 1000, None, outbox)
    assert jobs.jobs[other_chat].taught == []


def test_a_taught_class_is_marked_in_the_answer():
    from core.protocol import ScoredLabel

    event = ResultEvent(
        job_id="j",
        kind="classify",
        chat=chat(),
        labels=[ScoredLabel(label="Мурка", score=0.93, taught=True), ScoredLabel(label="кошка", score=0.05)],
        label_count=30,
    )
    assert "93% Мурка 🎓" in render_labels(event)


async def test_a_group_upgraded_to_a_supergroup_keeps_its_classes(molbert, outbox, classes):
    group = chat(chat_id=-42)
    await classes.add(group, TaughtClass("Мурка", (1.0, 0.0), 3, 1.0))
    await classes.add(chat(chat_id=-1004242), TaughtClass("Барсик", (0.0, 1.0), 1, 2.0))
    await molbert.chat_moved(group, -1004242)
    moved = await classes.classes(chat(chat_id=-1004242))
    assert [(c.name, c.shots) for c in moved] == [("Мурка", 3), ("Барсик", 1)]


class AwayClasses:
    """The database behind the taught classes cannot be reached (what ``bot.taught_classes`` raises then)."""

    async def classes(self, chat):
        raise ClassesUnavailable("OperationalError")

    async def add(self, chat, taught):
        raise ClassesUnavailable("OperationalError")

    async def remove(self, chat, name):
        raise ClassesUnavailable("OperationalError")


async def test_the_database_away_is_said_plainly_and_photos_are_still_classified(jobs, outbox):
    molbert = make_molbert(jobs, classes=AwayClasses())
    assert await molbert.teach(chat(), uploads(2), "Мурка", True, outbox) is None
    await molbert.taught_classes(chat(), outbox)
    await molbert.forget_class(chat(), "Мурка", True, outbox)
    assert outbox.texts == [t("classes_unavailable", "ru")] * 3
    assert not jobs.jobs

    async def photo() -> bytes:
        return images.png(40, 40, (200, 30, 30))

    job_id = await molbert.classify(chat(message_id=20), photo, 1000, None, outbox)
    assert job_id is not None and jobs.jobs[job_id].taught == []  # the labels alone
    await molbert.chat_moved(chat(chat_id=-5), -1005)  # settings move; the classes wait for the database
    await deliver_result(teach_result(), [], None, outbox, AwayClasses())  # a class learned meanwhile
    assert outbox.texts[-1] == t("teach_not_saved", "ru", name="Мурка")
