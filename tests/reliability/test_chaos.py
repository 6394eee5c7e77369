"""The chaos run in short (tests/reliability/chaos.py; the long one is bench/chaos.py): under a handful of users a
worker is SIGKILLed, the bot is SIGKILLed and Redis is restarted, once each, and still every accepted request gets
exactly one result, none twice, none lost, and every request gets an answer."""

from __future__ import annotations

import json

import pytest

from tests.reliability.chaos import FAULT_KINDS, Config, chaos, summary

pytestmark = pytest.mark.reliability

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
