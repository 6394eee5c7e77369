"""Every generator family behind ImageGenerator, the ru→en translator and the GPU settings, on tiny random models.

Each family is built from configs (models/tiny_families.py), saved, and loaded back through the production
``from_pretrained`` path: Kandinsky 5 (reads Russian), Kandinsky 2.2 prior + decoder and SDXL (translated).
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from PIL import Image  # noqa: E402

from models import acceleration, presets, tiny_families  # noqa: E402
from models.acceleration import GpuOptions  # noqa: E402
from models.generator import (  # noqa: E402
    ImageGenerator,
    VariationsUnsupported,
    image_to_image_steps,
    known_defaults,
)
from models.translation import Translator, needs_translation  # noqa: E402
from tests.factories import work_until_empty  # noqa: E402

BUILDERS = {
    "kandinsky5": tiny_families.build_tiny_kandinsky5,
    "kandinsky22": tiny_families.build_tiny_kandinsky22,
    "sdxl": tiny_families.build_tiny_sdxl,
}
PIPELINES = {
    "kandinsky5": "Kandinsky5T2IPipeline",
    "kandinsky22": "KandinskyV22CombinedPipeline",
    "sdxl": "StableDiffusionXLPipeline",
}
VARIATIONS = {
    "kandinsky5": None,
    "kandinsky22": "KandinskyV22Img2ImgCombinedPipeline",
    "sdxl": "StableDiffusionXLImg2ImgPipeline",
}
FAMILIES = list(BUILDERS)


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("families")
    return {name: build(root / name) for name, build in BUILDERS.items()}


@pytest.fixture(scope="session")
def generators(family_dirs) -> dict[str, ImageGenerator]:
    return {name: ImageGenerator.from_pretrained(str(path)) for name, path in family_dirs.items()}


@pytest.fixture(scope="session")
def marian_dir(tmp_path_factory) -> Path:
    return tiny_families.build_tiny_marian(tmp_path_factory.mktemp("marian") / "ru-en")


@pytest.fixture(scope="session")
def translator(marian_dir) -> Translator:
    return Translator.from_pretrained(str(marian_dir))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def record_calls(monkeypatch, obj, name: str) -> list[tuple]:
    """Wrap ``obj.<name>`` so that the positional arguments of each call are recorded; the method still runs."""
    calls, original = [], getattr(obj, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, wrapper)
    return calls


# --- every family: load, generate, vary ----------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_family_loads_through_the_production_path(family, generators, family_dirs):
    generator = generators[family]
    assert type(generator.pipe).__name__ == PIPELINES[family]
    assert generator.name == str(family_dirs[family])
    assert (generator.default_size, generator.default_steps) == (tiny_families.TINY_SIZE, tiny_families.TINY_STEPS)


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_pixels(family, generators):
    generator = generators[family]
    first = generator.generate("рыжий кот на окне", seed=5, num_images=2, negative_prompt="размыто")
    again = generator.generate("рыжий кот на окне", seed=5, num_images=2, negative_prompt="размыто")
    other = generator.generate("рыжий кот на окне", seed=6, num_images=2, negative_prompt="размыто")
    assert [im.size for im in first] == [tiny_families.TINY_SIZE] * 2
    assert all(im.mode == "RGB" for im in first)
    for a, b, c in zip(first, again, other, strict=True):
        assert np.array_equal(pixels(a), pixels(b))
        assert not np.array_equal(pixels(a), pixels(c))


# steps a family runs before its denoiser's own: Kandinsky 2.2's prior (prior_num_inference_steps in molbert.json)
PRIOR_STEPS = {"kandinsky5": 0, "kandinsky22": tiny_families.TINY_STEPS, "sdxl": 0}


@pytest.mark.parametrize("family", FAMILIES)
def test_steps_are_reported(family, generators):
    calls = []
    generators[family].generate("кот", seed=0, steps=3, on_step=lambda done, total: calls.append((done, total)))
    total = PRIOR_STEPS[family] + 3
    assert calls == [(done, total) for done in range(1, total + 1)]


@pytest.mark.parametrize("family", FAMILIES)
def test_wide_aspect_gives_a_wide_picture_the_model_supports(family, generators):
    generator = generators[family]
    width, height = generator.size_for((16, 9))
    assert width > height
    if family == "kandinsky5":
        assert (width, height) == (96, 48)  # the closest of its trained resolutions
    (image,) = generator.generate("кот", seed=0, width=width, height=height)
    assert image.size == (width, height)


@pytest.mark.parametrize("family", FAMILIES)
def test_variations_or_a_clear_refusal(family, generators):
    generator = generators[family]
    assert generator.makes_variations == (VARIATIONS[family] is not None)
    if VARIATIONS[family] is None:
        with pytest.raises(VariationsUnsupported, match=PIPELINES[family]):
            generator.vary(Image.new("RGB", (64, 64)), "кот", seed=0)
        return
    source = generator.generate("кот", seed=1, width=96, height=48)[0]
    calls = []
    images = generator.vary(source, "кот", seed=2, num_images=2, steps=4, on_step=lambda *step: calls.append(step))
    assert type(generator._img2img[0]).__name__ == VARIATIONS[family]
    assert [im.size for im in images] == [source.size] * 2
    assert not np.array_equal(pixels(images[0]), pixels(source))
    again = generator.vary(source, "кот", seed=2, num_images=2, steps=4)
    assert np.array_equal(pixels(images[1]), pixels(again[1]))
    assert calls and calls[-1][0] == calls[-1][1]


def test_kandinsky5_tokenizer_processor_is_read_as_a_plain_tokenizer(generators, family_dirs):
    index = (family_dirs["kandinsky5"] / "model_index.json").read_text()
    assert "Qwen2VLProcessor" in index  # as in the real repository
    assert type(generators["kandinsky5"].pipe.tokenizer).__name__ == "Qwen2Tokenizer"


# Whether each tiny family reads a negative prompt: SDXL is set up like SDXL-Turbo (guidance 0, no guidance)
NEGATIVE_HEEDED = {"kandinsky5": True, "kandinsky22": True, "sdxl": False}


@pytest.mark.parametrize("family", FAMILIES)
def test_the_generator_says_whether_the_model_read_the_negative_prompt(family, generators):
    generator = generators[family]
    generator.generate("кот", seed=0, negative_prompt="люди")
    assert generator.negative_heeded is NEGATIVE_HEEDED[family]
    generator.generate("кот", seed=0)
    assert generator.negative_heeded is None  # nothing was asked to be left out


def test_kandinsky22_prior_steps_come_first_on_the_progress_bar(generators, monkeypatch):
    """The prior runs its own denoising loop before the decoder's: its steps are reported as they happen."""
    pipe = generators["kandinsky22"].pipe
    decoder_calls = record_calls(monkeypatch, pipe.decoder_pipe.unet, "forward")
    reports = []
    on_step = lambda done, total: reports.append((done, total, len(decoder_calls)))  # noqa: E731
    generators["kandinsky22"].generate("кот", seed=0, steps=3, on_step=on_step)
    prior = tiny_families.TINY_STEPS
    assert reports[:prior] == [(done, prior + 3, 0) for done in range(1, prior + 1)]  # the decoder has not run yet
    assert reports[prior:] == [(prior + done, prior + 3, done) for done in range(1, 4)]


