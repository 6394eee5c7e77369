"""``MODEL_CPU_BACKEND=openvino`` (models/openvino_backend.py) on the `cpu` preset's tiny twin, through
``models.presets.load_models`` as a worker loads it: the same pictures as torch within the tolerance docs/deploy.md
states, for text-to-image, image-to-image and outpainting; the converted models read back from the cache on the
next start; a clear start-up error without the package."""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from models import openvino_backend, presets, tiny_families  # noqa: E402
from models.acceleration import GpuOptions  # noqa: E402
from models.tiny import build_tiny_classifier  # noqa: E402

# Mean absolute difference per pixel channel (levels of 255) from torch's picture, same seed and dtype, as
# docs/deploy.md states them: OpenVINO's float32 reorders sums (the twin: 0.0); in bfloat16 both runtimes round,
# each its own way (the twin: ~0.15; bench/cpu_preset.py measures the real size).
F32_MEAN_LEVELS = 0.5
BF16_MEAN_LEVELS = 1.5
OPENVINO = GpuOptions(cpu_dtype="float32", cpu_backend="openvino")


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> presets.ModelPreset:
    pytest.importorskip("openvino")
    root = tmp_path_factory.mktemp("cpu-twin-openvino")
    return dataclasses.replace(
        presets.PRESETS[presets.CPU],
        generator=str(tiny_families.build_tiny_sd_turbo(root / "sd-turbo")),
        decoder=str(tiny_families.build_tiny_taesd(root / "taesd")),
        translator=str(tiny_families.build_tiny_marian(root / "ru-en")),
        classifier=str(build_tiny_classifier(root / "classifier")),
        upscaler=None,
        prompt_writer=presets.PROMPT_WRITER_OFF,
    )


@pytest.fixture
def cpu_twin(twin, monkeypatch):
    monkeypatch.setitem(presets.PRESETS, presets.CPU, twin)
    return twin


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


def load(cache_dir, gpu: GpuOptions):
    return presets.load_models("cpu", cache_dir, device="cpu", gpu=gpu, prompt_writer=presets.PROMPT_WRITER_OFF)


def differences(reference, candidate) -> list[float]:
    """Mean pixel differences of ``candidate``'s pictures from ``reference``'s: painted, varied, outpainted."""
    (painted,) = reference.generator.generate("a red cat", seed=3)
    pairs = [(painted, candidate.generator.generate("a red cat", seed=3)[0])]
    pairs.append(
        tuple(loaded.generator.vary(painted, "a red cat", seed=4, strength=0.6)[0] for loaded in (reference, candidate))
    )
    pairs.append(
        tuple(loaded.generator.outpaint(painted, "o15", "a red cat", seed=5)[0] for loaded in (reference, candidate))
    )
    return [float(np.abs(pixels(a) - pixels(b)).mean()) for a, b in pairs]


def test_openvino_paints_what_torch_paints_in_float32(cpu_twin, tmp_path):
    reference = load(tmp_path, GpuOptions(cpu_dtype="float32"))
    candidate = load(tmp_path, OPENVINO)
    pipe = candidate.generator.pipe
    assert isinstance(pipe.unet, openvino_backend.OpenVinoUNet)
    assert isinstance(pipe.vae.decoder, openvino_backend.OpenVinoDecoder)
    assert type(pipe.text_encoder).__name__ == "CLIPTextModel"  # stays on torch
    calls = []
    infer = openvino_backend._OpenVinoModule.infer

    def counted(module, *inputs):
        calls.append(type(module).__name__)
        return infer(module, *inputs)

    openvino_backend._OpenVinoModule.infer = counted
    try:
        found = differences(reference, candidate)
    finally:
        openvino_backend._OpenVinoModule.infer = infer
    assert all(found_levels <= F32_MEAN_LEVELS for found_levels in found), found
    # text-to-image, image-to-image and inpainting (the pipelines from_pipe builds share it) all ran on OpenVINO
    assert calls.count("OpenVinoUNet") >= 3 and calls.count("OpenVinoDecoder") >= 3
    assert type(candidate.generator._image_to_image()[0].unet) is openvino_backend.OpenVinoUNet


