"""The result listener against a real Redis stream: delivery, acknowledgement, dedup, recovery, poison."""

from __future__ import annotations

import asyncio
import inspect
import json

from bot.queue import RedisJobs
from bot.results import DEAD_LETTER_SUFFIX, MAX_DELIVERY_ATTEMPTS, ResultListener
from core.keys import delivered_key, result_stream
from core.protocol import RESULT_STREAM_CONSUMER_GROUP, ChatRef, ResultEvent, ScoredLabel
from handlers.delivery import render_labels, render_progress
from tests.memory import MemoryOutbox

PLATFORM = "memory"
STREAM = result_stream(PLATFORM)


def classify_event(job_id: str = "job-1", message_id: int = 1) -> ResultEvent:
    chat = ChatRef(platform=PLATFORM, chat_id=5, user_id=5, message_id=message_id)
    labels = [ScoredLabel(label="кошка", score=0.8), ScoredLabel(label="собака", score=0.2)]
    return ResultEvent(job_id=job_id, kind="classify", chat=chat, ok=True, labels=labels)


async def publish(aredis, event: ResultEvent) -> None:
    await aredis.xadd(STREAM, {"event": event.model_dump_json()})


async def wait_until(condition, timeout: float = 10.0) -> None:
    """Poll ``condition`` (a plain or async callable) until it is true."""
    async with asyncio.timeout(timeout):
        while not await _value(condition()):
            await asyncio.sleep(0.02)


async def _value(value):
    return await value if inspect.isawaitable(value) else value


async def no_pending(aredis) -> bool:
    return await pending_count(aredis) == 0


async def pending_count(aredis) -> int:
    return (await aredis.xpending(STREAM, RESULT_STREAM_CONSUMER_GROUP))["pending"]


class Running:
    """A listener task for the duration of a ``with`` block."""

    def __init__(self, listener: ResultListener) -> None:
        self.listener = listener

    async def __aenter__(self) -> ResultListener:
        self.task = asyncio.create_task(self.listener.run())
        await asyncio.sleep(0)
        return self.listener

    async def __aexit__(self, *exc) -> None:
        self.listener.stop()
        await asyncio.wait_for(self.task, 5)


def listener(aredis, outbox, consumer="c1", reclaim_idle_ms=60_000) -> ResultListener:
    return ResultListener(aredis, PLATFORM, outbox, consumer=consumer, block_ms=50, reclaim_idle_ms=reclaim_idle_ms)


async def test_result_is_delivered_into_the_status_message_then_acknowledged(aredis, redis_conn):
    outbox = MemoryOutbox()
    event = classify_event()
    status = await outbox.send_text(event.chat, "⏳")
    assert await RedisJobs(redis_conn).remember_status_message(event.job_id, status)
    async with Running(listener(aredis, outbox)):
        await publish(aredis, event)
        await wait_until(lambda: bool(outbox.by_id(status).edits))
        await wait_until(lambda: no_pending(aredis))
    assert outbox.texts == [render_labels(event)]
    assert await aredis.exists(delivered_key(event.job_id))
    # the frontend learns a late status message is stale
    assert not await RedisJobs(redis_conn).remember_status_message(event.job_id, 999)


async def test_a_repeated_event_is_delivered_once(aredis):
    outbox = MemoryOutbox()
    async with Running(listener(aredis, outbox)):
        await publish(aredis, classify_event())
        await publish(aredis, classify_event())
        await wait_until(lambda: len(outbox.sent) >= 1)
        await wait_until(lambda: no_pending(aredis))
    assert len(outbox.sent) == 1


async def test_a_pending_entry_trimmed_from_the_stream_is_acknowledged_not_kept_forever(aredis, caplog):
    """Past STREAM_MAXLEN Redis trims entries a frontend read but did not acknowledge: they come back empty."""
    await publish(aredis, classify_event())
    await aredis.xgroup_create(STREAM, RESULT_STREAM_CONSUMER_GROUP, id="0", mkstream=True)
    await aredis.xreadgroup(RESULT_STREAM_CONSUMER_GROUP, "c1", {STREAM: ">"})
    await aredis.xtrim(STREAM, maxlen=0)
    outbox = MemoryOutbox()
    async with Running(listener(aredis, outbox, consumer="c1", reclaim_idle_ms=0)):
        await wait_until(lambda: no_pending(aredis))
    assert outbox.sent == []