def test_kandinsky22_variation_counts_the_whole_prior_and_its_share_of_the_decoder(generators):
    calls, source = [], Image.new("RGB", (64, 64), "gray")
    on_step = lambda *step: calls.append(step)  # noqa: E731
    generators["kandinsky22"].vary(source, "кот", seed=0, steps=4, strength=0.5, on_step=on_step)
    total = tiny_families.TINY_STEPS + 2
    assert calls == [(done, total) for done in range(1, total + 1)]


def test_a_cancel_during_kandinsky22_prior_stops_before_the_decoder(generators, redis_conn, monkeypatch):
    """The worker's own step callback sees the cancel flag in the prior's loop: the decoder never runs."""
    from core.keys import cancel_key
    from core.protocol import ChatRef
    from workers.progress import JobCancelled, ProgressReporter

    pipe = generators["kandinsky22"].pipe
    prior_calls = record_calls(monkeypatch, pipe.prior_pipe.prior, "forward")
    decoder_calls = record_calls(monkeypatch, pipe.decoder_pipe.unet, "forward")
    redis_conn.set(cancel_key("job-1"), 1)
    reporter = ProgressReporter(redis_conn, "job-1", ChatRef(platform="telegram", chat_id=1, user_id=1))
    with pytest.raises(JobCancelled):
        generators["kandinsky22"].generate("кот", seed=0, steps=3, on_step=reporter)
    assert (len(prior_calls), len(decoder_calls)) == (1, 0)


