"""The terminal chat teaching a class, end to end: `python -m bot` with no token, no REDIS_URL, tiny models; a
photo typed after the class was learnt is answered with it among the labels, then the class is forgotten."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading

from handlers.texts import t
from tests import images
from tests.processes import REPO, UNLIMITED

WAIT_SECONDS = 180


def test_the_console_teaches_a_class_and_recognises_it(tmp_path, model_cache_dir):
    photos = []
    for number, color in enumerate([(220, 30, 30), (210, 25, 35), (235, 30, 25)]):
        photos.append(tmp_path / f"red{number}.png")
        photos[-1].write_bytes(images.png(64, 64, color))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_", "REDIS_", "MODEL_"))}
    env |= {"PYTHONPATH": str(REPO), "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(model_cache_dir), **UNLIMITED}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]

    def typed(line: str, until: str) -> str:
        process.stdin.write(line + "\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
        seen = ""
        while until not in seen:
            seen += lines.get(timeout=WAIT_SECONDS)
        return seen

    try:
        learnt = typed(f"/teach Мурка {photos[0]} {photos[1]}", "🎓")
        assert t("teach_done", "ru", name="Мурка", count=2) in learnt
        answer = typed(f"{photos[2]}", "Мурка 🎓")
        assert "% Мурка 🎓" in answer
        assert "• Мурка — 2 фото" in typed("/classes", "Мурка — ")
        assert t("forget_class_done", "ru", name="Мурка") in typed("/forget_class Мурка", "Забыл")
        process.stdin.close()  # type: ignore[union-attr]
        assert process.wait(timeout=WAIT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
