"""The chaos run in short (tests/reliability/chaos.py; the long one is bench/chaos.py): under a handful of users a
worker is SIGKILLed, the bot is SIGKILLed and Redis is restarted, once each, and still every accepted request gets
exactly one result, none twice, none lost, and every request gets an answer."""

from __future__ import annotations

import json

from handlers.texts import t
from tests.fakes.telegram_api import SentMessage
from tests.reliability.chaos import FAULT_KINDS, Config, chaos, judge, summary

# 105 s of traffic, one fault of each kind (three slots of 30 s after a 15 s warm-up; seed 1 puts a worker kill at
# 22 s, Redis down for 7 s at 61 s, a bot kill at 88 s). Timeouts are generous for a loaded 2-CPU runner; the
# invariant is not.
SHORT = Config(minutes=1.75, users=6, seed=1, think_seconds=10.0, fault_every=30.0, drain_timeout=150.0)


async def test_every_accepted_request_gets_one_result_through_kills_and_a_redis_restart(model_cache_dir, tmp_path):
    result = await chaos(SHORT, tmp_path, model_cache_dir, progress=lambda line: print(line, flush=True))
    print(summary(result))
    assert sorted(fault["kind"] for fault in result["faults"]) == sorted(FAULT_KINDS)
    assert result["invariant_holds"], json.dumps(result, ensure_ascii=False, indent=1)
    assert result["accepted"] >= 10 and result["lost"] == result["twice"] == result["unanswered"] == 0
    # after every fault the system served again: some result reached a chat once the broken part was back
    assert None not in result["worst_recovery_s"].values(), result["faults"]


def sent(message_id: int, *versions: str, photo: bytes | None = None, deleted: bool = False) -> SentMessage:
    """A bot message replying to the user's message #1, with its text's versions, oldest first."""
    method = "sendPhoto" if photo else "sendMessage"
    text = versions[-1] if versions else None
    return SentMessage(
        1, message_id, method, text, photo=photo, reply_to_message_id=1, history=list(versions), deleted=deleted
    )


def test_the_judge_counts_one_result_per_answer_however_the_status_message_ended():
    queued = t("queued", "ru", position=3)
    picture = judge([sent(2, queued, t("progress", "ru", percent=50), deleted=True), sent(3, photo=b"png")])
    assert (picture.accepted, picture.status, picture.results) == (True, True, ["picture"])
    labels = judge([sent(2, t("queued_next", "ru"), t("classify_header", "ru") + "\n▰▰ 90% кошка")])
    assert labels.results == ["labels"]
    failed = judge([sent(2, queued, t("job_failed", "ru", ref="ab12"))])
    assert failed.results == ["failed:job_failed"]
    twice = judge([sent(2, queued, deleted=True), sent(3, photo=b"png"), sent(4, photo=b"png")])
    assert twice.results == ["picture", "picture"]
    no_status = judge([sent(3, photo=b"png")])  # the bot died between queueing and saying so
    assert (no_status.accepted, no_status.status) == (True, False)
    refused = judge([sent(2, t("limit_rate", "ru", limit=6, seconds=9))])
    assert (refused.accepted, refused.refusal, refused.results) == (False, "limit_rate", [])
    waiting = judge([sent(2, queued)])
    assert (waiting.accepted, waiting.results) == (True, [])