def test_kandinsky22_decoder_brings_its_prior(generators):
    pipe = generators["kandinsky22"].pipe
    assert type(pipe.prior_prior).__name__ == "PriorTransformer"
    assert generators["kandinsky22"].size_multiple == 4  # tiny movq: scale 2, latents at size / 2², times 2


def test_attention_is_pytorch_sdpa(generators):
    for generator in generators.values():
        denoiser = acceleration.denoiser(generator.pipe)
        kinds = {type(proc).__name__ for proc in denoiser.attn_processors.values()}
        assert kinds <= {"AttnProcessor2_0", "AttnAddedKVProcessor2_0", "Kandinsky5AttnProcessor"}, kinds
        for name, component in generator.pipe.components.items():
            if hasattr(component, "config") and hasattr(component.config, "_attn_implementation"):
                assert component.config._attn_implementation == "sdpa", name


# --- which models read Russian -----------------------------------------------------------------


def test_known_models_reading_russian(family_dirs):
    assert known_defaults("kandinskylab/Kandinsky-5.0-T2I-Lite-sft-Diffusers").reads_russian
    assert not known_defaults("stabilityai/sdxl-turbo").reads_russian
    assert not known_defaults("kandinsky-community/kandinsky-2-2-decoder").reads_russian
    assert not known_defaults("someone/unknown-model").reads_russian
    assert known_defaults(str(family_dirs["kandinsky5"])).reads_russian  # from its molbert.json
    assert not known_defaults(str(family_dirs["sdxl"])).reads_russian


def test_generator_override_decides_translation(family_dirs, tmp_path):
    cache = tmp_path / "cache"
    k5 = presets.resolve_preset("tiny", cache, generator=str(family_dirs["kandinsky5"]))
    assert (k5.generator, k5.generator_reads_russian) == (str(family_dirs["kandinsky5"]), True)
    sdxl = presets.resolve_preset("tiny", cache, generator=str(family_dirs["sdxl"]), translator="my/ru-en")
    assert (sdxl.generator_reads_russian, sdxl.translator) == (False, "my/ru-en")
    assert presets.PRESETS["compact"].translator == presets.PRESETS["fast"].translator == presets.RU_EN_TRANSLATOR


# --- translation ---------------------------------------------------------------------------------


def test_needs_translation():
    assert needs_translation("рыжий кот") and needs_translation("cat в шляпе")
    assert not needs_translation("a red cat, 4k") and not needs_translation("")


def test_translator_is_deterministic_and_leaves_latin_alone(translator):
    texts = ["рыжий кот в космосе", "a red cat", "", "собака"]
    first = translator.translate(texts)
    assert first == translator.translate(texts)
    assert first[1:3] == ["a red cat", ""]
    assert all(isinstance(text, str) and text for text in (first[0], first[3]))
    assert translator.translate([]) == []


