"""✨ The prompt writer: cleaning of what an LLM answers, and the tiny random Qwen2 LLM loaded through the production
loader (its random answers must end in the fallback, deterministically and within bounds)."""

from __future__ import annotations

import json

import pytest
import torch

from models.presets import DEFAULT_PROMPT_WRITER, GENERATOR_TEXT_ENCODER, PRESETS, TINY_PROMPT_WRITER
from models.prompt_writer import (
    CHATML,
    MAX_CHARS,
    SYSTEM_PROMPT,
    Enhancement,
    LazyPromptWriter,
    PromptWriter,
    clean_description,
    prepare_writer,
)
from models.tiny_families import build_tiny_kandinsky5, build_tiny_prompt_writer

GOOD = "Рыжий кот дремлет на подоконнике, мягкий утренний свет, акварель, тёплые тона."


@pytest.mark.parametrize(
    "raw",
    [
        GOOD,
        f"Описание: {GOOD}",
        f"Улучшенный промпт: {GOOD}",
        f"**{GOOD}**",
        f"«{GOOD}»",
        f'"{GOOD}"',
        f"Конечно! Вот подробное описание:\n\n{GOOD}",
        f"Вот описание:\n{GOOD}\n\nЭто описание подчёркивает уют и тепло.",
        f"{GOOD} Надеюсь, это поможет!",
        f"<|im_start|>assistant\n{GOOD}<|im_end|>",
        f"# Описание\n{GOOD}",
        f"{GOOD} (A red cat naps on a windowsill, soft morning light.)",
        f"{GOOD} A red cat naps on a windowsill in soft morning light.",
        f"`{GOOD}`",
        f"<p>{GOOD}</p>",
    ],
)
def test_bad_wrappings_are_cleaned_to_the_description(raw):
    assert clean_description(raw) == GOOD


def test_a_list_becomes_one_paragraph():
    raw = "- рыжий кот на подоконнике\n- мягкий утренний свет\n- акварель"
    assert clean_description(raw) == "рыжий кот на подоконнике, мягкий утренний свет, акварель."


def test_a_second_paragraph_of_explanation_is_dropped():
    raw = f"{GOOD} Кот спит, свернувшись клубком, а за окном цветёт сирень и блестит роса.\n\nЯ добавил детали света."
    assert clean_description(raw).endswith("блестит роса.")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   \n\n  ",
        "A red cat naps on a windowsill in soft morning light, watercolor.",  # another language only
        "Конечно!",
        "кот",
        "Описание:",
        "����^8H\x1e\x0e�ڧ-�7d/!__!f�ntϱ",  # a random model's bytes
        "<|im_end|><|im_start|>",
    ],
)
def test_nothing_usable_is_none(raw):
    assert clean_description(raw) is None


def test_long_answers_are_cut_at_a_sentence_within_the_cap():
    sentence = "Рыжий кот дремлет на подоконнике в мягком утреннем свете. "
    text = clean_description(sentence * 20)
    assert text is not None and len(text) <= MAX_CHARS and text.endswith(".")


def test_a_long_sentence_is_cut_at_a_word():
    text = clean_description("рыжий кот " * 100)
    assert text is not None and len(text) <= MAX_CHARS and text.endswith("кот")


def test_dashes_that_would_read_as_options_are_defused():
    text = clean_description("Рыжий кот --ar на окне —стиль акварель, мягкий свет")
    assert text is not None and "--" not in text and "—" not in text


@pytest.fixture(scope="module")
def tiny_writer_dir(tmp_path_factory):
    return build_tiny_prompt_writer(tmp_path_factory.mktemp("writer") / "writer")


@pytest.fixture(scope="module")
def tiny_writer(tiny_writer_dir):
    return PromptWriter.from_pretrained(str(tiny_writer_dir), timeout=60.0)


def test_the_tiny_writer_is_a_qwen2_causal_lm_with_a_chat_template(tiny_writer_dir, tiny_writer):
    config = json.loads((tiny_writer_dir / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForCausalLM"]
    assert type(tiny_writer.model).__name__ == "Qwen2ForCausalLM"
    assert tiny_writer.tokenizer.chat_template == CHATML
    prompt = tiny_writer.tokenizer.apply_chat_template(
        [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "кот"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert prompt.endswith("<|im_start|>user\nкот<|im_end|>\n<|im_start|>assistant\n")


def test_the_tiny_writers_random_answer_is_deterministic_bounded_and_falls_back(tiny_writer):
    tiny_writer.max_new_tokens = 24
    first, timed_out = tiny_writer.generate("рыжий кот", seed=7)
    again, _ = tiny_writer.generate("рыжий кот", seed=7)
    other, _ = tiny_writer.generate("рыжий кот", seed=8)
    assert first == again and first != other and not timed_out
    new_tokens = len(tiny_writer.tokenizer(first, add_special_tokens=False)["input_ids"])
    assert new_tokens <= 24 * 4  # ≤ 24 tokens; a byte token may decode to a 3-byte replacement character
    result = tiny_writer.enhance("рыжий кот", seed=7)
    assert result == Enhancement(None, "unusable", result.seconds)


def test_seeding_leaves_the_callers_random_state_alone(tiny_writer):
    tiny_writer.max_new_tokens = 4
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    tiny_writer.generate("кот", seed=1)
    assert torch.equal(torch.rand(1), expected)


def test_a_writer_out_of_time_falls_back(tiny_writer):
    tiny_writer.max_new_tokens, tiny_writer.timeout = 24, 1e-6
    try:
        assert tiny_writer.enhance("рыжий кот", seed=7).reason == "timeout"
    finally:
        tiny_writer.timeout = 60.0


def test_a_model_error_falls_back_rather_than_failing_the_job(tiny_writer_dir):
    writer = PromptWriter.from_pretrained(str(tiny_writer_dir))
    writer.model.generate = None  # type: ignore[assignment]  # any exception inside generate
    assert writer.enhance("кот", seed=1).reason == "failed"


def test_presets_writers():
    assert PRESETS["quality"].prompt_writer == GENERATOR_TEXT_ENCODER
    assert PRESETS["tiny"].prompt_writer == TINY_PROMPT_WRITER
    assert {PRESETS[name].prompt_writer for name in ("cpu", "compact", "fast")} == {DEFAULT_PROMPT_WRITER}


def test_a_lazy_writer_loads_once_and_survives_a_failed_load():
    calls = []

    def broken():
        calls.append(1)
        raise OSError("not cached")

    lazy = LazyPromptWriter("nowhere", broken)
    assert lazy.get() is None and lazy.get() is None and calls == [1] and not lazy.loaded


def test_off_means_no_writer(tmp_path):
    assert (
        prepare_writer("off", cache_dir=tmp_path, generator=None, device="cpu", dtype=torch.float32, timeout=1) is None
    )


def test_kandinsky5s_text_encoder_is_shared_not_loaded_again(tmp_path):
    """The quality preset's writer is the Qwen2.5-VL already in the pipeline (Kandinsky 5 expands prompts with it)."""
    from models.generator import ImageGenerator

    generator = ImageGenerator.from_pretrained(str(build_tiny_kandinsky5(tmp_path / "k5")), device="cpu")
    lazy = prepare_writer(
        GENERATOR_TEXT_ENCODER, cache_dir=tmp_path, generator=generator, device="cpu", dtype=torch.float32, timeout=60
    )
    writer = lazy.get()
    assert writer is not None and writer.model is generator.pipe.text_encoder
    writer.max_new_tokens = 8
    assert writer.enhance("кот", seed=3).reason in {"unusable", "ok"}  # random weights: nothing usable, but it runs
