"""``/describe`` in the terminal chat, end to end: `python -m bot` with no token (tiny models), a picture file
described with ready /imagine lines, then ``/press 1`` painting the first one. The ``console`` fixture is
tests/e2e/conftest.py's."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from tests import images

TIMEOUT = 240


def test_the_console_describes_a_file_and_press_1_paints_its_first_line(tmp_path, console):
    photo = tmp_path / "blue.png"
    photo.write_bytes(images.png(80, 60, (30, 60, 200)))
    chat = console(TIMEOUT)
    chat.type(f"/describe {photo}")
    chat.read_until(r"📝 Похоже, это ")
    first = chat.read_until(r"^1\. /imagine (.+)$").group(1)
    chat.read_until(r"/press <номер>")
    chat.type("/press 1")
    assert chat.finish() == 0  # closing the input, the console waits for the picture the press queued
    out = chat.output()
    assert f"🎨 {first}" in out
    [picture] = re.findall(r"🖼 +(\S+\.png)", out)
    assert Image.open(Path(picture)).size[0] > 0
