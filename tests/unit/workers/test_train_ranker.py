"""``python -m workers train-ranker``: preferences from a JSON-lines file to a saved, versioned ranker."""

from __future__ import annotations

import json

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


def test_without_a_source_it_says_what_to_pass(capsys):
    assert main(["train-ranker"]) == 2
    assert "--from" in capsys.readouterr().err


def test_a_malformed_line_is_named(tmp_path, capsys):
    source = tmp_path / "prefs.jsonl"
    source.write_text('{"prompt_embedding": [1.0]}\n')
    assert main(["train-ranker", "--from", str(source), "--dir", str(tmp_path)]) == 2
    assert "prefs.jsonl:1: not a preference" in capsys.readouterr().err