def test_latin_only_texts_never_reach_the_model(translator, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("translated a Latin-only text")

    monkeypatch.setattr(translator.model, "generate", must_not_run)
    assert translator.translate(["a cat", "dog, 4k"]) == ["a cat", "dog, 4k"]


@pytest.fixture(scope="session")
def translated_models(family_dirs, marian_dir, model_cache_dir):
    """The tiny preset with the SDXL family as MODEL_GENERATOR: a generator that needs translation."""
    return presets.load_models(
        "tiny", model_cache_dir, device="cpu", generator=str(family_dirs["sdxl"]), translator=str(marian_dir)
    )


def test_translator_is_loaded_only_for_generators_that_need_it(translated_models, tiny_models, marian_dir):
    assert tiny_models.preset.generator_reads_russian and tiny_models.translator is None
    assert not translated_models.preset.generator_reads_russian
    assert translated_models.translator.name == str(marian_dir)
    assert tiny_models.generator_words("кот", "люди") == ("кот", "люди")


def test_generator_words_translate_prompt_and_negative_in_one_call(translated_models, monkeypatch):
    translator = translated_models.translator
    expected = translator.translate(["кот в космосе", "люди"])
    calls = record_calls(monkeypatch, translator, "translate")
    assert list(translated_models.generator_words("кот в космосе", "люди")) == expected
    assert calls == [(["кот в космосе", "люди"],)]
    assert translated_models.generator_words("a cat", None) == ("a cat", None)


async def test_a_job_translates_once_and_ranks_by_the_russian_prompt(translated_models, redis_conn, monkeypatch):
    from bot.queue import RedisJobs
    from core.protocol import ChatRef, GenerateJob, job_id_for

    models = translated_models
    english = models.translator.translate(["кот, акварель", "люди"])
    translations = record_calls(monkeypatch, models.translator, "translate")
    paintings = record_calls(monkeypatch, models.generator, "generate")
    rankings = record_calls(monkeypatch, models.classifier, "rank_images")
    chat = ChatRef(platform="telegram", chat_id=1, user_id=2, message_id=3)
    job = GenerateJob(chat=chat, prompt="кот", model_prompt="кот, акварель", model_negative="люди", seed=1, best_of=2)
    assert await RedisJobs(redis_conn).submit_generate(job_id_for(chat, "imagine"), job) is not None
    work_until_empty(models, redis_conn)
    assert translations == [(["кот, акварель", "люди"],)]  # once per job, prompt and negative together
    assert [args[0] for args in paintings] == [english[0]]
    assert [args[1] for args in rankings] == ["кот"]  # best-of keeps ranking by the user's own words


# --- GPU settings --------------------------------------------------------------------------------


def test_gpu_options_validate():
    assert GpuOptions() == GpuOptions(compile=False, cpu_offload="none", vae_tiling="auto")
    with pytest.raises(ValueError, match="cpu_offload"):
        GpuOptions(cpu_offload="disk")
    with pytest.raises(ValueError, match="vae_tiling"):
        GpuOptions(vae_tiling="maybe")


@pytest.mark.parametrize(
    ("offload", "device", "expected"),
    [
        ("none", "cuda", ("to", "cuda")),
        ("model", "cuda:1", ("enable_model_cpu_offload", "cuda:1")),
        ("sequential", "cuda", ("enable_sequential_cpu_offload", "cuda")),
        ("model", "cpu", ("to", "cpu")),  # nothing to offload to
    ],
)
def test_cpu_offload_calls_the_pipeline_method(offload, device, expected, generators, monkeypatch):
    pipe = generators["sdxl"].pipe
    calls = []
    monkeypatch.setattr(pipe, "to", lambda device: calls.append(("to", device)))
    for method in ("enable_model_cpu_offload", "enable_sequential_cpu_offload"):
        monkeypatch.setattr(pipe, method, lambda device, method=method: calls.append((method, device)))
    acceleration.place(pipe, device, offload)
    assert calls == [expected]


@pytest.mark.parametrize("family", FAMILIES)
def test_compile_wraps_the_denoiser(family, family_dirs):
    generator = ImageGenerator.from_pretrained(str(family_dirs[family]), gpu=GpuOptions(compile=True))
    denoiser = acceleration.denoiser(generator.pipe)
    assert denoiser is (generator.pipe.transformer if family == "kandinsky5" else generator.pipe.unet)
    assert denoiser._compiled_call_impl is not None


def test_denoisers_are_not_compiled_by_default(generators):
    assert all(acceleration.denoiser(g.pipe)._compiled_call_impl is None for g in generators.values())


def test_vae_tiling_auto_on_off(generators):
    assert not acceleration.wants_tiling("auto", 1024, 1024)
    assert acceleration.wants_tiling("auto", 1536, 1024)
    assert acceleration.wants_tiling("on", 64, 64) and not acceleration.wants_tiling("off", 4096, 4096)
    generator = generators["sdxl"]
    try:
        generator.vae_tiling = "on"
        generator.generate("кот", seed=0)
        assert generator.pipe.vae.use_tiling
        generator.vae_tiling = "auto"
        generator.generate("кот", seed=0)
        assert not generator.pipe.vae.use_tiling
    finally:
        generator.vae_tiling = "auto"


def test_tiling_unsupported_decoder_is_left_alone(generators, family_dirs, caplog):
    assert not acceleration.tiling_supported(generators["kandinsky22"].pipe)  # VQ decoder
    acceleration.set_vae_tiling(generators["kandinsky22"].pipe, True)
    with caplog.at_level(logging.WARNING, logger="models.generator"):
        ImageGenerator.from_pretrained(str(family_dirs["kandinsky22"]), gpu=GpuOptions(vae_tiling="on"))
    assert "cannot tile" in caplog.text


def conv_weights(module) -> list:
    """The 4-D weights whose memory layout differs between the two formats (several channels, kernel above 1x1)."""
    return [p for p in module.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] * p.shape[3] > 1]


