"""``/stats`` says what ``--best`` and ``/rank`` rank with, as the workers published it at ``molbert:ranker``."""

from __future__ import annotations

from functools import partial

from bot.queue import RedisJobs
from core.keys import ranker_key
from core.protocol import RankerFigures, RankerStatus
from handlers.access import AccessPolicy, parse_ids
from handlers.ranker_status import ranker_line
from handlers.texts import t
from tests import factories
from tests.factories import make_molbert
from tests.memory import MemoryOutbox

chat = partial(factories.chat, chat_id=10, user_id=42)

LIVE = RankerStatus(
    live=True,
    name="ranker-v3",
    clip_model="ruclip-vit-base-patch32-384",
    preferences=812,
    ranker=RankerFigures(ndcg_at_1=0.612, ndcg_at_4=0.8, pairwise_accuracy=0.81),
    cosine=RankerFigures(ndcg_at_1=0.4, ndcg_at_4=0.7, pairwise_accuracy=0.6),
)


async def test_operators_see_the_live_ranker_and_its_figures(redis_conn):
    redis_conn.set(ranker_key(), LIVE.model_dump_json())
    outbox = MemoryOutbox()
    molbert = make_molbert(RedisJobs(redis_conn), access=AccessPolicy(operators=parse_ids("42")))
    await molbert.stats(chat(), outbox)
    assert outbox.texts[-1].endswith(
        "\n🎯 Ранжирование: ranker-v3, обучено на 812 выборах — nDCG@1 0.61 против 0.40 у косинуса"
    )


async def test_stats_without_a_ranker_report_have_no_ranking_line(redis_conn):
    outbox = MemoryOutbox()
    molbert = make_molbert(RedisJobs(redis_conn), access=AccessPolicy(operators=parse_ids("42")))
    redis_conn.set(ranker_key(), b"{not json")  # a worker of another version: ignored
    await molbert.stats(chat(), outbox)
    assert "🎯" not in outbox.texts[-1]


def test_the_lines_for_cosine_in_both_languages():
    weak = LIVE.model_copy(update={"live": False, "why": "weak"})
    assert ranker_line(weak, "en") == (
        "🎯 Ranking: CLIP cosine (ranker-v3 does not beat it by the margin: nDCG@1 0.61 vs 0.40)"
    )
    other = LIVE.model_copy(update={"live": False, "why": "other_clip"})
    assert "ruclip-vit-base-patch32-384" in ranker_line(other, "ru")
    assert ranker_line(RankerStatus(live=False, why="none"), "ru") == t("stats_ranker_cosine", "ru")
    assert ranker_line(RankerStatus(live=False, why="broken"), "en") == t("stats_ranker_broken", "en")
    assert ranker_line(None, "ru") is None
