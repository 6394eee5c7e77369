"""Limits and admission control on a real Redis: what is refused, with what text, and when slots come back."""

from __future__ import annotations

from functools import partial

import pytest

from bot.limits import RedisAdmission
from core.keys import active_key
from core.protocol import GENERATE_QUEUE, ChatRef, ResultEvent
from handlers.errors import UserError
from handlers.limits import LimitPolicy, RequestRefused
from handlers.ports import Upload
from handlers.texts import t
from tests import factories, images
from tests.factories import work_until_empty
from workers.publish import publish

OFF = {"per_user_per_minute": 0, "per_user_per_day": 0, "per_chat_per_minute": 0, "max_queue_length": 0}


chat = partial(factories.chat, chat_id=100, user_id=1)


def admission(redis_conn, **policy) -> RedisAdmission:
    return RedisAdmission(redis_conn, LimitPolicy(**{**OFF, "concurrent_per_user": 0, **policy}))


async def refusal(admission: RedisAdmission, who: ChatRef, job_id: str) -> UserError:
    with pytest.raises(UserError) as err:
        await admission.admit(who, job_id, GENERATE_QUEUE)
    return err.value


async def test_concurrent_jobs_per_user_are_capped_and_freed_by_results(redis_conn):
    limits = admission(redis_conn, concurrent_per_user=2)
    await limits.admit(chat(), "a", GENERATE_QUEUE)
    await limits.admit(chat(), "b", GENERATE_QUEUE)
    err = await refusal(limits, chat(), "c")
    assert t(err.key, "ru", **err.values) == t("limit_concurrent", "ru", count=2)
    await limits.admit(chat(user_id=2), "d", GENERATE_QUEUE)  # others are not held up
    publish(redis_conn, ResultEvent(job_id="a", kind="imagine", chat=chat(), ok=True))  # a result frees the slot
    await limits.admit(chat(), "c", GENERATE_QUEUE)


async def test_progress_reports_do_not_free_a_slot(redis_conn):
    limits = admission(redis_conn, concurrent_per_user=1)
    await limits.admit(chat(), "a", GENERATE_QUEUE)
    publish(redis_conn, ResultEvent(job_id="a", kind="progress", chat=chat(), progress=0.5))
    assert (await refusal(limits, chat(), "b")).key == "limit_concurrent"


async def test_released_slots_are_free_again(redis_conn):
    limits = admission(redis_conn, concurrent_per_user=1)
    await limits.admit(chat(), "a", GENERATE_QUEUE)
    await limits.release(chat(), "a")
    await limits.admit(chat(), "b", GENERATE_QUEUE)


async def test_a_lost_job_frees_its_slot_after_its_lifetime(redis_conn):
    limits = admission(redis_conn, concurrent_per_user=1, job_lifetime=-1)  # already expired
    await limits.admit(chat(), "a", GENERATE_QUEUE)
    await limits.admit(chat(), "b", GENERATE_QUEUE)


async def test_rate_per_minute_says_when_to_come_back(redis_conn):
    limits = admission(redis_conn, per_user_per_minute=3)
    for job in "abc":
        await limits.admit(chat(), job, GENERATE_QUEUE)
    err = await refusal(limits, chat(), "d")
    assert err.key == "limit_rate" and err.values["limit"] == 3 and 1 <= err.values["seconds"] <= 60


async def test_daily_quota(redis_conn):
    limits = admission(redis_conn, per_user_per_day=2)
    await limits.admit(chat(), "a", GENERATE_QUEUE)
    await limits.admit(chat(), "b", GENERATE_QUEUE)
    err = await refusal(limits, chat(), "c")
    assert err.key == "limit_daily" and 1 <= err.values["hours"] <= 24


async def test_per_chat_rate_counts_everyone_in_the_chat(redis_conn):
    limits = admission(redis_conn, per_chat_per_minute=2)
    await limits.admit(chat(user_id=1), "a", GENERATE_QUEUE)
    await limits.admit(chat(user_id=2), "b", GENERATE_QUEUE)
    assert (await refusal(limits, chat(user_id=3), "c")).key == "limit_chat"
    await limits.admit(chat(user_id=3, chat_id=200), "d", GENERATE_QUEUE)


async def test_back_pressure_refuses_when_the_queue_is_long(redis_conn):
    limits = admission(redis_conn, max_queue_length=2)
    redis_conn.rpush(f"rq:queue:{GENERATE_QUEUE}", "x", "y")
    err = await refusal(limits, chat(), "a")
    assert err.key == "queue_full" and err.values["length"] == 2


async def test_a_refused_job_reserves_nothing(redis_conn):
    limits = admission(redis_conn, concurrent_per_user=1, per_user_per_minute=5)
    await limits.admit(chat(), "a", GENERATE_QUEUE)
    await refusal(limits, chat(), "b")
    assert redis_conn.zrange(active_key("telegram", 1), 0, -1) == [b"a"]
    assert redis_conn.zcard("molbert:rate:telegram:1") == 1


async def test_the_jobs_of_one_request_count_once(redis_conn):
    """An album's photos: one request against the limits; each photo still holds a slot until its result."""
    limits = admission(redis_conn, concurrent_per_user=2, per_user_per_minute=6)
    await limits.admit(chat(), "earlier", GENERATE_QUEUE)
    for photo in ("p1", "p2", "p3", "p4"):
        await limits.admit(chat(), photo, GENERATE_QUEUE, request_id="album-1")
    assert redis_conn.zcard(active_key("telegram", 1)) == 5
    assert redis_conn.zcard("molbert:rate:telegram:1") == 2
    assert (await refusal(limits, chat(), "next")).key == "limit_concurrent"
    for job_id in ("earlier", "p1", "p2", "p3"):
        publish(redis_conn, ResultEvent(job_id=job_id, kind="classify", chat=chat(), ok=True))
    await limits.admit(chat(), "next", GENERATE_QUEUE)