def channels_last(weights: list) -> bool:
    """Whether every one of ``weights`` is laid out channels-last (and not in the default contiguous format)."""
    return all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in weights)


def image_decoder(pipe):
    return pipe.vae if hasattr(pipe, "vae") else pipe.movq


@pytest.mark.parametrize("family", ["sdxl", "kandinsky22"])
def test_channels_last_on_converts_the_unet_and_decoder_and_still_paints(family, family_dirs, generators):
    generator = ImageGenerator.from_pretrained(str(family_dirs[family]), gpu=GpuOptions(channels_last="on"))
    pipe = generator.pipe
    assert conv_weights(pipe.unet) and channels_last(conv_weights(pipe.unet))
    assert channels_last(conv_weights(image_decoder(pipe).decoder))
    [image] = generator.generate("кот", seed=3, steps=2)
    [plain] = generators[family].generate("кот", seed=3, steps=2)
    assert image.size == plain.size == generator.default_size


@pytest.mark.parametrize("family", ["sdxl", "kandinsky22"])
def test_channels_last_auto_leaves_cpu_weights_alone(family, generators):
    pipe = generators[family].pipe  # loaded with the default GpuOptions: channels_last="auto", on the CPU
    assert not any(w.is_contiguous(memory_format=torch.channels_last) for w in conv_weights(pipe.unet))
    assert all(w.is_contiguous() for w in conv_weights(image_decoder(pipe)))


def test_channels_last_auto_is_for_cuda_unets(generators):
    unet, transformer = generators["sdxl"].pipe, generators["kandinsky5"].pipe
    assert acceleration.wants_channels_last("auto", "cuda", unet)
    assert acceleration.wants_channels_last("auto", "cuda:1", generators["kandinsky22"].pipe)
    assert not acceleration.wants_channels_last("auto", "cuda", transformer)  # no convolutions to speed up
    assert not acceleration.wants_channels_last("auto", "cpu", unet)
    assert not acceleration.wants_channels_last("auto", "mps", unet)
    assert acceleration.wants_channels_last("on", "cpu", transformer)
    assert not acceleration.wants_channels_last("off", "cuda", unet)
    with pytest.raises(ValueError, match="channels_last"):
        GpuOptions(channels_last="yes")


