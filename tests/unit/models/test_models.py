"""Tests for models/: tiny random models built locally, loaded through the production loaders."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from PIL import Image  # noqa: E402
from transformers.modeling_outputs import BaseModelOutputWithPooling  # noqa: E402

from models import presets, tiny  # noqa: E402
from models.classifier import RU_TEMPLATES, ZeroShotClassifier, features, label_scores  # noqa: E402
from models.device import pick_device, pick_dtype  # noqa: E402
from models.generator import ImageGenerator, known_defaults  # noqa: E402

LABELS = ["кошка", "собака", "машина", "дом"]


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> tuple[Path, Path]:
    return tiny.ensure_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def generator(tiny_dirs) -> ImageGenerator:
    return ImageGenerator.from_pretrained(str(tiny_dirs[0]))


@pytest.fixture(scope="session")
def clip_dir(tiny_dirs) -> Path:
    return tiny_dirs[1]


@pytest.fixture(scope="session")
def siglip_dir(tmp_path_factory) -> Path:
    return tiny.build_tiny_siglip_classifier(tmp_path_factory.mktemp("tiny-siglip") / "siglip")


@pytest.fixture
def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(48, 40, 3), dtype=np.uint8))


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


# --- device ---------------------------------------------------------------------------------


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("models.device._mps_available", lambda: False)
    assert pick_device() == "cpu"
    assert pick_device("auto") == "cpu"
    monkeypatch.setattr("models.device._mps_available", lambda: True)
    assert pick_device(None) == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == "cuda"
    assert pick_device("cpu") == "cpu"


def test_pick_device_refuses_missing_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA"):
        pick_device("cuda:0")


def test_pick_dtype(monkeypatch):
    assert pick_dtype("cpu") == torch.float32
    assert pick_dtype("mps") == torch.float16
    asked = []

    def bf16(native: bool):
        def supported(including_emulation: bool = True) -> bool:  # torch's own default counts emulation
            asked.append(including_emulation)
            return native or including_emulation

        return supported

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", bf16(native=True))
    assert pick_dtype("cuda") == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", bf16(native=False))  # e.g. a T4 or V100
    assert pick_dtype("cuda:1") == torch.float16
    assert asked == [False, False]


# --- tiny models ----------------------------------------------------------------------------


def test_clip_tokenizer_reads_russian_and_matches_text_encoder(tiny_dirs):
    from transformers import CLIPTextConfig

    tokenizer = tiny.build_clip_tokenizer()
    ids = tokenizer("Рыжий кот, 3 шт.!")["input_ids"]
    assert tokenizer.unk_token_id not in ids[1:-1]
    assert tokenizer.decode(ids, skip_special_tokens=True).replace(" ", "") == "рыжийкот,3шт.!"
    config = CLIPTextConfig.from_pretrained(tiny_dirs[0] / "text_encoder")
    assert config.vocab_size == len(tokenizer)
    assert (config.eos_token_id, config.pad_token_id) == (tokenizer.eos_token_id, tokenizer.pad_token_id)
    assert ids[-1] == tokenizer.eos_token_id


def test_ensure_tiny_models_is_idempotent(tiny_dirs, monkeypatch):
    def must_not_build(path, seed=0):
        raise AssertionError("rebuilt an existing tiny model")

    monkeypatch.setattr(tiny, "build_tiny_generator", must_not_build)
    monkeypatch.setattr(tiny, "build_tiny_classifier", must_not_build)
    assert tiny.ensure_tiny_models(tiny_dirs[0].parent) == tiny_dirs


def test_build_atomically_survives_a_lost_race(tmp_path):
    target = tmp_path / "model"

    def build_while_another_process_wins(path: Path) -> Path:
        (path / "mine.txt").write_text("mine")
        target.mkdir()
        (target / "theirs.txt").write_text("theirs")
        return path

    assert tiny._build_atomically(target, build_while_another_process_wins) == target
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # our temp dir is cleaned up
    assert [p.name for p in target.iterdir()] == ["theirs.txt"]


def test_failed_build_leaves_nothing(tmp_path):
    def broken(path: Path) -> Path:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        tiny._build_atomically(tmp_path / "model", broken)
    assert list(tmp_path.iterdir()) == []


# --- generator ------------------------------------------------------------------------------


def test_generator_loads_tiny_pipeline(generator, tiny_dirs):
    assert generator.name == str(tiny_dirs[0])
    assert generator.default_size == (64, 64)
    assert generator.default_steps == tiny.TINY_STEPS
    assert type(generator.pipe).__name__ == "StableDiffusionPipeline"


def test_generate_returns_requested_images(generator):
    images = generator.generate("кот", seed=1, num_images=3)
    assert len(images) == 3
    assert all(isinstance(im, Image.Image) and im.size == (64, 64) and im.mode == "RGB" for im in images)
    (other,) = generator.generate("кот", seed=1, width=48, height=32, steps=2)
    assert other.size == (48, 32)


def test_same_seed_same_pixels_different_seed_differs(generator):
    first = generator.generate("рыжий кот на подоконнике", seed=7, num_images=2)
    again = generator.generate("рыжий кот на подоконнике", seed=7, num_images=2)
    other = generator.generate("рыжий кот на подоконнике", seed=8, num_images=2)
    for a, b, c in zip(first, again, other, strict=True):
        assert np.array_equal(pixels(a), pixels(b))
        assert not np.array_equal(pixels(a), pixels(c))


def test_russian_prompt_conditions_the_image(generator):
    cat = generator.generate("пушистый кот", seed=3)[0]
    dog = generator.generate("большая собака", seed=3)[0]
    negative = generator.generate("пушистый кот", seed=3, negative_prompt="размыто")[0]
    assert not np.array_equal(pixels(cat), pixels(dog))
    assert not np.array_equal(pixels(cat), pixels(negative))


def test_generate_rejects_zero_images(generator):
    with pytest.raises(ValueError, match="num_images"):
        generator.generate("кот", seed=0, num_images=0)


def test_falls_back_to_diffusion_pipeline_when_autopipeline_has_no_mapping(tiny_dirs, monkeypatch):
    import diffusers

    def unmapped(cls, model, **kwargs):
        raise ValueError(f"AutoPipeline can't find a pipeline linked to X for {model}")

    monkeypatch.setattr(diffusers.AutoPipelineForText2Image, "from_pretrained", classmethod(unmapped))
    generator = ImageGenerator.from_pretrained(str(tiny_dirs[0]))
    assert generator.generate("кот", seed=0)[0].size == (64, 64)


def test_few_step_models_get_their_own_defaults(generator):
    turbo = ImageGenerator(generator.pipe, "stabilityai/sdxl-turbo", "cpu", known_defaults("stabilityai/sdxl-turbo"))
    assert (turbo.default_steps, turbo.default_size) == (4, (512, 512))
    kwargs = turbo._build_call_kwargs("кот", 2, None, None, None, None)
    assert kwargs["guidance_scale"] == 0.0
    assert (kwargs["num_inference_steps"], kwargs["num_images_per_prompt"], kwargs["width"]) == (4, 2, 512)
    assert known_defaults("some/other-model").steps is None


# --- classifier -----------------------------------------------------------------------------


def test_clip_classifier_softmax_sorted(clip_dir, photo):
    classifier = ZeroShotClassifier.from_pretrained(str(clip_dir))
    assert classifier.name == str(clip_dir)
    assert not classifier.sigmoid
    assert classifier.templates == RU_TEMPLATES
    result = classifier.classify(photo, LABELS)
    assert sorted(label for label, _ in result) == sorted(LABELS)
    scores = [score for _, score in result]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) == pytest.approx(1.0, abs=1e-5)


def test_text_embeddings_are_cached(clip_dir, photo, monkeypatch):
    classifier = ZeroShotClassifier.from_pretrained(str(clip_dir))
    calls = []
    original = classifier.model.get_text_features

    def spy(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(classifier.model, "get_text_features", spy)
    first = classifier.classify(photo, LABELS)
    assert sum(rows for rows, _width in calls) == len(LABELS) * len(RU_TEMPLATES)  # every label x template once
    encoded = len(calls)
    assert classifier.classify(photo, list(LABELS)) == first
    assert classifier.classify(photo, list(reversed(LABELS[:2])))  # the same labels in another set
    assert len(calls) == encoded
    classifier.classify(photo, [LABELS[0], "жираф"])
    assert calls[encoded:] == [(len(RU_TEMPLATES), calls[-1][1])]  # only the new label


def test_duplicate_labels_are_scored_once(clip_dir, photo):
    classifier = ZeroShotClassifier.from_pretrained(str(clip_dir))
    result = classifier.classify(photo, ["кошка", "собака", "кошка"])
    assert sorted(label for label, _ in result) == ["кошка", "собака"]
    with pytest.raises(ValueError):
        classifier.classify(photo, [])


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_single_template_matches_the_models_own_forward(kind, clip_dir, siglip_dir, photo):
    """Our scoring reproduces transformers' logits_per_image (softmax for CLIP, sigmoid for SigLIP)."""
    path = clip_dir if kind == "clip" else siglip_dir
    classifier = ZeroShotClassifier.from_pretrained(str(path), templates=("{}",))
    assert classifier.sigmoid == (kind == "siglip")
    result = dict(classifier.classify(photo, LABELS))
    model, processor = classifier.model, classifier.processor
    pixel_values = processor.image_processor(images=photo, return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        logits = model(**classifier._tokenize(LABELS), pixel_values=pixel_values).logits_per_image[0]
    expected = torch.sigmoid(logits) if kind == "siglip" else logits.softmax(-1)
    assert [result[label] for label in LABELS] == pytest.approx(expected.tolist(), abs=1e-5)


def test_siglip2_naflex_model_matches_its_own_forward(tmp_path, photo):
    """SigLIP2 (variable resolution) needs its patch mask and spatial shapes: scores equal the model's own."""
    path = tiny.build_tiny_siglip2_classifier(tmp_path / "siglip2")
    classifier = ZeroShotClassifier.from_pretrained(str(path), templates=("{}",))
    assert type(classifier.model).__name__ == "Siglip2Model" and classifier.sigmoid
    result = dict(classifier.classify(photo, LABELS))
    images = classifier.processor.image_processor(images=photo, return_tensors="pt")
    with torch.inference_mode():
        logits = classifier.model(**classifier._tokenize(LABELS), **images).logits_per_image[0]
    assert [result[label] for label in LABELS] == pytest.approx(torch.sigmoid(logits).tolist(), abs=1e-5)


def test_siglip_classifier_gives_independent_sigmoid_scores(siglip_dir, photo):
    classifier = ZeroShotClassifier.from_pretrained(str(siglip_dir))
    assert type(classifier.model).__name__ == "SiglipModel"
    result = classifier.classify(photo, LABELS)
    scores = [score for _, score in result]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 < score < 1.0 for score in scores)
    single = dict(classifier.classify(photo, LABELS[:1]))
    assert single[LABELS[0]] == pytest.approx(dict(result)[LABELS[0]], abs=1e-6)  # not normalised over labels


