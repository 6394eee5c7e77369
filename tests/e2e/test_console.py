"""The terminal chat, as a new user first meets it: `python -m bot` with no token, no REDIS_URL, tiny models."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

from handlers.texts import t
from tests import images
from tests.processes import REPO, UNLIMITED


def test_the_console_paints_classifies_and_waits_for_its_results(tmp_path, model_cache_dir):
    photo = tmp_path / "red.png"
    photo.write_bytes(images.png(80, 60))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DISCORD_", "REDIS_", "MODEL_"))}
    env |= {"PYTHONPATH": str(REPO), "MODEL_PRESET": "tiny", "MODEL_CACHE_DIR": str(model_cache_dir), **UNLIMITED}
    typed = f"/imagine кот в космосе --n 2\n/classify {photo} кошка, собака\n/imagine\n/queue\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot"], input=typed, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "🎨 кот в космосе" in out
    [picture] = re.findall(r"🖼 +(\S+\.png)", out)
    assert Image.open(Path(picture)).size[0] > 0
    assert "U1 U2 V1 V2 ~1 ~2 🔄" in out
    assert re.search(r"\d+% (кошка|собака)", out)
    assert t("imagine_empty", "ru").splitlines()[0] in out
    assert (tmp_path / "data" / "worker.log").read_text().count("ready:") == 1