def test_channels_last_on_a_transformer_pipeline_converts_its_image_decoder(family_dirs):
    generator = ImageGenerator.from_pretrained(str(family_dirs["kandinsky5"]), gpu=GpuOptions(channels_last="on"))
    assert channels_last(conv_weights(generator.pipe.vae.decoder))
    [image] = generator.generate("кот", seed=3, steps=2)
    assert image.size == generator.default_size


def test_channels_last_skips_a_video_decoder(caplog):
    from types import SimpleNamespace

    pipe = SimpleNamespace(unet=torch.nn.Conv2d(4, 8, 3), vae=torch.nn.Conv3d(4, 8, 3))
    with caplog.at_level(logging.WARNING, logger="models.acceleration"):
        assert acceleration.use_channels_last(pipe) == ["unet"]
    assert "3-D convolutions" in caplog.text
    assert channels_last([pipe.unet.weight]) and pipe.vae.weight.is_contiguous()


def test_warm_up_paints_one_small_picture_and_checks_it(tiny_models, monkeypatch, caplog):
    from models import warmup

    paintings = record_calls(monkeypatch, tiny_models.generator, "generate")
    checked = []
    with caplog.at_level(logging.INFO, logger="models.warmup"):
        seconds = warmup.warm_up(tiny_models, checked.append)
    assert len(paintings) == 1 and paintings[0] == (warmup.WARMUP_PROMPT,)  # the tiny generator reads Russian
    assert len(checked) == 1 and [image.size for image in checked[0]] == [tiny_models.generator.default_size]
    assert seconds < 30
    width, height = tiny_models.generator.default_size
    assert f"warm-up: one {width}x{height} picture in 2 steps took" in caplog.text


def test_warm_up_goes_through_the_translator(translated_models, monkeypatch):
    from models import warmup

    english = translated_models.translator.translate([warmup.WARMUP_PROMPT])
    translations = record_calls(monkeypatch, translated_models.translator, "translate")
    paintings = record_calls(monkeypatch, translated_models.generator, "generate")
    warmup.warm_up(translated_models)
    assert translations == [([warmup.WARMUP_PROMPT],)]
    assert paintings == [(english[0],)]


def test_settings_read_the_model_variables(monkeypatch):
    from core.config import ConfigError, load
    from workers.config import ModelSettings

    monkeypatch.setenv("MODEL_GENERATOR", "stabilityai/sdxl-turbo")
    monkeypatch.setenv("MODEL_COMPILE", "true")
    monkeypatch.setenv("MODEL_CPU_OFFLOAD", "sequential")
    monkeypatch.setenv("MODEL_VAE_TILING", "on")
    settings = load(ModelSettings)
    assert (settings.generator, settings.translator) == ("stabilityai/sdxl-turbo", None)
    assert (settings.compile, settings.cpu_offload, settings.vae_tiling) == (True, "sequential", "on")
    assert (settings.channels_last, settings.warmup) == ("auto", True)
    monkeypatch.setenv("MODEL_CHANNELS_LAST", "on")
    monkeypatch.setenv("MODEL_WARMUP", "false")
    settings = load(ModelSettings)
    assert (settings.channels_last, settings.warmup) == ("on", False)
    monkeypatch.setenv("MODEL_CPU_OFFLOAD", "disk")
    with pytest.raises(ConfigError, match="MODEL_CPU_OFFLOAD"):
        load(ModelSettings)


def dtypes(module: torch.nn.Module) -> set[torch.dtype]:
    return {param.dtype for param in module.parameters()}


