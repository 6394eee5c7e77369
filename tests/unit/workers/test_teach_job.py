"""The worker's side of few-shot chat classes: the ``teach`` job makes a prototype from its photos and name and
publishes it (keeping no photo), and a micro-batch of classifications scores each photo with its own chat's taught
classes. The real worker on the tiny models, with a real Redis."""

from __future__ import annotations

import io
from functools import partial

import pytest
from PIL import Image

from bot.queue import RedisJobs
from core.keys import input_key, result_stream, teach_input_key
from core.protocol import ClassifyJob, ResultEvent, TaughtLabel, TeachJob, job_id_for
from models.classifier import TAUGHT_VERSION
from tests import factories
from tests.factories import work_until_empty
from workers import runtime
from workers.jobs import _taught

chat = partial(factories.chat, chat_id=100)
RED, BLUE = (220, 30, 30), (30, 30, 220)


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (48, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def results(redis_conn) -> list[ResultEvent]:
    entries = redis_conn.xrange(result_stream("telegram"))
    return [ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries]


async def teach(redis_conn, message_id: int, name: str, color: tuple[int, int, int], shots: int) -> str:
    job_id = job_id_for(chat(message_id), "teach")
    keys = [teach_input_key(job_id, index) for index in range(shots)]
    job = TeachJob(chat=chat(message_id), name=name, image_keys=keys)
    assert await RedisJobs(redis_conn).submit_teach(job_id, job, [jpeg(color)] * shots) is not None
    return job_id


async def test_the_teach_job_publishes_a_unit_prototype_and_keeps_no_photo(redis_conn, tiny_models):
    job_id = await teach(redis_conn, 1, "Мурка", RED, 3)
    work_until_empty(tiny_models, redis_conn)
    [event] = results(redis_conn)
    assert (event.job_id, event.kind, event.ok) == (job_id, "teach", True)
    assert event.taught is not None and (event.taught.name, event.taught.shots) == ("Мурка", 3)
    assert event.taught.version == TAUGHT_VERSION  # the photos' mean, which the frontend stores as such
    assert sum(value * value for value in event.taught.prototype) == pytest.approx(1.0, abs=1e-4)
    assert len(event.taught.prototype) == tiny_models.classifier.model.config.projection_dim
    assert not redis_conn.keys("molbert:teach-input:*")


async def test_a_teach_job_whose_photos_expired_is_refused(redis_conn, tiny_models):
    job_id = await teach(redis_conn, 1, "Мурка", RED, 2)
    redis_conn.delete(teach_input_key(job_id, 1))
    work_until_empty(tiny_models, redis_conn)
    [event] = results(redis_conn)
    assert (event.kind, event.ok, event.error_key, event.taught) == ("teach", False, "photo_gone", None)


async def test_a_batch_scores_each_photo_with_its_own_chats_classes(redis_conn, tiny_models):
    classifier = tiny_models.classifier
    red, blue = [Image.new("RGB", (48, 48), RED)], [Image.new("RGB", (48, 48), BLUE)]
    murka = TaughtLabel(name="Мурка", prototype=classifier.prototype(red, "Мурка"), version=TAUGHT_VERSION)
    barsik = TaughtLabel(name="Барсик", prototype=classifier.prototype(blue, "Барсик"), version=TAUGHT_VERSION)
    jobs, ids = RedisJobs(redis_conn), []
    for message_id, taught in ((1, [murka, barsik]), (2, []), (3, [barsik])):
        job_id = job_id_for(chat(message_id), "classify")
        job = ClassifyJob(chat=chat(message_id), image_key=input_key(job_id), labels=["кошка", "собака"], taught=taught)
        assert await jobs.submit_classify(job_id, job, jpeg(RED, (60, 40))) is not None
        ids.append(job_id)
    runtime.set_batch_size(8)
    work_until_empty(tiny_models, redis_conn)
    events = {event.job_id: event for event in results(redis_conn)}
    both, none, other = (events[job_id] for job_id in ids)
    assert (both.labels[0].label, both.labels[0].taught) == ("Мурка", True)
    assert {label.label for label in both.labels} == {"Мурка", "Барсик", "кошка", "собака"}
    assert both.label_count == 4
    assert {label.label for label in none.labels} == {"кошка", "собака"}
    assert not any(label.taught for label in none.labels)
    assert {label.label for label in other.labels if label.taught} == {"Барсик"}


def test_a_class_kept_in_the_old_format_is_scored_by_its_name_only(tiny_models):
    classifier = tiny_models.classifier
    mix = classifier.prototype([Image.new("RGB", (48, 48), RED)], "Мурка")
    old = TaughtLabel(name="Мурка", prototype=mix)  # a photo+text mix from before the version field
    assert _taught(old, classifier) == ("Мурка", None)
    assert _taught(old.model_copy(update={"version": TAUGHT_VERSION}), classifier) == ("Мурка", mix)


async def test_a_class_taught_with_another_classifier_is_scored_by_its_name_and_the_photo_still_answered(
    redis_conn, tiny_models
):
    """The operator changed MODEL_CLASSIFIER after a chat taught a class: its stored photos' mean lives in the old
    model's space (another size, or the same size and meaningless here). The photo must still be answered, the
    class scored by its name like a label, until the chat teaches it again."""
    classifier = tiny_models.classifier
    red = [Image.new("RGB", (48, 48), RED)]
    own = classifier.prototype(red, "Мурка")
    other_size = TaughtLabel(name="Мурка", prototype=[0.6, 0.8], version=TAUGHT_VERSION, model="ruclip-vit-large")
    same_size = TaughtLabel(name="Барсик", prototype=own, version=TAUGHT_VERSION, model="ruclip-vit-large")
    job_id = job_id_for(chat(7), "classify")
    job = ClassifyJob(
        chat=chat(7), image_key=input_key(job_id), labels=["кошка", "собака"], taught=[other_size, same_size]
    )
    assert await RedisJobs(redis_conn).submit_classify(job_id, job, jpeg(RED, (60, 40))) is not None
    work_until_empty(tiny_models, redis_conn)
    (event,) = [event for event in results(redis_conn) if event.job_id == job_id]
    assert event.kind == "classify", event
    assert {label.label for label in event.labels} == {"Мурка", "Барсик", "кошка", "собака"}
    assert max(label.score for label in event.labels) < 0.9  # no photo bonus: four names near chance on random text
    assert _taught(same_size, classifier) == ("Барсик", None)
    assert _taught(same_size.model_copy(update={"model": None}), classifier) == ("Барсик", own)
