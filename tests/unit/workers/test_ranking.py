"""The switch between cosine and a learned ranker (workers/ranking.py), and the worker ranking with it: ``--best``
candidates and ``/rank`` albums, on a real Redis and the tiny models."""

from __future__ import annotations

import io
from functools import partial

import pytest
from PIL import Image

from bot.queue import RedisJobs
from core.keys import rank_input_key, ranker_key, result_stream
from core.protocol import GenerateJob, RankerStatus, RankJob, ResultEvent, job_id_for
from models import ranker
from tests import factories, images
from workers import runtime
from workers.ranking import RankerSwitch

PLATFORM = "telegram"
chat = partial(factories.chat, chat_id=300, platform=PLATFORM)
PROMPT = "кот в космосе"


def figures(ndcg_at_1: float) -> dict:
    return {"ndcg@1": ndcg_at_1, "ndcg@4": ndcg_at_1, "pairwise_accuracy": ndcg_at_1}


def save_reversing_ranker(directory, clip_model: str, learned: float = 0.9, cosine: float = 0.3, dims: int = 32):
    """A ranker whose order is cosine's reversed (so a test can tell which one ranked), with the held-out figures
    given: a training report as ``models.ranker.train`` writes it."""
    net = ranker.RankerNet(dims)
    net.cosine_weight.data.fill_(-1.0)
    report = {"usable": 120, "held_out": {"ranker": figures(learned), "cosine": figures(cosine)}}
    return ranker.save(directory, net, report, clip_model)


def events(redis_conn) -> list[ResultEvent]:
    entries = redis_conn.xrange(result_stream(PLATFORM))
    every = [ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries]
    return [event for event in every if event.kind != "progress"]


@pytest.fixture
def jobs(redis_conn) -> RedisJobs:
    return RedisJobs(redis_conn)


def test_a_ranker_that_beats_cosine_by_the_margin_goes_live(tmp_path, redis_conn):
    save_reversing_ranker(tmp_path, "some/tiny-clip", learned=0.45, cosine=0.42)
    live = RankerSwitch(tmp_path, 0.02, "/cache/tiny-clip", redis_conn)
    assert live.current() is not None and live.status.live
    assert RankerStatus.model_validate_json(redis_conn.get(ranker_key())).name == "ranker-v1"
    strict = RankerSwitch(tmp_path, 0.05, "/cache/tiny-clip")
    assert strict.current() is None
    assert strict.status.why == "weak" and "does not beat cosine" in strict.status.reason


def test_a_ranker_of_another_clip_model_is_not_used(tmp_path):
    save_reversing_ranker(tmp_path, "ai-forever/ruclip-vit-base-patch32-384")
    switch = RankerSwitch(tmp_path, 0.02, "google/siglip-base-patch16-256-multilingual")
    assert switch.current() is None
    assert switch.status.why == "other_clip"
    assert "trained for ruclip-vit-base-patch32-384" in switch.status.reason


def test_no_ranker_saved_is_cosine(tmp_path, redis_conn):
    switch = RankerSwitch(tmp_path / "none", 0.02, "clip", redis_conn)
    assert switch.current() is None
    status = RankerStatus.model_validate_json(redis_conn.get(ranker_key()))
    assert (status.live, status.name, status.why) == (False, None, "none")


def test_a_newer_version_is_picked_up_at_the_next_check(tmp_path):
    save_reversing_ranker(tmp_path, "clip", learned=0.3, cosine=0.3)
    switch = RankerSwitch(tmp_path, 0.02, "clip", check_seconds=0)
    assert switch.current() is None
    save_reversing_ranker(tmp_path, "clip", learned=0.8, cosine=0.3)
    assert switch.current().name == "ranker-v2"
    slow = RankerSwitch(tmp_path, 0.02, "clip", check_seconds=3600)
    assert slow.current().name == "ranker-v2"
    save_reversing_ranker(tmp_path, "clip", learned=0.3, cosine=0.3)
    assert slow.current().name == "ranker-v2"  # not looked for again before the hour is out


def test_a_broken_version_leaves_cosine(tmp_path):
    broken = save_reversing_ranker(tmp_path, "clip")
    (broken / ranker.MODEL_FILE).write_bytes(b"not safetensors")
    switch = RankerSwitch(tmp_path, 0.02, "clip")
    assert switch.current() is None
    assert (switch.status.why, switch.status.name) == ("broken", None)