async def test_a_refused_request_is_refused_once(redis_conn):
    limits = admission(redis_conn, concurrent_per_user=1)
    await limits.admit(chat(), "earlier", GENERATE_QUEUE)
    with pytest.raises(UserError) as first:
        await limits.admit(chat(), "p1", GENERATE_QUEUE, request_id="album-1")
    assert first.value.key == "limit_concurrent"
    with pytest.raises(RequestRefused):  # the user was told already
        await limits.admit(chat(), "p2", GENERATE_QUEUE, request_id="album-1")
    assert redis_conn.zrange(active_key("telegram", 1), 0, -1) == [b"earlier"]


# --- through the use cases, with a real worker ----------------------------------------------------------


async def test_over_the_limit_is_answered_and_nothing_is_queued(redis_conn):
    from tests.factories import make_molbert
    from tests.memory import MemoryJobs, MemoryOutbox

    jobs, outbox = MemoryJobs(), MemoryOutbox()
    molbert = make_molbert(jobs, admission=admission(redis_conn, concurrent_per_user=1))
    first = ChatRef(platform="telegram", chat_id=5, user_id=5, message_id=1)
    assert await molbert.imagine(first, "кот", outbox) is not None
    assert await molbert.imagine(first.model_copy(update={"message_id": 2}), "пёс", outbox) is None
    assert len(jobs.jobs) == 1
    assert outbox.texts[-1] == t("limit_concurrent", "ru", count=1)


def album(count: int) -> list[Upload]:
    async def download() -> bytes:
        return images.png(32, 32)

    return [Upload(download=download, size=100, message_id=10 + n) for n in range(count)]


async def test_an_album_is_one_request_under_the_default_limits(redis_conn):
    """Ten photos with no caption are all classified: the album counts once, not ten times (which the default
    two-at-a-time and six-a-minute limits would refuse), and a refused album is refused in one message."""
    from tests.factories import make_molbert
    from tests.memory import MemoryJobs, MemoryOutbox

    jobs, outbox = MemoryJobs(), MemoryOutbox()
    molbert = make_molbert(jobs, admission=RedisAdmission(redis_conn))
    alice = ChatRef(platform="telegram", chat_id=5, user_id=5, message_id=10)
    assert len(await molbert.album(alice, album(10), None, outbox)) == 10
    assert t("limit_concurrent", "ru", count=2) not in outbox.texts
    assert await molbert.imagine(alice.model_copy(update={"message_id": 1}), "кот", outbox) is None
    assert outbox.texts[-1] == t("limit_concurrent", "ru", count=2)
    sent_before = len(outbox.sent)
    assert await molbert.album(alice.model_copy(update={"message_id": 30}), album(3), None, outbox) == []
    assert [m.text for m in outbox.sent[sent_before:]] == [t("limit_concurrent", "ru", count=2)]


async def test_a_redelivered_event_after_its_job_finished_takes_no_slot(redis_conn):
    """Telegram re-sends an update whose job is done: nothing is queued, and the user is not locked out."""
    from bot.queue import RedisJobs
    from tests.factories import make_molbert
    from tests.memory import MemoryOutbox

    molbert = make_molbert(RedisJobs(redis_conn), admission=admission(redis_conn, concurrent_per_user=1))
    outbox = MemoryOutbox()
    asked = ChatRef(platform="telegram", chat_id=5, user_id=5, message_id=1)
    job_id = await molbert.imagine(asked, "кот", outbox)
    publish(redis_conn, ResultEvent(job_id=job_id, kind="imagine", chat=asked, ok=False, error_ref="x"))
    assert await molbert.imagine(asked, "кот", outbox) is None  # the same update again
    assert redis_conn.zcard(active_key("telegram", 5)) == 0
    assert await molbert.imagine(asked.model_copy(update={"message_id": 2}), "пёс", outbox) is not None


async def test_one_users_burst_does_not_hold_up_another_user(redis_conn, tiny_models):
    """Fair scheduling by admission control: Alice sends ten, Bob one; Bob's picture is among the first three."""
    from bot.queue import RedisJobs
    from core.keys import result_stream
    from tests.factories import make_molbert
    from tests.memory import MemoryOutbox

    molbert = make_molbert(RedisJobs(redis_conn), admission=admission(redis_conn, concurrent_per_user=2))
    outbox = MemoryOutbox()
    alice = [ChatRef(platform="telegram", chat_id=1, user_id=1, message_id=n) for n in range(10)]
    queued = [await molbert.imagine(message, f"кот {n}", outbox) for n, message in enumerate(alice)]
    bob = await molbert.imagine(ChatRef(platform="telegram", chat_id=2, user_id=2, message_id=1), "пёс", outbox)
    assert sum(job is not None for job in queued) == 2
    assert outbox.texts.count(t("limit_concurrent", "ru", count=2)) == 8
    work_until_empty(tiny_models, redis_conn)
    results = [
        ResultEvent.model_validate_json(fields[b"event"]).job_id
        for _id, fields in redis_conn.xrange(result_stream("telegram"))
        if b'"kind":"imagine"' in fields[b"event"]
    ]
    assert bob in results[:3]
    assert redis_conn.zcard(active_key("telegram", 1)) == 0, "Alice's slots are free again"