async def test_entries_left_pending_by_a_killed_frontend_are_delivered_after_restart(aredis):
    await publish(aredis, classify_event())
    await aredis.xgroup_create(STREAM, RESULT_STREAM_CONSUMER_GROUP, id="0", mkstream=True)
    # the first run read the entry, then died before delivering or acknowledging it
    await aredis.xreadgroup(RESULT_STREAM_CONSUMER_GROUP, "c1", {STREAM: ">"})
    assert await pending_count(aredis) == 1
    outbox = MemoryOutbox()
    async with Running(listener(aredis, outbox, consumer="c1")):
        await wait_until(lambda: no_pending(aredis))
    assert len(outbox.sent) == 1


async def test_a_dead_replicas_entries_are_claimed_by_another(aredis):
    await publish(aredis, classify_event())
    await aredis.xgroup_create(STREAM, RESULT_STREAM_CONSUMER_GROUP, id="0", mkstream=True)
    await aredis.xreadgroup(RESULT_STREAM_CONSUMER_GROUP, "dead-replica", {STREAM: ">"})
    outbox = MemoryOutbox()
    async with Running(listener(aredis, outbox, consumer="c2", reclaim_idle_ms=0)):
        await wait_until(lambda: no_pending(aredis))
    assert len(outbox.sent) == 1


async def test_malformed_events_are_dead_lettered_and_the_listener_keeps_serving(aredis):
    outbox = MemoryOutbox()
    async with Running(listener(aredis, outbox)):
        await aredis.xadd(STREAM, {"event": "{not json"})
        await aredis.xadd(STREAM, {"something": "else"})
        await publish(aredis, classify_event())
        await wait_until(lambda: len(outbox.sent) == 1)
        await wait_until(lambda: no_pending(aredis))
    dead = await aredis.xrange(STREAM + DEAD_LETTER_SUFFIX)
    assert [fields for _id, fields in dead] == [{b"event": b"{not json"}, {b"something": b"else"}]


async def test_failed_delivery_is_retried_then_dead_lettered(aredis):
    class BrokenOutbox(MemoryOutbox):
        attempts = 0

        async def send_text(self, chat, text, buttons=None, **options):
            BrokenOutbox.attempts += 1
            raise ConnectionError("platform down")

    outbox = BrokenOutbox()
    async with Running(listener(aredis, outbox, reclaim_idle_ms=0)):
        await publish(aredis, classify_event())
        await wait_until(lambda: aredis.xlen(STREAM + DEAD_LETTER_SUFFIX), timeout=30)
    assert BrokenOutbox.attempts == MAX_DELIVERY_ATTEMPTS
    assert await pending_count(aredis) == 0
    assert not await aredis.exists(delivered_key("job-1"))
    [(_id, fields)] = await aredis.xrange(STREAM + DEAD_LETTER_SUFFIX)
    assert json.loads(fields[b"event"])["job_id"] == "job-1"


async def test_progress_events_edit_the_status_message_and_are_acknowledged(aredis, redis_conn):
    outbox = MemoryOutbox()
    event = classify_event()
    status = await outbox.send_text(event.chat, "⏳")
    await RedisJobs(redis_conn).remember_status_message(event.job_id, status)
    progress = ResultEvent(job_id=event.job_id, kind="progress", chat=event.chat, progress=0.5, seconds=4.0)
    async with Running(listener(aredis, outbox)):
        await publish(aredis, progress)
        await wait_until(lambda: bool(outbox.by_id(status).edits))
        await wait_until(lambda: no_pending(aredis))
        assert outbox.by_id(status).edits == [render_progress(progress)]
        await publish(aredis, event)  # the result still replaces the status message afterwards
        await wait_until(lambda: len(outbox.by_id(status).edits) == 2)
    assert outbox.texts == [render_labels(event)]


async def test_progress_after_the_result_changes_nothing(aredis, redis_conn):
    outbox = MemoryOutbox()
    event = classify_event()
    status = await outbox.send_text(event.chat, "⏳")
    await RedisJobs(redis_conn).remember_status_message(event.job_id, status)
    async with Running(listener(aredis, outbox)):
        await publish(aredis, event)
        await wait_until(lambda: bool(outbox.by_id(status).edits))
        late = ResultEvent(job_id=event.job_id, kind="progress", chat=event.chat, progress=0.9)
        await publish(aredis, late)
        await wait_until(lambda: no_pending(aredis))
    assert outbox.by_id(status).edits == [render_labels(event)]