def test_openvino_in_bfloat16_stays_within_its_tolerance_and_paints_any_size(cpu_twin, tmp_path):
    reference = load(tmp_path, GpuOptions(cpu_dtype="bfloat16"))
    candidate = load(tmp_path, dataclasses.replace(OPENVINO, cpu_dtype="bfloat16"))
    assert candidate.generator.pipe.unet.dtype == torch.bfloat16
    (expected,) = reference.generator.generate("a red cat", seed=3)
    (actual,) = candidate.generator.generate("a red cat", seed=3)
    assert np.abs(pixels(actual) - pixels(expected)).mean() <= BF16_MEAN_LEVELS
    grid = candidate.generator.generate("a red cat", seed=3, num_images=2, width=64, height=32)  # dynamic shapes
    assert [picture.size for picture in grid] == [(64, 32), (64, 32)]


def test_the_converted_models_are_read_back_on_the_next_start(cpu_twin, tmp_path, monkeypatch, caplog):
    converted = []
    convert = openvino_backend._convert

    def counted(graph, example, shapes, path):
        converted.append(type(graph).__name__)
        convert(graph, example, shapes, path)

    monkeypatch.setattr(openvino_backend, "_convert", counted)
    first = load(tmp_path, OPENVINO)
    assert sorted(converted) == ["_DecoderGraph", "_UNetGraph"]
    cached = sorted(path.name for path in (tmp_path / presets.OPENVINO_DIR).iterdir())
    assert [name.split("-")[0] for name in cached] == ["taesd", "unet"]
    with caplog.at_level(logging.INFO, logger="models.openvino_backend"):
        second = load(tmp_path, OPENVINO)
    assert len(converted) == 2 and "read from the cache" in caplog.text  # no second conversion
    (a,) = first.generator.generate("a red cat", seed=3)
    (b,) = second.generator.generate("a red cat", seed=3)
    assert np.array_equal(pixels(a), pixels(b))
    load(tmp_path, dataclasses.replace(OPENVINO, cpu_dtype="bfloat16"))  # another precision: its own entries
    assert len(converted) == 4 and len(list((tmp_path / presets.OPENVINO_DIR).iterdir())) == 4


def test_without_the_package_the_setting_is_refused_at_start_naming_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    started = time.perf_counter()
    with pytest.raises(openvino_backend.OpenVinoMissing, match=r"pip install 'molbert\[openvino\]'"):
        load(tmp_path, OPENVINO)  # the real preset: refused before any model is looked for
    assert time.perf_counter() - started < 5 and not any(tmp_path.iterdir())
    on_a_gpu = presets._check_cpu_backend(OPENVINO, "cuda", presets.PRESETS[presets.CPU])  # no package needed there
    assert on_a_gpu.cpu_backend == "torch"


def test_the_worker_refuses_to_start_without_the_package_in_one_line(monkeypatch, tmp_path, capsys):
    from workers.__main__ import main

    monkeypatch.setitem(sys.modules, "openvino", None)  # importlib finds no openvino
    monkeypatch.setenv("MODEL_CPU_BACKEND", "openvino")
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert main([]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "Configuration error: MODEL_CPU_BACKEND: openvino needs the optional `openvino` package: "
        "pip install 'molbert[openvino]', or set torch"
    )


def test_the_setting_defaults_to_auto_and_is_checked(monkeypatch):
    from core.config import load as load_settings
    from workers.config import ModelSettings

    monkeypatch.delenv("MODEL_CPU_BACKEND", raising=False)
    assert load_settings(ModelSettings).cpu_backend == "auto"
    monkeypatch.setenv("MODEL_CPU_BACKEND", "openvino")
    assert load_settings(ModelSettings).cpu_backend == "openvino"
    with pytest.raises(ValueError, match="cpu_backend"):
        GpuOptions(cpu_backend="onnx")