def test_siglip_with_sentencepiece_tokenizer(tmp_path, photo):
    """The production SigLIP tokenizer (SentencePiece; needs protobuf) loads and scores through our code."""
    pytest.importorskip("google.protobuf", reason="SiglipTokenizer needs protobuf")
    import sentencepiece as spm
    from transformers import SiglipTokenizer

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join([*LABELS, *RU_TEMPLATES, "a photo of a cat"] * 20), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(tmp_path / "sp"),
        vocab_size=80,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    path = tiny.build_tiny_siglip_classifier(tmp_path / "siglip", tokenizer=SiglipTokenizer(str(tmp_path / "sp.model")))
    classifier = ZeroShotClassifier.from_pretrained(str(path))
    assert type(classifier.processor.tokenizer).__name__ == "SiglipTokenizer"
    assert classifier.sigmoid
    result = classifier.classify(photo, LABELS)
    assert sorted(label for label, _ in result) == sorted(LABELS)
    assert all(0.0 < score < 1.0 for _, score in result)


def test_label_scores_softmax_and_sigmoid():
    image = torch.nn.functional.normalize(torch.tensor([1.0, 0.0]), dim=-1)
    text = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), dim=-1)
    scale = torch.tensor(np.log(10.0))
    softmax = label_scores(image, text, scale)
    assert softmax.tolist() == pytest.approx(torch.tensor([10.0, 0.0]).softmax(-1).tolist())
    sigmoid = label_scores(image, text, scale, torch.tensor(-5.0))
    assert sigmoid.tolist() == pytest.approx([torch.sigmoid(torch.tensor(5.0)).item(), 1 / (1 + np.exp(5.0))])