@pytest.mark.parametrize(("setting", "small"), [(None, torch.float32), ("auto", torch.bfloat16)])
def test_classifier_and_translator_run_in_float32_beside_a_half_precision_generator(
    setting, small, family_dirs, marian_dir, model_cache_dir, monkeypatch
):
    """On a GPU the generator runs in bf16/fp16; the small models stay in float32 (upstream ruCLIP does, and the
    NSFW threshold cuts its scores) unless MODEL_SMALL_MODELS_DTYPE says otherwise."""
    from models import device

    monkeypatch.setattr(device, "pick_dtype", lambda _device: torch.bfloat16)  # what an Ampere card gets
    options = {} if setting is None else {"small_models_dtype": setting}
    loaded = presets.load_models(
        "tiny", model_cache_dir, device="cpu", generator=str(family_dirs["sdxl"]), translator=str(marian_dir), **options
    )
    assert loaded.dtype == torch.bfloat16
    assert dtypes(loaded.generator.pipe.unet) == {torch.bfloat16}
    assert dtypes(loaded.classifier.model) == {small}
    assert dtypes(loaded.translator.model) == {small}


def test_small_models_default_to_float32_when_loaded_directly(tiny_models, marian_dir, monkeypatch):
    """Without a dtype, from_pretrained gives float32 even where the device's dtype is bf16 (a bench, a script)."""
    from models import classifier, device, translation
    from models.classifier import ZeroShotClassifier

    for module in (device, classifier, translation):  # the old code read the device's dtype through these
        monkeypatch.setattr(module, "pick_dtype", lambda _device: torch.bfloat16, raising=False)
    loaded = ZeroShotClassifier.from_pretrained(tiny_models.preset.classifier, device="cpu")
    assert dtypes(loaded.model) == {torch.float32}
    assert dtypes(Translator.from_pretrained(str(marian_dir), device="cpu").model) == {torch.float32}


def test_small_models_dtype_names():
    from models.device import pick_dtype, small_dtype

    assert small_dtype("float32", "cpu") == torch.float32
    assert (small_dtype("bfloat16", "cpu"), small_dtype("float16", "cpu")) == (torch.bfloat16, torch.float16)
    assert small_dtype("auto", "cpu") == pick_dtype("cpu")
    with pytest.raises(ValueError, match="float32"):
        small_dtype("fp8", "cpu")


def test_settings_read_the_classifier_variables(monkeypatch):
    from core.config import ConfigError, load
    from workers.config import ModelSettings

    settings = load(ModelSettings)
    assert (settings.classifier, settings.small_models_dtype) == (None, presets.SMALL_MODELS_DTYPE)
    monkeypatch.setenv("MODEL_CLASSIFIER", "ai-forever/ruclip-vit-large-patch14-336")
    monkeypatch.setenv("MODEL_SMALL_MODELS_DTYPE", "bfloat16")
    settings = load(ModelSettings)
    assert (settings.classifier, settings.small_models_dtype) == ("ai-forever/ruclip-vit-large-patch14-336", "bfloat16")
    monkeypatch.setenv("MODEL_SMALL_MODELS_DTYPE", "half")
    with pytest.raises(ConfigError, match="MODEL_SMALL_MODELS_DTYPE"):
        load(ModelSettings)


class LoadStopped(Exception):
    pass


