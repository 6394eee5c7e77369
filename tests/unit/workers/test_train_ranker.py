"""``python -m workers train-ranker``: preferences from a JSON-lines file to a saved, versioned ranker."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy.engine import make_url

from core.database import SQLITE_FILE, create_engine, migrate
from core.feedback_store import Choice, FeedbackStore, ResultRecord
from models import ranker
from tests.preferences import preferences
from workers.__main__ import main
from workers.train_ranker import read_jsonl, write_jsonl


def test_jsonl_round_trip(tmp_path):
    data = preferences(5)
    path = tmp_path / "prefs.jsonl"
    assert write_jsonl(path, data) == 5
    assert list(read_jsonl(path)) == data


def test_train_ranker_from_a_file_saves_a_version_and_prints_its_figures(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODEL_RANKER_MARGIN", "0.02")
    source = tmp_path / "prefs.jsonl"
    write_jsonl(source, preferences(300))
    argv = ["train-ranker", "--from", str(source), "--dir", str(tmp_path / "rankers"), "--clip-model", "org/clip"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "ranker-v1: 300 preferences from 10 chats (240 trained on, 60 held out, the latest)" in out
    assert "workers will rank with it" in out
    info = json.loads((tmp_path / "rankers" / "ranker-v1" / ranker.METRICS_FILE).read_text())
    assert info["clip_model"] == "clip" and info["usable"] == 300 and info["trained_at"]
    assert info["held_out"]["ranker"]["ndcg@1"] > info["held_out"]["cosine"]["ndcg@1"] + 0.02
    assert main(argv) == 0
    assert ranker.versions(tmp_path / "rankers") == [1, 2]


def test_too_few_preferences_save_nothing(tmp_path, capsys):
    source = tmp_path / "prefs.jsonl"
    write_jsonl(source, preferences(10))
    assert main(["train-ranker", "--from", str(source), "--dir", str(tmp_path / "rankers")]) == 1
    assert "workers keep ranking by cosine" in capsys.readouterr().out
    assert ranker.versions(tmp_path / "rankers") == []


def test_without_a_source_it_says_what_to_pass(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no data/molbert.sqlite3 here
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BOT_DATA_DIR", raising=False)
    assert main(["train-ranker"]) == 2
    assert "--from" in capsys.readouterr().err


def store_preferences(url: str, given: list) -> None:
    """Write ``given`` into the feedback database at ``url`` as the bot records them: each grid as a result with
    its embeddings, and the press on it (U on the chosen picture, 🔄 when none)."""

    async def write() -> None:
        await migrate(make_url(url))
        engine = create_engine(make_url(url))
        writes: list = []
        for number, choice in enumerate(given):
            job, user = f"telegram-imagine-1-{number}", f"user-{number % 7}"
            grid = (choice.prompt_embedding, choice.image_embeddings)
            writes.append(ResultRecord(job, "telegram", choice.chat_key, user, "imagine", "tiny", {}, choice.at, *grid))
            verb = "r" if choice.chosen is None else "u"
            writes.append(Choice(job, "telegram", choice.chat_key, user, verb, choice.chosen, choice.at))
        await FeedbackStore(engine).write(writes)
        await engine.dispose()

    asyncio.run(write())


def test_train_ranker_reads_the_feedback_database(database_url, tmp_path, capsys):
    store_preferences(database_url, preferences(300))
    argv = ["train-ranker", "--database", database_url, "--dir", str(tmp_path / "rankers"), "--clip-model", "clip"]
    assert main(argv) == 0
    assert "ranker-v1: 300 preferences from 10 chats" in capsys.readouterr().out


def test_train_ranker_counts_u_then_enlarge_or_zoom_on_the_same_cell_once(tmp_path, capsys):
    """Each grid's U is followed by ⤴ and 🔍 on the same cell (under its U image) by the same user: 300 choices,
    not 900; a ⤴ under a one-picture result adds none."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'feedback.sqlite3'}"
    given = preferences(300)
    store_preferences(url, given)

    async def press_again() -> None:
        engine = create_engine(make_url(url))
        writes: list = []
        for number, choice in enumerate(given):
            job, user = f"telegram-imagine-1-{number}", f"user-{number % 7}"
            for verb in ("s", "z"):
                writes.append(Choice(job, "telegram", choice.chat_key, user, verb, choice.chosen, choice.at + 1))
        one = given[0]
        writes.append(ResultRecord("one", "telegram", one.chat_key, "u", "imagine", "tiny", {}, 1.0, *one_picture(one)))
        writes.append(Choice("one", "telegram", one.chat_key, "u", "s", 0, 2.0))
        await FeedbackStore(engine).write(writes)
        await engine.dispose()

    asyncio.run(press_again())
    argv = ["train-ranker", "--database", url, "--dir", str(tmp_path / "rankers"), "--clip-model", "clip"]
    assert main(argv) == 0
    assert "ranker-v1: 300 preferences from 10 chats" in capsys.readouterr().out


def one_picture(choice) -> tuple:
    return choice.prompt_embedding, choice.image_embeddings[:1]


def test_train_ranker_finds_the_bots_default_sqlite_file(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    store_preferences(f"sqlite+aiosqlite:///{tmp_path / 'data' / SQLITE_FILE}", preferences(300))
    assert main(["train-ranker", "--dir", str(tmp_path / "rankers"), "--clip-model", "clip"]) == 0
    assert ranker.versions(tmp_path / "rankers") == [1]


def test_an_unreachable_database_is_one_line(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.sqlite3'}"
    assert main(["train-ranker", "--database", url, "--dir", str(tmp_path / "rankers")]) == 2
    assert "cannot read the preferences" in capsys.readouterr().err


def test_a_malformed_line_is_named(tmp_path, capsys):
    source = tmp_path / "prefs.jsonl"
    source.write_text('{"prompt_embedding": [1.0]}\n')
    assert main(["train-ranker", "--from", str(source), "--dir", str(tmp_path)]) == 2
    assert "prefs.jsonl:1: not a preference" in capsys.readouterr().err
