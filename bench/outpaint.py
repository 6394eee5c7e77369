"""Zoom out and pan on this CPU: what they cost over a plain picture of the same size.

The `cpu` preset's generator at its real size (SD-Turbo's UNet and OpenCLIP-H text encoder from their published
configs in ``bench/configs/cpu``, TAESD as its decoder) with RANDOM weights, built as `bench/cpu_preset.py` builds
them (the same ``--workdir`` reuses them) and loaded through ``ImageGenerator.from_pretrained`` as the worker loads
it. Random weights do the same arithmetic as trained ones; the pictures are noise.

Measured, warm (median of ``--repeats``), one picture, one step, float32:

- ``plain``: ``generate`` at the model's 512×512;
- ``zoom ×2`` / ``zoom ×1.5``: ``outpaint`` of a 512×512 picture (its canvas brought back to 512×512);
- ``pan ←``: ``outpaint`` to the left (a 3:2 canvas brought back to about 512² pixels: 640×384), and ``plain`` at
  that size, so the difference is the outpainting's own cost (the TAESD encoder of the start image, the mask, the
  composite), not the size's;
- the first outpainting's extra (``from_pipe`` making the inpainting pipeline) and the RSS it adds: it shares the
  loaded modules, so it should add almost nothing.

    python bench/outpaint.py [--repeats 3] [--workdir DIR] [--toy] [--out outpaint.json]

``--toy`` uses the tiny twins (seconds; for checking the script itself).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from cpu_preset import build_painter, median_seconds, rss_gb  # noqa: E402 (bench/ is on the path now)

PROMPT = "a lighthouse on a cliff, watercolor"  # English: the generator's own input (no translator here)


def build(workdir: Path, toy: bool) -> tuple[str, str]:
    """The generator and decoder dirs under ``workdir`` (built unless there, as bench/cpu_preset.py lays them)."""
    generator, decoder = workdir / "stabilityai--sd-turbo", workdir / "taesd"
    done = workdir / "outpaint-built.json"
    if not (done.is_file() and json.loads(done.read_text()) == {"toy": toy}):
        workdir.mkdir(parents=True, exist_ok=True)
        build_painter(generator, decoder, toy)
        done.write_text(json.dumps({"toy": toy}))
    return str(generator), str(decoder)


def measure(generator_dir: str, decoder_dir: str, repeats: int) -> dict[str, Any]:
    from core.protocol import PAN_LEFT, ZOOM_OUT_2, ZOOM_OUT_15
    from models import outpaint
    from models.generator import ImageGenerator

    generator = ImageGenerator.from_pretrained(generator_dir, device="cpu", decoder=decoder_dir)
    picture = generator.generate(PROMPT, seed=0)[0]  # warm-up, and the picture to zoom out of
    rss_before = rss_gb()
    started = time.perf_counter()
    generator.outpaint(picture, ZOOM_OUT_2, PROMPT, seed=1)  # the first: from_pipe builds the inpainting pipeline
    first = time.perf_counter() - started
    record: dict[str, Any] = {"size": list(picture.size), "rss_gb": rss_before, "rss_after_inpaint_gb": rss_gb()}
    record["plain_s"] = median_seconds(lambda: generator.generate(PROMPT, seed=2), repeats)
    record["first_zoom_s"] = round(first, 3)
    for name, code in (("zoom_x2", ZOOM_OUT_2), ("zoom_x1.5", ZOOM_OUT_15), ("pan_left", PAN_LEFT)):
        record[f"{name}_s"] = median_seconds(
            lambda code=code: generator.outpaint(picture, code, PROMPT, seed=3), repeats
        )
    pan_size = outpaint.layout(picture.size, PAN_LEFT, generator.size_for).size
    record["pan_size"] = list(pan_size)
    record["plain_pan_size_s"] = median_seconds(
        lambda: generator.generate(PROMPT, seed=4, width=pan_size[0], height=pan_size[1]), repeats
    )
    return record


def markdown(record: dict[str, Any]) -> str:
    plain, pan_plain = record["plain_s"], record["plain_pan_size_s"]
    width, height = record["size"]
    pan_w, pan_h = record["pan_size"]
    rows = [
        "| what | seconds | over a plain picture of the same size |",
        "|---|---|---|",
        f"| plain {width}×{height} | {plain} | — |",
        f"| zoom out ×2 → {width}×{height} | {record['zoom_x2_s']} | {record['zoom_x2_s'] - plain:+.2f} s |",
        f"| zoom out ×1.5 → {width}×{height} | {record['zoom_x1.5_s']} | {record['zoom_x1.5_s'] - plain:+.2f} s |",
        f"| plain {pan_w}×{pan_h} | {pan_plain} | — |",
        f"| pan ← → {pan_w}×{pan_h} | {record['pan_left_s']} | {record['pan_left_s'] - pan_plain:+.2f} s |",
        f"| first zoom ×2 (from_pipe) | {record['first_zoom_s']} | {record['first_zoom_s'] - plain:+.2f} s |",
    ]
    rss = f"RSS {record['rss_gb']} GB before the first zoom, {record['rss_after_inpaint_gb']} GB after"
    return "\n".join(rows) + f"\n\n{rss}."


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each (the median is kept)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/molbert-cpu-preset"), help="built models")
    parser.add_argument("--toy", action="store_true", help="tiny twins instead of the real sizes")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    generator_dir, decoder_dir = build(args.workdir / ("toy" if args.toy else "real"), args.toy)
    record = measure(generator_dir, decoder_dir, args.repeats)
    if args.out:
        args.out.write_text(json.dumps(record, indent=2))
    print(markdown(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
