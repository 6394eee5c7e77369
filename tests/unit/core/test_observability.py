"""Observability in process: stage timestamps through a job's life, structured logs with hashed users, the queue
depth gauge. The metrics, logs and health endpoints of the real bot and worker processes are in
tests/e2e/test_observability.py."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from rq import Queue
from rq.serializers import JSONSerializer

from bot.monitoring import QueueDepthCollector
from core import telemetry
from core.protocol import ChatRef, GenerateJob, ResultEvent, StageTimes

USER_ID = 918273645  # appears nowhere in the logs, only its hash
GROUP_ID = -100555444
USER_KEY = "test-log-key"


def test_stage_durations_follow_the_stages_and_old_payloads_stay_valid():
    times = StageTimes(received=100.0, enqueued=100.002, picked_up=100.5, model_done=102.5, published=102.51)
    times.delivered = 102.54
    durations = times.durations_ms()
    assert durations == {
        "enqueue_ms": 2.0,
        "wait_ms": 498.0,
        "model_ms": 2000.0,
        "publish_ms": 10.0,
        "deliver_ms": 30.0,
        "total_ms": 2540.0,
        "overhead_ms": 42.0,
    }
    old = GenerateJob.model_validate(
        {"chat": {"platform": "telegram", "chat_id": 1, "user_id": 1}, "prompt": "кот", "seed": 1}
    )
    assert old.times == StageTimes() and old.times.durations_ms() == {}
    assert StageTimes(received=1.0, delivered=None).durations_ms() == {}


def test_user_ids_are_hashed_with_the_key():
    chat = ChatRef(platform="telegram", chat_id=GROUP_ID, user_id=USER_ID)
    try:
        telemetry.set_user_key(None)
        unkeyed = telemetry.hash_user(chat)
        telemetry.set_user_key(USER_KEY)
        keyed = telemetry.hash_user(chat)
    finally:
        telemetry.set_user_key(None)
    assert len(keyed) == 12 and keyed != unkeyed and str(USER_ID) not in keyed
    other = ChatRef(platform="discord", chat_id=GROUP_ID, user_id=USER_ID)
    assert telemetry.hash_user(other) != unkeyed  # a platform's user ids are their own


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_job_line_carries_its_fields_in_both_formats(fmt, capsys):
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stdout)
    saved = root.handlers[:], root.level
    root.handlers[:] = [handler]
    try:
        telemetry.configure_logging(fmt, "INFO")
        chat = ChatRef(platform="telegram", chat_id=GROUP_ID, user_id=USER_ID)
        times = StageTimes(received=1.0, enqueued=1.25)
        telemetry.log_job(logging.getLogger("test"), "job_enqueued", "job-1", chat, "imagine", times, position=2)
    finally:
        root.handlers[:], root.level = saved
    line = capsys.readouterr().out.strip()
    assert str(USER_ID) not in line
    if fmt == "json":
        record = json.loads(line)
        assert record["event"] == record["message"] == "job_enqueued"
        assert record["job_id"] == "job-1" and record["chat"] == str(GROUP_ID) and record["kind"] == "imagine"
        assert record["user"] == telemetry.hash_user(chat) and record["enqueue_ms"] == 250.0
        assert record["position"] == 2 and record["level"] == "INFO"
    else:
        assert "INFO test: job_enqueued job_id=job-1 platform=telegram" in line
        assert f"chat={GROUP_ID} user={telemetry.hash_user(chat)} kind=imagine enqueue_ms=250.0 position=2" in line


def test_queue_depth_is_read_from_redis_on_each_scrape(redis_conn):
    queue = Queue("molbert-generate", connection=redis_conn, serializer=JSONSerializer)
    collector = QueueDepthCollector(redis_conn, lambda: [queue])
    assert _gauge(collector, "molbert_queue_depth") == {"molbert-generate": 0}
    for number in range(3):
        queue.enqueue_call("workers.jobs.generate", args=({"n": number},), job_id=f"depth-{number}")
    assert _gauge(collector, "molbert_queue_depth") == {"molbert-generate": 3}


def _gauge(collector, name: str) -> dict[str, float]:
    family = next(family for family in collector.collect() if family.name == name)
    return {sample.labels["queue"]: sample.value for sample in family.samples}


def test_result_events_without_times_stay_valid():
    event = ResultEvent.model_validate(
        {"job_id": "j", "kind": "classify", "chat": {"platform": "telegram", "chat_id": 1, "user_id": 2}}
    )
    assert event.times == StageTimes()
