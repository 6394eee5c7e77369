"""The `cpu` preset at its real size on this CPU: seconds a 512×512 picture, per stage and per backend, and RAM.

No weights are downloaded: SD-Turbo's UNet, OpenCLIP-H text encoder (and VAE, kept for the layout: the worker does
not load it), TAESD, MarianMT and ruCLIP are built from their published configs (``bench/configs/cpu``, the
translator's and ruCLIP's as `bench/gpu_check.py` uses them) with RANDOM weights, saved in the production layout
and loaded through `models.presets.load_models` with the `cpu` preset pointed at them. Random weights do the same
arithmetic as trained ones, so the times and the memory are the real preset's; the pictures are noise.

Each backend runs in a fresh process (so its RSS and its compiled kernels are its own):

- ``fp32``: float32, NCHW (``MODEL_CHANNELS_LAST=off``);
- ``channels-last``: float32, channels-last UNet and decoder (the preset's default);
- ``bf16``: ``MODEL_CPU_DTYPE=bfloat16`` with channels-last;
- ``compile``: float32, channels-last, ``MODEL_COMPILE=true`` (torch inductor; the warm-up pays the compile);
- ``bf16-compile``: both;
- ``torch-bf16``, ``torch-f32``, ``openvino-bf16``, ``openvino-f32``: ``MODEL_CPU_BACKEND`` torch or openvino
  (``models.openvino_backend``: the UNet and TAESD's decoder compiled by OpenVINO, converted once into the model
  cache) in each precision, channels-last off as the preset runs them. ``--backend openvino`` (with
  ``--precision bf16,f32``) picks the OpenVINO ones.

``--rounds N`` runs every backend N times, interleaved (round 1: each backend once, round 2: again, ...), each run a
fresh process, and keeps per stage the median over the rounds of each run's median: on a shared, loaded machine the
backends then see the same load. Pixel differences are from ``torch-f32``'s picture when it runs, else ``fp32``'s.

For each: start to ready (process start, imports, loading every model, the default label set's text embeddings,
one warm-up picture), the worker's RSS when ready and at its peak, and warm (median of ``--repeats``) the seconds of
each stage of one picture: the translator (ru→en), the text encoder, one UNet step, the TAESD decoder, the whole
picture through `ImageGenerator.generate` (what a job's painting costs), and ruCLIP's output check of it. The
translator's figure is an upper bound: with random weights it never writes its end token, so it decodes to its
length limit, where a trained one stops after a few words. Against
``fp32``, the mean absolute pixel difference of each backend's picture (same seed) is the tolerance figure. The
targets (issue #24, on two cores): a picture ≤ 3 s, RSS ≤ 6 GB.

    python bench/cpu_preset.py [--backends fp32,channels-last,bf16,compile,bf16-compile] [--repeats 3]
                               [--threads 0] [--workdir DIR] [--out cpu_preset.json] [--toy]
    python bench/cpu_preset.py --backends torch-bf16,torch-f32,openvino-bf16,openvino-f32 --rounds 3
    python bench/cpu_preset.py --backend openvino --precision bf16,f32

``--toy`` builds the tiny twins instead (seconds; for checking the script itself).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # start-to-ready counts the imports too

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CONFIGS = REPO / "bench" / "configs"
BACKENDS = {
    "fp32": {"channels_last": "off"},
    "channels-last": {"channels_last": "on"},
    "bf16": {"channels_last": "on", "cpu_dtype": "bfloat16"},
    "compile": {"channels_last": "on", "compile": True},
    "bf16-compile": {"channels_last": "on", "cpu_dtype": "bfloat16", "compile": True},
    # the backends side by side (MODEL_CPU_BACKEND), each as the preset runs it (channels-last off on the CPU)
    "torch-bf16": {"cpu_dtype": "bfloat16"},
    "torch-f32": {"cpu_dtype": "float32"},
    "openvino-bf16": {"cpu_dtype": "bfloat16", "cpu_backend": "openvino"},
    "openvino-f32": {"cpu_dtype": "float32", "cpu_backend": "openvino"},
}
SIDE_BY_SIDE = ("torch-bf16", "torch-f32", "openvino-bf16", "openvino-f32")
PROMPT = "рыжий кот на подоконнике, акварель"
LABELS = ("кошка", "собака", "машина", "дом", "дерево")
TARGET_SECONDS = 3.0
TARGET_RSS_GB = 6.0
GB = 2**30  # as models.presets counts


# --- building the random real-size (or toy) models, once ---------------------------------------------------------


def build(workdir: Path, toy: bool) -> dict[str, str]:
    """The preset's model dirs under ``workdir`` (built unless there): generator, decoder, translator, classifier."""
    dirs = {
        "generator": workdir / "stabilityai--sd-turbo",  # the hub id's name: known_defaults match it (1 step, 512²)
        "decoder": workdir / "taesd",
        "translator": workdir / "opus-mt-ru-en",
        "classifier": workdir / "ruclip",
        # the rest of the whole preset a worker loads at start: ⤴ (Real-ESRGAN ×4's shape) and ✨ (Qwen2.5-0.5B's)
        "upscaler": workdir / "realesrgan" / "RealESRGAN_x4.pth",
        "prompt_writer": workdir / "qwen2.5-0.5b-instruct",
    }
    done = workdir / "built.json"
    layout = {"toy": toy, "whole_preset": True, "files_as_published": True}
    if done.is_file() and json.loads(done.read_text()) == layout:
        return {name: str(path) for name, path in dirs.items()}
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    (build_toy if toy else build_real)(dirs, workdir)
    done.write_text(json.dumps(layout))
    print(f"built the models in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return {name: str(path) for name, path in dirs.items()}


def build_real(dirs: dict[str, Path], workdir: Path) -> None:
    import gpu_check
    import torch

    build_painter(dirs["generator"], dirs["decoder"], toy=False)
    gpu_check.build_translator(CONFIGS / "translator", dirs["translator"], "cpu", torch.float32)
    configs = gpu_check.real_configs()
    gpu_check.build_ruclip(configs.ruclip_config, configs.bpe_model, dirs["classifier"], "cpu")
    build_extras(dirs, toy=False)


def build_toy(dirs: dict[str, Path], workdir: Path) -> None:
    from models import tiny_families
    from models.tiny import build_tiny_classifier

    build_painter(dirs["generator"], dirs["decoder"], toy=True)
    tiny_families.build_tiny_marian(dirs["translator"])
    build_tiny_classifier(dirs["classifier"])
    build_extras(dirs, toy=True)


def build_extras(dirs: dict[str, Path], toy: bool) -> None:
    """The upscaler and the ✨ prompt writer the preset loads at start (random; real size unless ``toy``)."""
    import enhance

    from models import tiny_families

    size = {"blocks": 1, "features": 8} if toy else {"blocks": 23, "features": 64}  # Real-ESRGAN ×4: 16.7 M params
    built = tiny_families.build_tiny_upscaler(dirs["upscaler"].parent, **size)
    built.rename(dirs["upscaler"])
    if toy:
        tiny_families.build_tiny_prompt_writer(dirs["prompt_writer"])
    else:
        enhance.build(dirs["prompt_writer"])


def build_painter(generator: Path, decoder: Path, toy: bool) -> None:
    """The generator (SD-Turbo's layout) and its TAESD decoder: real-size random ones from ``bench/configs/cpu``, or
    the tiny twins; bench/outpaint.py builds only these."""
    if toy:
        from models import tiny_families

        tiny_families.build_tiny_sd_turbo(generator)
        tiny_families.build_tiny_taesd(decoder)
        return
    import gpu_check
    import torch
    from diffusers import AutoencoderTiny

    # as `python -m workers download` fetches them: SD-Turbo's fp16 files (the variant its defaults name)
    gpu_check.build_layout(CONFIGS / "cpu" / "sd-turbo", generator, "cpu", torch.float32, variant="fp16")
    gpu_check.build_component(
        "diffusers", AutoencoderTiny.__name__, CONFIGS / "cpu" / "taesd", decoder, "cpu", torch.float32
    )


# --- one backend, in its own process ------------------------------------------------------------------------------


def rss_gb(field: str = "VmRSS") -> float:
    """This process's resident memory now (``RssFile``: the part that is file pages, e.g. weights still mapped from
    their safetensors files, which the kernel can drop and read again; ``RssAnon``: the rest)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) * 1024 / GB, 2)
    return float("nan")


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def stage_times(models, repeats: int, pictures: list, core: bool = False) -> dict[str, float | None]:
    """Warm seconds of each stage of one default picture (and of the whole of it), its picture into ``pictures``;
    ``core``: the translator and the output check (the same whatever the generator's backend) left out."""
    import torch

    generator = models.generator
    pipe = generator.pipe
    english = models.generator_words(PROMPT, None)[0]
    width, height = generator.default_size
    with torch.inference_mode():
        embeddings, _ = pipe.encode_prompt(english, "cpu", 1, False)
        latents = torch.randn(1, pipe.unet.config.in_channels, height // 8, width // 8, dtype=pipe.unet.dtype)
        timestep = torch.tensor(999)

        def unet_step():
            pipe.unet(latents, timestep, encoder_hidden_states=embeddings, return_dict=False)

        def decode():
            pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)

        translate = lambda: models.generator_words(PROMPT, None)  # noqa: E731
        times: dict[str, float | None] = {
            "translator_s": None if core else median_seconds(translate, repeats),
            "text_encoder_s": median_seconds(lambda: pipe.encode_prompt(english, "cpu", 1, False), repeats),
            "unet_step_s": median_seconds(unet_step, repeats),
            "decoder_s": median_seconds(decode, repeats),
        }
    times["picture_s"] = median_seconds(lambda: pictures.extend(generator.generate(english, seed=0)), repeats)
    check = lambda: models.classifier.classify(pictures[0], list(LABELS))  # noqa: E731
    times["output_check_s"] = None if core else median_seconds(check, repeats)
    return times


def run_backend(
    name: str, dirs: dict[str, str], workdir: Path, repeats: int, threads: int, core: bool = False
) -> dict[str, Any]:
    """Load the preset with backend ``name`` as a worker does, warm it up and time it; save its picture."""
    import torch

    from models import presets
    from models.acceleration import GpuOptions

    presets.PRESETS[presets.CPU] = dataclasses.replace(presets.PRESETS[presets.CPU], **dirs)
    options = GpuOptions(**BACKENDS[name])
    models = presets.load_models("cpu", workdir / "model-cache", "cpu", gpu=options, threads=threads)
    loaded_s = time.perf_counter() - STARTED
    english = models.generator_words(PROMPT, None)[0]
    warm_up_started = time.perf_counter()
    models.generator.generate(english, seed=1)  # a worker's warm-up (MODEL_WARMUP): pays compile and first passes
    warm_up_s = time.perf_counter() - warm_up_started
    record: dict[str, Any] = {
        "backend": name,
        "dtype": str(models.dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        "start_to_ready_s": round(time.perf_counter() - STARTED, 1),
        "load_s": round(loaded_s, 1),
        "warm_up_s": round(warm_up_s, 1),
        "rss_ready_gb": rss_gb(),
        "rss_file_ready_gb": rss_gb("RssFile"),
    }
    pictures: list = []
    record.update(stage_times(models, repeats, pictures, core))
    pictures[0].save(workdir / f"{name}.png")  # seed 0: the same picture each time
    record["rss_peak_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB, 2)
    return record


# --- the parent: every backend, the comparison, the table ---------------------------------------------------------


def pixel_difference(workdir: Path, name: str, reference_name: str = "fp32") -> float | None:
    """Mean absolute difference per pixel channel (levels of 255) of ``name``'s picture from ``reference_name``'s."""
    import numpy as np
    from PIL import Image

    reference, picture = workdir / f"{reference_name}.png", workdir / f"{name}.png"
    if not (reference.is_file() and picture.is_file()):
        return None
    a, b = (np.asarray(Image.open(path), dtype=np.float32) for path in (reference, picture))
    return round(float(np.abs(a - b).mean()), 2)


def spawn(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", name, "--workdir", str(args.workdir)]
    command += ["--repeats", str(args.repeats), "--threads", str(args.threads)] + (["--toy"] if args.toy else [])
    command += ["--core-stages"] if args.core_stages else []
    result = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout_s)
    if result.returncode != 0:
        return {"backend": name, "error": result.stderr.strip().splitlines()[-1:] or ["no output"]}
    return json.loads(result.stdout.strip().splitlines()[-1])


STAGES = ("text_encoder_s", "unet_step_s", "decoder_s", "picture_s", "translator_s", "output_check_s")


def combine(runs: list[dict[str, Any]], reference: str) -> dict[str, Any]:
    """One backend's record over its rounds: the median of each stage's per-run medians, the first run's start
    (the cold one: an OpenVINO backend converts then) and the last's (warm: it reads its cache), the largest RSS."""
    good = [run for run in runs if "error" not in run]
    if not good:
        return runs[-1]
    record = dict(good[-1])
    for stage in STAGES:
        if any(run.get(stage) is None for run in good):
            continue
        record[stage] = round(statistics.median(run[stage] for run in good), 3)
        record[f"{stage}_runs"] = [run[stage] for run in good]
    record["start_to_ready_first_s"] = good[0]["start_to_ready_s"]
    for field in ("rss_ready_gb", "rss_file_ready_gb", "rss_peak_gb"):
        record[field] = max(run[field] for run in good)
    record["rounds"] = len(good)
    record[f"vs_{reference}_levels"] = good[-1].get(f"vs_{reference}_levels")
    return record


def add_ratios(records: list[dict[str, Any]], base_name: str) -> None:
    """Each record's ``<stage>_vs_<base>``: the base backend's median over this one's (above 1: this is faster)."""
    base = next((record for record in records if record["backend"] == base_name and "error" not in record), None)
    if base is None:
        return
    for record in records:
        if "error" not in record:
            for stage in ("text_encoder_s", "unet_step_s", "decoder_s", "picture_s"):
                record[f"{stage}_vs_{base_name}"] = round(base[stage] / record[stage], 2)


def markdown(records: list[dict[str, Any]], reference: str = "fp32") -> str:
    columns = [
        "backend",
        "text_encoder_s",
        "unet_step_s",
        "decoder_s",
        "picture_s",
        "translator_s",
        "output_check_s",
        "rss_ready_gb",
        "rss_file_ready_gb",
        "rss_peak_gb",
        "start_to_ready_s",
        f"vs_{reference}_levels",
    ]
    if any("picture_s_vs_torch-bf16" in record for record in records):
        columns.insert(5, "picture_s_vs_torch-bf16")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in records:
        lines.append("| " + " | ".join(str(record.get(column, record.get("error", ""))) for column in columns) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated, of: " + ", ".join(BACKENDS))
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per stage (the median is kept)")
    parser.add_argument("--threads", type=int, default=0, help="MODEL_THREADS (0: the CPUs this process may use)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/molbert-cpu-preset"), help="built models")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--timeout-s", type=int, default=1800, help="per backend")
    parser.add_argument("--toy", action="store_true", help="tiny twins instead of the real sizes")
    parser.add_argument(
        "--backend",
        choices=("torch", "openvino"),
        default=None,
        help="with --precision: the side-by-side backends of this MODEL_CPU_BACKEND (replaces --backends)",
    )
    parser.add_argument("--precision", default="bf16,f32", help="with --backend: bf16, f32 or both")
    parser.add_argument(
        "--core-stages",
        action="store_true",
        help="time only the generator's stages (not the "
        "translator and the output check: the same whatever its backend)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="run every backend this many times, interleaved")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.backend:
        args.backends = ",".join(f"{args.backend}-{p.strip()}" for p in args.precision.split(",") if p.strip())
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(REPO / "bench"))
    dirs = build(args.workdir, args.toy)
    if args.child:
        print(json.dumps(run_backend(args.child, dirs, args.workdir, args.repeats, args.threads, args.core_stages)))
        return 0
    names = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = set(names) - set(BACKENDS)
    if unknown:
        print(f"unknown backends: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    reference = "torch-f32" if "torch-f32" in names else "fp32"
    order = [reference, *[name for name in names if name != reference]]  # the reference first: compared to it
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in order}
    for round_number in range(1, max(1, args.rounds) + 1):
        for name in order:
            record = spawn(name, args)
            record["round"] = round_number
            record[f"vs_{reference}_levels"] = (
                pixel_difference(args.workdir, name, reference) if "error" not in record else None
            )
            runs[name].append(record)
            print(json.dumps(record), file=sys.stderr, flush=True)
    records = [combine(runs[name], reference) for name in order if name in names]
    if "torch-bf16" in names:
        add_ratios(records, "torch-bf16")
    summary = {
        "toy": args.toy,
        "targets": {"picture_s": TARGET_SECONDS, "rss_gb": TARGET_RSS_GB},
        "rounds": args.rounds,
        "records": records,
        "runs": runs,
    }
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(markdown(records, reference))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