def test_the_worker_passes_the_classifier_settings_to_load_models(redis_url, monkeypatch):
    """``python -m workers`` hands MODEL_CLASSIFIER and MODEL_SMALL_MODELS_DTYPE to load_models."""
    from workers.__main__ import main

    calls = []

    def load_models(*args, **kwargs):
        calls.append(kwargs)
        raise LoadStopped

    from core.config import LogSettings

    monkeypatch.setattr(presets, "load_models", load_models)
    monkeypatch.setattr(LogSettings, "apply", lambda self: None)  # leave pytest's log handlers alone
    monkeypatch.setenv("PYTORCH_CUDA_ALLOC_CONF", "")  # main sets it; monkeypatch restores it
    for name, value in {
        "REDIS_URL": redis_url,
        "WORKER_METRICS_PORT": "0",
        "WORKER_MALLOC_KEEP_MB": "0",
        "MODEL_PRESET": "tiny",
        "MODEL_CLASSIFIER": "/models/my-ruclip",
        "MODEL_SMALL_MODELS_DTYPE": "auto",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(LoadStopped):
        main([])
    assert (calls[0]["classifier"], calls[0]["small_models_dtype"]) == ("/models/my-ruclip", "auto")


def test_tiny_generator_says_it_reads_russian(tiny_models):
    assert known_defaults(tiny_models.preset.generator).reads_russian


async def test_variation_on_a_model_without_image_to_image_is_explained_not_retried(
    family_dirs, model_cache_dir, redis_conn
):
    """Kandinsky 5 Lite has no image-to-image pipeline: its pictures come without V buttons, and a V press under
    an older picture gets a clear answer at once."""
    from bot.queue import RedisJobs
    from core.keys import result_stream
    from core.protocol import ChatRef, GenerateJob, ResultEvent, job_id_for

    models = presets.load_models("tiny", model_cache_dir, device="cpu", generator=str(family_dirs["kandinsky5"]))
    chat = ChatRef(platform="telegram", chat_id=1, user_id=2, message_id=4)
    [source] = models.generator.generate("кот", seed=1)
    buffer = io.BytesIO()
    source.save(buffer, format="PNG")
    redis_conn.set("molbert:image:earlier:0", buffer.getvalue())
    painting = GenerateJob(chat=chat, prompt="кот", seed=1)
    variation = GenerateJob(chat=chat, prompt="кот", seed=2, init_image_key="molbert:image:earlier:0")
    jobs = RedisJobs(redis_conn)
    assert await jobs.submit_generate(job_id_for(chat, "paint"), painting) is not None
    assert await jobs.submit_generate(job_id_for(chat, "vary"), variation) is not None
    work_until_empty(models, redis_conn)
    entries = redis_conn.xrange(result_stream("telegram"))
    painted, varied = (ResultEvent.model_validate_json(fields[b"event"]) for _id, fields in entries)
    assert (painted.ok, painted.variations) == (True, False)
    assert (varied.ok, varied.error_key) == (False, "variations_unsupported")


# --- a variation of a picture painted with very few steps ------------------------------------------------


def _variation_after_one_step(generator: ImageGenerator, strength: float) -> list[tuple[int, int]]:
    """Vary a picture painted with ``--steps 1`` at ``strength``; return the step reports."""
    source = generator.generate("кот", seed=1, steps=1)[0]
    reports: list[tuple[int, int]] = []
    (image,) = generator.vary(source, "кот", seed=2, steps=1, strength=strength, on_step=lambda *s: reports.append(s))
    assert image.size == source.size
    return reports


@pytest.mark.parametrize("strength", [0.35, 0.75, 0.6, 0.1, 1 / 3])
@pytest.mark.parametrize("family", [family for family in FAMILIES if VARIATIONS[family]])
def test_a_variation_of_a_one_step_picture_denoises_at_least_once(family, strength, generators):
    """Image-to-image runs ``int(steps * strength)`` steps: ``--steps 1`` then V would run none, and diffusers
    raises; the generator asks for enough steps that one runs."""
    reports = _variation_after_one_step(generators[family], strength)
    assert len(reports) > PRIOR_STEPS[family], reports  # past the prior: the denoiser ran
    assert reports[-1][0] == reports[-1][1]


@pytest.mark.parametrize("strength", [0.35, 0.75])
def test_a_variation_of_a_one_step_picture_on_the_tiny_preset(strength, tiny_models):
    assert _variation_after_one_step(tiny_models.generator, strength)


@pytest.mark.parametrize("strength", [0.01, 0.1, 0.3, 1 / 3, 0.35, 0.6, 0.7, 0.75, 0.9, 1.0])
@pytest.mark.parametrize("steps", [1, 2, 4, 50])
def test_image_to_image_steps_run_at_least_one(steps, strength):
    asked = image_to_image_steps(steps, strength)
    assert asked >= steps and int(asked * strength) >= 1
    assert asked == steps or int((asked - 1) * strength) < 1  # no more than needed