def test_features_accepts_tensors_and_model_outputs():
    tensor = torch.ones(2, 3)
    assert features(tensor, "text") is tensor
    assert features(BaseModelOutputWithPooling(pooler_output=tensor), "image") is tensor
    with pytest.raises(TypeError):
        features(BaseModelOutputWithPooling(), "text")


# --- presets --------------------------------------------------------------------------------


def test_unknown_preset_names_the_valid_ones(tmp_path):
    with pytest.raises(ValueError) as excinfo:
        presets.resolve_preset("nope", tmp_path)
    for name in [*presets.PRESETS, "auto"]:
        assert name in str(excinfo.value)
    assert not list(tmp_path.iterdir())


def test_real_presets():
    assert set(presets.PRESETS) == {"tiny", "cpu", "quality", "compact", "fast"}
    quality = presets.PRESETS["quality"]
    assert quality.generator == "kandinskylab/Kandinsky-5.0-T2I-Lite-sft-Diffusers"
    assert quality.generator_reads_russian
    assert not presets.PRESETS["compact"].generator_reads_russian
    assert not presets.PRESETS["fast"].generator_reads_russian
    assert {p.classifier for n, p in presets.PRESETS.items() if n != "tiny"} == {presets.RUCLIP}


def test_tiny_preset_points_at_built_models(tiny_dirs):
    preset = presets.resolve_preset(" Tiny ", tiny_dirs[0].parent)
    assert (preset.generator, preset.classifier) == tuple(map(str, tiny_dirs))
    assert preset.generator_reads_russian


def test_auto_without_gpu_uses_cpu_and_says_why(tiny_dirs, caplog):
    with caplog.at_level(logging.INFO, logger="models.presets"):
        preset = presets.resolve_preset("auto", tiny_dirs[0].parent, device="cpu")
    assert preset.name == "cpu"
    assert "no CUDA or MPS device found" in caplog.text


def test_load_models_end_to_end(tiny_dirs, photo):
    loaded = presets.load_models("tiny", tiny_dirs[0].parent, device="cpu")
    assert (loaded.device, loaded.dtype, loaded.preset.name) == ("cpu", torch.float32, "tiny")
    assert loaded.load_seconds > 0
    (image,) = loaded.generator.generate("кот в шляпе", seed=0)
    labels = [label for label, _ in loaded.classifier.classify(image, LABELS)]
    assert sorted(labels) == sorted(LABELS)


def test_presets_module_imports_without_torch():
    code = "import sys, models.presets; assert 'torch' not in sys.modules, 'torch imported'"
    root = Path(__file__).resolve().parents[3]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