async def test_best_of_keeps_the_live_rankers_choice(jobs, run_worker, redis_conn, tiny_models, tmp_path):
    generator, classifier = tiny_models.generator, tiny_models.classifier
    seed = 3
    candidates = generator.generate(PROMPT, seed=seed, num_images=4)
    by_cosine = classifier.rank_images(candidates, PROMPT)
    save_reversing_ranker(tmp_path, classifier.name)
    runtime.set_ranker(RankerSwitch(tmp_path, 0.02, classifier.name))
    job = GenerateJob(chat=chat(1), prompt=PROMPT, seed=seed, num_images=2, best_of=4)
    assert await jobs.submit_generate(job_id_for(chat(1), "imagine"), job) is not None
    run_worker()
    [event] = events(redis_conn)
    kept = [Image.open(io.BytesIO(redis_conn.get(key))).convert("RGB").tobytes() for key in event.image_keys]
    assert kept == [candidates[index].tobytes() for index in by_cosine[::-1][:2]]


async def test_best_of_stays_cosine_when_the_ranker_does_not_beat_it(
    jobs, run_worker, redis_conn, tiny_models, tmp_path
):
    generator, classifier = tiny_models.generator, tiny_models.classifier
    seed = 3
    candidates = generator.generate(PROMPT, seed=seed, num_images=4)
    by_cosine = classifier.rank_images(candidates, PROMPT)
    save_reversing_ranker(tmp_path, classifier.name, learned=0.31, cosine=0.3)
    runtime.set_ranker(RankerSwitch(tmp_path, 0.02, classifier.name))
    job = GenerateJob(chat=chat(2), prompt=PROMPT, seed=seed, num_images=2, best_of=4)
    assert await jobs.submit_generate(job_id_for(chat(2), "imagine"), job) is not None
    run_worker()
    [event] = events(redis_conn)
    kept = [Image.open(io.BytesIO(redis_conn.get(key))).convert("RGB").tobytes() for key in event.image_keys]
    assert kept == [candidates[index].tobytes() for index in by_cosine[:2]]


async def test_an_album_is_ranked_by_the_live_ranker(jobs, run_worker, redis_conn, tiny_models, tmp_path):
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    photos = [images.png(color=color) for color in colors]
    decoded = [Image.open(io.BytesIO(photo)).convert("RGB") for photo in photos]
    similarities = tiny_models.classifier.similarities(decoded, "кот")
    by_cosine = sorted(range(3), key=similarities.__getitem__, reverse=True)
    save_reversing_ranker(tmp_path, tiny_models.classifier.name)
    runtime.set_ranker(RankerSwitch(tmp_path, 0.02, tiny_models.classifier.name))
    job_id = job_id_for(chat(3), "rank")
    job = RankJob(chat=chat(3), query="кот", image_keys=[rank_input_key(job_id, i) for i in range(3)])
    assert await jobs.submit_rank(job_id, job, photos) is not None
    run_worker()
    [event] = events(redis_conn)
    assert event.ranking == by_cosine[::-1]
    assert event.scores[event.ranking[0]] == max(event.scores)  # the shares follow the ranker's scores


def test_a_worker_starts_with_the_newest_ranker_and_publishes_it(tmp_path, tiny_models, redis_conn):
    """``python -m workers``' wiring: MODEL_RANKER_DIR and the loaded classifier's name make the switch."""
    from workers.__main__ import learned_ranker
    from workers.config import ModelSettings

    save_reversing_ranker(tmp_path, tiny_models.classifier.name, learned=0.5, cosine=0.45)
    switch = learned_ranker(ModelSettings(ranker_dir=tmp_path, ranker_margin=0.02), tiny_models, redis_conn)
    assert switch.current().name == "ranker-v1"
    status = RankerStatus.model_validate_json(redis_conn.get(ranker_key()))
    assert (status.live, status.ranker.ndcg_at_1, status.cosine.ndcg_at_1, status.preferences) == (True, 0.5, 0.45, 120)
    assert ModelSettings(cache_dir=tmp_path).rankers == tmp_path / "rankers"
