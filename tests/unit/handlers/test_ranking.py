"""Ranking an album by a caption query: the album collector, the use case, rendering, and the real worker."""

from __future__ import annotations

import asyncio
import io
from functools import partial

import pytest
from PIL import Image

from bot.queue import RedisJobs
from bot.telegram.albums import AlbumCollector
from core.keys import rank_input_key, result_stream
from core.protocol import MAX_RANKED_PHOTOS, ClassifyJob, RankJob, ResultEvent, job_id_for
from handlers.delivery import deliver_result, render_ranking
from handlers.images import normalize_image
from handlers.ports import Upload
from handlers.texts import t
from tests import factories, images
from tests.factories import make_molbert, work_until_empty
from tests.memory import MemoryOutbox

QUERY = "самый смешной мем"
COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (240, 240, 20)]


chat = partial(factories.chat, message_id=10, platform="memory")


def uploads(count: int = 3, first_message: int | None = 10, data: bytes | None = None) -> list[Upload]:
    """``count`` photos, sent as messages ``first_message``, +1…; ``None``: without messages of their own."""

    def download(index: int):
        async def fetch() -> bytes:
            return data if data is not None else images.png(40 + index, 40, COLORS[index % len(COLORS)])

        return fetch

    return [Upload(download(i), 1000, None if first_message is None else first_message + i) for i in range(count)]


# --- the album collector ---------------------------------------------------------------------------------


async def test_album_parts_arriving_separately_are_answered_once_in_message_order():
    collector: AlbumCollector[str] = AlbumCollector(window=0.1)

    async def part(order: int, delay: float):
        await asyncio.sleep(delay)
        return await collector.add(("chat", "album"), order, f"photo{order}")

    results = await asyncio.gather(part(3, 0.0), part(1, 0.02), part(2, 0.05))
    assert results == [["photo1", "photo2", "photo3"], None, None]  # the first part's caller owns the album


async def test_albums_are_kept_apart_and_a_late_part_starts_a_new_album():
    collector: AlbumCollector[int] = AlbumCollector(window=0.05)
    first, other = await asyncio.gather(collector.add("a", 1, 1), collector.add("b", 1, 2))
    assert (first, other) == ([1], [2])
    assert await collector.add("a", 2, 3) == [3]


# --- the use case --------------------------------------------------------------------------------------


async def test_album_with_a_query_queues_one_ranking_job(jobs, outbox):
    job_id = await make_molbert(jobs).rank(chat(), uploads(3), f"  {QUERY} ", outbox)
    assert job_id == job_id_for(chat(), "rank")
    job = jobs.jobs[job_id]
    assert isinstance(job, RankJob)
    assert (job.query, job.photo_messages) == (QUERY, [10, 11, 12])
    assert job.image_keys == [rank_input_key(job_id, i) for i in range(3)]
    stored = [Image.open(io.BytesIO(jobs.images[key])) for key in job.image_keys]
    assert [image.format for image in stored] == ["JPEG"] * 3
    assert [image.width for image in stored] == [40, 41, 42]
    assert outbox.texts == [t("queued_next", "ru")]


async def test_photos_without_messages_of_their_own_are_ranked_with_none_to_reply_to(jobs, outbox):
    """A Discord command's attachments: the job says so by naming no photo messages (the result shows the best)."""
    job_id = await make_molbert(jobs).rank(chat(), uploads(3, first_message=None), QUERY, outbox)
    job = jobs.jobs[job_id]
    assert (job.query, job.photo_messages, len(job.image_keys)) == (QUERY, [], 3)


async def test_a_repeated_album_queues_nothing_more(jobs, outbox):
    molbert = make_molbert(jobs)
    await molbert.rank(chat(), uploads(2), QUERY, outbox)
    assert await molbert.rank(chat(), uploads(2), QUERY, outbox) is None
    assert len(jobs.jobs) == 1