def test_auto_runs_the_cpu_preset_on_openvino_where_the_package_is_installed(cpu_twin, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="models.presets"):
        loaded = load(tmp_path, GpuOptions(cpu_backend="auto"))
    assert isinstance(loaded.generator.pipe.unet, openvino_backend.OpenVinoUNet)
    assert "MODEL_CPU_BACKEND=auto: openvino for the cpu preset" in caplog.text


def test_auto_runs_torch_without_the_package_and_says_what_to_install(cpu_twin, tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    with caplog.at_level(logging.INFO, logger="models.presets"):
        loaded = load(tmp_path, GpuOptions(cpu_backend="auto"))
    assert type(loaded.generator.pipe.unet).__name__ == "UNet2DConditionModel"
    assert "pip install 'molbert[openvino]'" in caplog.text
    (picture,) = loaded.generator.generate("a red cat", seed=3)
    assert pixels(picture).std() > 0


@pytest.mark.parametrize(
    ("preset", "device", "options", "expected"),
    [
        (presets.CPU, "cpu", GpuOptions(cpu_backend="auto"), "openvino"),
        (presets.CPU, "cuda", GpuOptions(cpu_backend="auto"), "torch"),  # a GPU runs torch
        (presets.CPU, "cpu", GpuOptions(cpu_backend="auto", compile=True), "torch"),  # MODEL_COMPILE asks for torch
        (presets.TINY, "cpu", GpuOptions(cpu_backend="auto"), "torch"),  # tests and development: torch
        ("fast", "cpu", GpuOptions(cpu_backend="auto"), "torch"),
    ],
)
def test_what_auto_picks(preset, device, options, expected):
    pytest.importorskip("openvino")
    assert presets.cpu_backend(options, device, presets.PRESETS[preset]) == expected


def test_workers_download_converts_ahead_so_the_first_start_only_reads(cpu_twin, tmp_path, monkeypatch, capsys):
    from workers.__main__ import main

    settings = {"MODEL_CACHE_DIR": str(tmp_path), "MODEL_CPU_DTYPE": "float32", "MODEL_CPU_BACKEND": "auto"}
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no developer .env
    assert main(["download", "--preset", "cpu"]) == 0
    assert "OpenVINO: unet, decoder converted into" in capsys.readouterr().out
    converted = []
    monkeypatch.setattr(openvino_backend, "_convert", lambda *args: converted.append(args))
    loaded = load(tmp_path, GpuOptions(cpu_backend="auto", cpu_dtype="float32"))  # the worker's first start
    assert converted == [] and isinstance(loaded.generator.pipe.unet, openvino_backend.OpenVinoUNet)
    assert main(["download", "--preset", "cpu"]) == 0 and "converted" not in capsys.readouterr().out  # once


def resident_share(path) -> float:
    """The share of the file at ``path`` resident in this process through its mappings (``/proc/self/smaps``)."""
    target, resident, inside = str(path.resolve()), 0, False
    for line in Path("/proc/self/smaps").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:  # a mapping's header line
            inside = len(fields) == 6 and fields[5] == target
        elif inside and fields[0] == "Rss:":
            resident += int(fields[1]) * 1024
    return resident / path.stat().st_size


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/smaps and madvise: Linux")
def test_the_converted_weights_are_not_kept_resident_beside_openvinos_own_copy(cpu_twin, tmp_path):
    # OpenVINO maps the IR's weights, and its CPU plugin packs its own copy of them: a worker ready to paint holds
    # none of the mapped pages (at the real size, 1.7 GB of RSS; bench/cpu_preset.py), and still paints
    loaded = load(tmp_path, dataclasses.replace(OPENVINO, cpu_dtype="bfloat16"))
    weights = sorted((tmp_path / presets.OPENVINO_DIR).glob("*/model.bin"))
    assert len(weights) == 2
    assert [resident_share(path) for path in weights] == [0.0, 0.0]
    (picture,) = loaded.generator.generate("a red cat", seed=3)
    assert pixels(picture).std() > 0  # pages it reads again come back from the file
