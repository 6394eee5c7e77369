"""``python -m workers train-ranker``: train the learned re-ranker on the stored preferences (or a JSON-lines file
of them, ``--from``), save it as the next version under ``MODEL_RANKER_DIR`` and print its held-out figures.

Workers pick the new version up by themselves (`workers.ranking`) and use it only if it beats cosine by
``MODEL_RANKER_MARGIN``; training never changes what they rank with directly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from core.config import DatabaseSettings, load
from core.database import SQLITE_FILE, create_engine, database_url
from core.preferences import Preference
from workers.config import ModelSettings

# Where preferences come from: the feedback store's ``preferences`` (bound to its database), or a file.
PreferenceSource = Callable[[], Iterable[Preference]]


def read_jsonl(path: Path) -> Iterator[Preference]:
    """Preferences from a JSON-lines file: one object a line with :class:`Preference`'s fields (blank lines skipped)."""
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield Preference(
                    prompt_embedding=tuple(float(x) for x in row["prompt_embedding"]),
                    image_embeddings=tuple(tuple(float(x) for x in image) for image in row["image_embeddings"]),
                    chosen=None if row.get("chosen") is None else int(row["chosen"]),
                    chat_key=str(row["chat_key"]),
                    at=float(row["at"]),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a preference ({exc})") from exc


def write_jsonl(path: Path, preferences: Iterable[Preference]) -> int:
    """Write ``preferences`` as :func:`read_jsonl` reads them; returns how many."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as out:
        for preference in preferences:
            row = {
                "prompt_embedding": preference.prompt_embedding,
                "image_embeddings": preference.image_embeddings,
                "chosen": preference.chosen,
                "chat_key": preference.chat_key,
                "at": preference.at,
            }
            out.write(json.dumps(row) + "\n")
            count += 1
    return count


def store_source(database: str | None = None) -> PreferenceSource | None:
    """The feedback database's preferences (``core.feedback_store``): at ``database`` (``--database``), else at
    ``DATABASE_URL``, else in the SQLite file a bot with default settings keeps (``BOT_DATA_DIR``, ``data``) when
    there is one; ``None`` when there is none (then ``--from`` is needed)."""
    configured = database or _database_url_setting()
    if not configured:
        default = Path(os.environ.get("BOT_DATA_DIR") or "data") / SQLITE_FILE
        if not default.is_file():
            return None
        configured = f"sqlite:///{default}"
    url = database_url(configured, Path("."))
    return lambda: asyncio.run(_stored_preferences(url))


def _missing_sqlite_file(url: URL) -> Path | None:
    """A SQLite database file that is not there (reading would create an empty one)."""
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    path = Path(url.database)
    return None if path.is_file() else path


def _database_url_setting() -> str | None:
    url = load(DatabaseSettings).url
    return url.get_secret_value() if url is not None else None


async def _stored_preferences(url: URL) -> list[Preference]:
    """Every stored choice, read through a short-lived engine (the command runs once)."""
    from core.feedback_store import FeedbackStore

    if (missing := _missing_sqlite_file(url)) is not None:
        raise FileNotFoundError(f"no feedback database at {missing}")
    engine = create_engine(url)
    try:
        return await FeedbackStore(engine).preferences()
    finally:
        await engine.dispose()


def default_clip_model(settings: ModelSettings) -> str:
    """The CLIP model this deployment's workers rank with (what a ranker is trained for), without loading it."""
    if settings.classifier:
        return settings.classifier
    from models.presets import PRESETS, RUCLIP, TINY

    if settings.preset == TINY:
        from models.tiny import CLASSIFIER_DIR

        return CLASSIFIER_DIR
    preset = PRESETS.get(settings.preset)
    return preset.classifier if preset is not None else RUCLIP  # every preset `auto` picks runs ruCLIP


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m workers train-ranker",
        description="Train the learned re-ranker on users' choices; workers use it only if it beats cosine.",
    )
    parser.add_argument("--from", dest="source", type=Path, help="a JSON-lines file of preferences (else the store)")
    parser.add_argument("--database", help="the feedback database's URL (default: DATABASE_URL, else data/'s SQLite)")
    parser.add_argument("--dir", type=Path, help="where rankers are saved (default: MODEL_RANKER_DIR)")
    parser.add_argument("--clip-model", help="the CLIP model the embeddings come from (default: the workers')")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=0, help="0: linear; else a tiny MLP of this width")
    parser.add_argument("--holdout", type=float, default=0.2, help="the latest share of the grids held out")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    """Train, save, print; 0 when a ranker was saved, 1 when the data were too few (nothing saved), 2 without a
    source of preferences or with one that cannot be read."""
    args = parse_args(argv)
    settings = load(ModelSettings)
    source: PreferenceSource | None = (lambda: read_jsonl(args.source)) if args.source else store_source(args.database)
    if source is None:
        print(
            "no preferences: no feedback database here (set DATABASE_URL or --database, run it where the bot's "
            "data/ is, or pass --from prefs.jsonl)",
            file=sys.stderr,
        )
        return 2
    from models.ranker import DECISIVE_METRIC, TrainOptions, beats_cosine, save, train

    options = TrainOptions(seed=args.seed, hidden=args.hidden, holdout=args.holdout)
    try:
        given = list(source())
    except (OSError, ValueError, SQLAlchemyError) as exc:  # no such file, a line that is no preference, no database
        print(f"cannot read the preferences: {exc}", file=sys.stderr)
        return 2
    training = train(given, options)
    report = training.report
    if training.model is None:
        print(f"no ranker trained: {report['skipped']}; workers keep ranking by cosine")
        return 1
    target = save(args.dir or settings.rankers, training.model, report, args.clip_model or default_clip_model(settings))
    print(summary(target.name, report))
    verdict = "workers will rank with it" if beats_cosine(report, settings.ranker_margin) else "workers keep cosine"
    print(f"{verdict} (MODEL_RANKER_MARGIN={settings.ranker_margin} on held-out {DECISIVE_METRIC}); saved in {target}")
    return 0


def summary(name: str, report: dict) -> str:
    """The figures an operator reads after training."""
    ranker, cosine = report["held_out"]["ranker"], report["held_out"]["cosine"]
    lines = [
        f"{name}: {report['usable']} preferences from {report['chats']} chats "
        f"({report['train_grids']} trained on, {report['held_out_grids']} held out, the latest)",
        f"{'held out':<10} {'nDCG@1':>7} {'nDCG@4':>7} {'pairs':>7}",
    ]
    for label, figures in (("ranker", ranker), ("cosine", cosine)):
        lines.append(
            f"{label:<10} {figures['ndcg@1']:>7.3f} {figures['ndcg@4']:>7.3f} {figures['pairwise_accuracy']:>7.3f}"
        )
    return "\n".join(lines)
