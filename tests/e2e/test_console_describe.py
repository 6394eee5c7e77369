"""``/describe`` in the terminal chat, end to end: `python -m bot` with no token (tiny models), a picture file
described with ready /imagine lines, then ``/press 1`` painting the first one."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image

from tests import images
from tests.processes import REPO, UNLIMITED

TIMEOUT = 240


def _read_until(lines: queue.Queue[str], seen: list[str], pattern: str) -> re.Match[str]:
    """Collect the console's output lines until one matches ``pattern``."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if found := re.search(pattern, line):
            return found
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


def test_the_console_describes_a_file_and_press_1_paints_its_first_line(tmp_path, model_cache_dir):
    photo = tmp_path / "blue.png"
    photo.write_bytes(images.png(80, 60, (30, 60, 200)))
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
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        process.stdin.write(f"/describe {photo}\n")
        process.stdin.flush()
        _read_until(lines, seen, r"📝 Похоже, это ")
        first = _read_until(lines, seen, r"^1\. /imagine (.+)$").group(1)
        _read_until(lines, seen, r"/press <номер>")
        process.stdin.write("/press 1\n")
        process.stdin.close()  # the console then waits for the picture the press queued
        assert process.wait(timeout=TIMEOUT) == 0
        reader.join(timeout=10)  # everything it printed is read
    finally:
        process.kill()
    out = "".join(seen) + "".join(iter_remaining(lines))
    assert f"🎨 {first}" in out
    [picture] = re.findall(r"🖼 +(\S+\.png)", out)
    assert Image.open(Path(picture)).size[0] > 0


def iter_remaining(lines: queue.Queue[str]) -> list[str]:
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    return rest
