"""Queues per GPU class: ``--model NAME`` sends a picture to that generator's queue, and only the workers that
listen there (``WORKER_QUEUES``) paint it (that with real worker processes is in tests/e2e/test_routing.py)."""

from __future__ import annotations

import pytest
from rq.job import Job
from rq.serializers import JSONSerializer

from bot.config import BotSettings
from bot.limits import RedisAdmission
from bot.queue import RedisJobs
from core.config import ConfigError, load
from core.protocol import GENERATE_QUEUE
from handlers.errors import UserError
from handlers.limits import LimitPolicy
from handlers.routing import GeneratorRoutes
from handlers.texts import t
from tests.factories import chat, make_molbert

ROUTES = GeneratorRoutes.parse("quality=molbert-generate-big, fast=molbert-generate-small")


# --- the table ---------------------------------------------------------------------------------------------------


def test_the_first_generator_is_the_default_and_names_are_case_blind():
    routes = GeneratorRoutes.parse(" Quality = molbert-generate-big ,fast=molbert-generate-small,")
    assert routes.names == ["quality", "fast"]
    assert routes.queue_for(None) == "molbert-generate-big"
    assert routes.queue_for("fast") == "molbert-generate-small"
    assert routes.all_queues == ["molbert-generate-big", "molbert-generate-small"]


def test_without_a_table_every_picture_goes_to_the_one_queue():
    routes = GeneratorRoutes.parse("")
    assert (routes.names, routes.queue_for(None), routes.all_queues) == ([], GENERATE_QUEUE, [GENERATE_QUEUE])
    with pytest.raises(UserError) as err:
        routes.check("fast")
    assert err.value.key == "option_model_single"


def test_a_name_the_deployment_lacks_is_refused_with_the_ones_it_has():
    with pytest.raises(UserError) as err:
        ROUTES.check("huge")
    assert t(err.value.key, "ru", **err.value.values) == "Модели «huge» здесь нет. Доступные модели: quality, fast."


@pytest.mark.parametrize("text", ["quality", "quality=", "=q", "a b=q", "x=q,x=r", "x=bad queue"])
def test_a_malformed_table_is_a_config_error_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv("BOT_GENERATORS", text)
    with pytest.raises(ConfigError, match="BOT_GENERATORS"):
        load(BotSettings)


# --- the use case ------------------------------------------------------------------------------------------------


async def test_imagine_with_a_model_queues_it_for_that_generator_and_a_reroll_keeps_it(redis_conn, outbox):
    admission = RedisAdmission(redis_conn, LimitPolicy(concurrent_per_user=5))
    molbert = make_molbert(RedisJobs(redis_conn, ROUTES), admission=admission, routes=ROUTES)
    job_id = await molbert.imagine(chat(1), "маяк на скале --модель FAST", outbox)
    default_id = await molbert.imagine(chat(2), "маяк на скале", outbox)

    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert (job.origin, job.args[0]["generator"]) == ("molbert-generate-small", "fast")
    assert Job.fetch(default_id, connection=redis_conn, serializer=JSONSerializer).origin == "molbert-generate-big"

    await molbert.press(chat(3), f"r:{job_id}", "press-1", outbox)
    rerolls = [Job.fetch(i, connection=redis_conn, serializer=JSONSerializer) for i in _queued(redis_conn)]
    assert sorted(j.origin for j in rerolls) == [
        "molbert-generate-big",
        "molbert-generate-small",
        "molbert-generate-small",
    ]

    queue = {job.job_id: job.queue for job in await molbert.jobs.user_jobs(chat())}
    assert queue[job_id] == "molbert-generate-small"


async def test_an_unknown_model_is_answered_and_nothing_is_queued(redis_conn, outbox):
    molbert = make_molbert(RedisJobs(redis_conn, ROUTES), routes=ROUTES)
    assert await molbert.imagine(chat(), "маяк --model huge", outbox) is None
    assert outbox.sent[-1].text == "Модели «huge» здесь нет. Доступные модели: quality, fast."
    assert _queued(redis_conn) == []


def _queued(redis_conn) -> list[str]:
    return [job_id.decode() for name in ROUTES.all_queues for job_id in redis_conn.lrange(f"rq:queue:{name}", 0, -1)]