@pytest.mark.parametrize(
    ("count", "query", "data", "key"),
    [
        (1, QUERY, None, "rank_photo_count"),
        (MAX_RANKED_PHOTOS + 1, QUERY, None, "rank_photo_count"),
        (2, " \u200b ", None, "rank_no_query"),
        (2, QUERY, b"\x00" * 50, "image_unreadable"),
    ],
    ids=["one-photo", "too-many", "blank-query", "broken-photo"],
)
async def test_bad_rankings_are_explained_and_queue_nothing(jobs, outbox, count, query, data, key):
    assert await make_molbert(jobs).rank(chat(), uploads(count, data=data), query, outbox) is None
    assert jobs.jobs == {}
    assert outbox.texts == [t(key, "ru", limit=MAX_RANKED_PHOTOS)]


async def test_too_big_photo_is_refused_before_any_download(jobs, outbox):
    downloaded = []

    async def download() -> bytes:
        downloaded.append(1)
        return images.png()

    big = [Upload(download, 1000, 1), Upload(download, 30 * 2**20, 2)]
    assert await make_molbert(jobs).rank(chat(), big, QUERY, outbox) is None
    assert downloaded == []
    assert "30.0" in outbox.texts[0]


async def test_album_with_a_phrase_is_ranked(jobs, outbox):
    [job_id] = await make_molbert(jobs).album(chat(), uploads(3), QUERY, outbox)
    assert isinstance(jobs.jobs[job_id], RankJob)


@pytest.mark.parametrize("caption", [None, "", "кошка, собака", "что это?"])
async def test_album_without_a_query_classifies_each_photo_as_a_reply_to_it(jobs, outbox, caption):
    queued = await make_molbert(jobs).album(chat(), uploads(3), caption, outbox)
    assert queued == [job_id_for(chat(message_id=10 + i), "classify") for i in range(3)]
    assert all(isinstance(jobs.jobs[job_id], ClassifyJob) for job_id in queued)
    assert [jobs.jobs[job_id].chat.message_id for job_id in queued] == [10, 11, 12]
    expected = ["кошка", "собака"] if caption and "," in caption else None
    assert all(jobs.jobs[job_id].labels == expected for job_id in queued)


# --- rendering -------------------------------------------------------------------------------------------


def rank_event(lang: str = "ru", platform: str = "memory", photo_messages: list | None = None) -> ResultEvent:
    return ResultEvent(
        job_id="j",
        kind="rank",
        chat=chat(lang=lang, platform=platform),
        question=QUERY,
        ranking=[2, 0, 1],
        scores=[0.2, 0.1, 0.7],
        photo_messages=[10, 11, 12] if photo_messages is None else photo_messages,
    )


def test_ranking_lists_every_photo_best_first():
    assert render_ranking(rank_event()).splitlines() == [
        "🏆 «самый смешной мем»: лучше всего подходит фото 3.",
        "1. ▰▰▰▰▰▰▰▱▱▱  70% фото 3",
        "2. ▰▰▱▱▱▱▱▱▱▱  20% фото 1",
        "3. ▰▱▱▱▱▱▱▱▱▱  10% фото 2",
    ]
    assert render_ranking(rank_event("en")).splitlines()[1].endswith("photo 3")


def test_on_discord_the_ranking_names_pictures_of_how_many():
    assert render_ranking(rank_event(platform="discord")).splitlines()[:2] == [
        "🏆 «самый смешной мем»: лучше всего подходит картинка 3 из 3.",
        "1. ▰▰▰▰▰▰▰▱▱▱  70% картинка 3",
    ]
    assert render_ranking(rank_event("en", platform="discord")).splitlines()[0].endswith("picture 3 of 3.")


async def test_photos_without_messages_get_the_best_photo_with_the_ranking(outbox):
    event = rank_event(platform="discord", photo_messages=[])
    status = await outbox.send_text(event.chat, "⏳")
    best = images.png(8, 8)
    await deliver_result(event, [best], status, outbox)
    assert outbox.by_id(status).deleted
    answer = outbox.sent[-1]
    assert (answer.photo, answer.text, answer.chat.message_id) == (best, render_ranking(event), 10)


async def test_once_the_best_photo_expired_the_ranking_comes_alone(outbox):
    event = rank_event(platform="discord", photo_messages=[])
    await deliver_result(event, [], None, outbox)
    assert [(m.text, m.photo) for m in outbox.sent] == [(render_ranking(event), None)]


async def test_ranking_is_a_reply_to_the_winning_photo_and_replaces_the_status(outbox):
    event = rank_event()
    status = await outbox.send_text(event.chat, "⏳")
    await deliver_result(event, [], status, outbox)
    assert outbox.by_id(status).deleted
    answer = outbox.sent[-1]
    assert answer.chat.message_id == 12
    assert answer.text == render_ranking(event)


# --- the real worker -------------------------------------------------------------------------------------


async def test_worker_ranks_the_album_as_the_model_does(redis_conn, tiny_models):
    photos = [images.png(64, 64, color) for color in COLORS]
    album = chat(message_id=20, platform="telegram")
    job_id = await make_molbert(RedisJobs(redis_conn)).rank(album, uploads_of(photos, 20), QUERY, MemoryOutbox())
    work_until_empty(tiny_models, redis_conn)
    [(_id, fields)] = redis_conn.xrange(result_stream("telegram"))
    event = ResultEvent.model_validate_json(fields[b"event"])
    stored = [Image.open(io.BytesIO(normalize_image(photo))) for photo in photos]
    similarities = tiny_models.classifier.similarities(stored, QUERY)
    expected = sorted(range(len(photos)), key=lambda i: similarities[i], reverse=True)
    assert len(set(similarities)) == len(photos), "the tiny model must tell these photos apart"
    assert (event.job_id, event.kind, event.ok, event.question) == (job_id, "rank", True, QUERY)
    assert event.ranking == expected
    assert event.scores == pytest.approx(tiny_models.classifier.shares(similarities))
    assert sum(event.scores) == pytest.approx(1)
    assert event.photo_messages == [20, 21, 22, 23]
    assert not any(redis_conn.exists(rank_input_key(job_id, i)) for i in range(len(photos)))


async def test_worker_keeps_the_best_photo_when_there_is_no_message_to_reply_to(redis_conn, tiny_models):
    photos = [images.png(64, 64, color) for color in COLORS[:3]]
    attached = chat(message_id=40, platform="discord")
    no_messages = [Upload(upload.download, upload.size) for upload in uploads_of(photos, 40)]
    job_id = await make_molbert(RedisJobs(redis_conn)).rank(attached, no_messages, QUERY, MemoryOutbox())
    work_until_empty(tiny_models, redis_conn)
    [(_id, fields)] = redis_conn.xrange(result_stream("discord"))
    event = ResultEvent.model_validate_json(fields[b"event"])
    best = rank_input_key(job_id, event.ranking[0])
    assert (event.ok, event.photo_messages, event.image_keys) == (True, [], [best])
    assert redis_conn.get(best) == normalize_image(photos[event.ranking[0]])
    assert [redis_conn.exists(rank_input_key(job_id, i)) for i in event.ranking[1:]] == [0, 0], "the rest are gone"


async def test_worker_refuses_when_the_photos_are_gone(redis_conn, tiny_models):
    album = chat(message_id=30, platform="telegram")
    job_id = await make_molbert(RedisJobs(redis_conn)).rank(album, uploads(2, 30), QUERY, MemoryOutbox())
    redis_conn.delete(rank_input_key(job_id, 1))
    work_until_empty(tiny_models, redis_conn)
    [(_id, fields)] = redis_conn.xrange(result_stream("telegram"))
    event = ResultEvent.model_validate_json(fields[b"event"])
    assert (event.kind, event.ok, event.error_key) == ("rank", False, "photo_gone")


def uploads_of(photos: list[bytes], first_message: int) -> list[Upload]:
    def fetch(data: bytes):
        async def download() -> bytes:
            return data

        return download

    return [Upload(fetch(data), len(data), first_message + i) for i, data in enumerate(photos)]
