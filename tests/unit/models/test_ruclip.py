"""ruCLIP natively: YouTokenToMe tokenizer parity, checkpoint conversion parity, loading, caching, labels.

The tokenizer is checked against the real ``youtokentome`` (the Makefile installs it: on Python 3.11 it builds
from its sdist with ``Cython<3`` and ``wheel`` installed first and ``pip install --no-build-isolation``), on models
it trains itself, and against `reference_encode` below: a deliberately naive transcription of YTTM's encoding rules
from ``BaseEncoder::encode_sentence`` in VKCOM/YouTokenToMe youtokentome/cpp/bpe.cpp:

1. words are maximal runs of characters that are not spaces, where a space is ``is_space()``:
   ``ch < 256 && isspace(ch)`` (the six ASCII whitespace characters) or ``▁`` (U+2581, SPACE_TOKEN);
   leading/trailing/repeated spaces produce nothing;
2. each word starts with the ``▁`` symbol, then one symbol per character; a run of consecutive
   characters missing from the model becomes ONE unknown symbol, output as ``unk_id``;
3. while some adjacent pair of symbols has a rule, merge the pair whose rule comes first in the file
   (``rule2id``: the rule's index; a later duplicate of the same pair wins), the leftmost one on ties;
4. the ids of all words are concatenated (no bos/eos: ruCLIP adds them itself).

The model file is written here in YTTM's format (``BPEState::dump`` in utils.cpp) from a merge table
learned on a small Russian corpus. The model side is checked against ruCLIP's own ``ruclip/model.py``
(tests/reference/ruclip_model.py) on random weights saved in ruCLIP's checkpoint layout.
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from PIL import Image  # noqa: E402

from models import presets, ruclip  # noqa: E402
from models.classifier import RU_TEMPLATES, ZeroShotClassifier, features  # noqa: E402
from models.labels import default_labels  # noqa: E402
from tests.reference.ruclip_model import CLIP as ReferenceCLIP  # noqa: E402
from tests.reference.ruclip_predictor import Predictor as ReferencePredictor  # noqa: E402

SPACE = "\u2581"
YTTM_SPACES = " \t\n\v\f\r" + SPACE
PAD, UNK, BOS, EOS = 0, 1, 2, 3
CORPUS = """
мама мыла раму. кошка спит на окне, собака лает во дворе.
рыжий кот сидит на подоконнике и смотрит на птиц.
фото, на котором изображено море и горы; картинка с котом и собакой.
изображение с красным автомобилем на улице большого города.
на фото видно лес, реку и облака над полем. дети играют в футбол в парке.
весной в саду цветут яблони, а летом поспевает клубника.
длинная аллея, ванна и касса; масса программ, телеграмма и сумма.
"""
SENTENCES = [
    "кошка спит на окне",
    "фото, на котором изображено море",
    "  собака\tлает\n во   дворе  ",
    "рыжий▁кот▁на подоконнике",  # "▁" in the input separates words, like a space
    "ааааа нннн ммммм ллл сссс",  # runs of one letter: leftmost merges first
    "котики и собачки играют",  # words never seen whole
    "кот в шляпе ест pizza 2024 🍕🍕!",  # unknown runs (latin, digits, emoji) -> one unk each
    "съешь ещё этих мягких французских булок",  # letters missing from the corpus
    "щщ ъ",  # a word made only of unknown characters
    "",
    " \t\n ",
]


# --- a YTTM model made in the test ------------------------------------------------------------


def reference_words(text: str) -> list[str]:
    """Rule 1: split on YTTM's spaces, character by character."""
    words, current = [], ""
    for char in text:
        if char in YTTM_SPACES:
            if current:
                words.append(current)
            current = ""
        else:
            current += char
    return [*words, current] if current else words


def reference_encode(text: str, char2id: dict[str, int], rules: list[tuple[int, int, int]], unk_id: int) -> list[int]:
    """Rules 2-4, naively: rescan the whole word for the best pair after every merge."""
    rank = {(x, y): index for index, (x, y, _) in enumerate(rules)}
    ids: list[int] = []
    for word in reference_words(text):
        symbols: list[int | None] = [char2id[SPACE]]
        for char in word:
            if char in char2id:
                symbols.append(char2id[char])
            elif symbols[-1] is not None:
                symbols.append(None)
        while True:
            pairs = [(rank[pair], i) for i, pair in enumerate(itertools.pairwise(symbols)) if pair in rank]
            if not pairs:
                break
            index, i = min(pairs)
            symbols[i : i + 2] = [rules[index][2]]
        ids += [unk_id if symbol is None else symbol for symbol in symbols]
    return ids


def merge_everywhere(sequence: list[int], x: int, y: int, z: int) -> list[int]:
    merged, i = [], 0
    while i < len(sequence):
        if i + 1 < len(sequence) and (sequence[i], sequence[i + 1]) == (x, y):
            merged.append(z)
            i += 2
        else:
            merged.append(sequence[i])
            i += 1
    return merged


def learn_bpe(corpus: str, n_merges: int) -> tuple[dict[str, int], list[tuple[int, int, int]]]:
    """A small id-based BPE learner shaped like YTTM's: ids 0-3 special, ▁ = 4, letters by frequency."""
    words = Counter(reference_words(corpus))
    letters = Counter()
    for word, count in words.items():
        for char in word:
            letters[char] += count
    ordered = sorted(letters, key=lambda char: (-letters[char], char))
    char2id = {SPACE: 4} | {char: 5 + i for i, char in enumerate(ordered)}
    sequences = {word: [4] + [char2id[char] for char in word] for word in words}
    rules: list[tuple[int, int, int]] = []
    for new_id in range(5 + len(ordered), 5 + len(ordered) + n_merges):
        pairs = Counter()
        for word, sequence in sequences.items():
            for pair in itertools.pairwise(sequence):
                pairs[pair] += words[word]
        if not pairs:
            break
        (x, y), _ = max(pairs.items(), key=lambda item: (item[1], -item[0][0], -item[0][1]))
        rules.append((x, y, new_id))
        sequences = {word: merge_everywhere(seq, x, y, new_id) for word, seq in sequences.items()}
    return char2id, rules


def write_yttm_model(path: Path, char2id: dict[str, int], rules: list[tuple[int, int, int]], seed: int = 0) -> Path:
    """YTTM's BPEState::dump: ``n m``, ``codepoint id`` lines (hash-map order), rules, ``unk pad bos eos``."""
    chars = list(char2id.items())
    random.Random(seed).shuffle(chars)
    lines = [f"{len(chars)} {len(rules)}", *(f"{ord(c)} {i}" for c, i in chars), *(f"{x} {y} {z}" for x, y, z in rules)]
    path.write_text("\n".join([*lines, f"{UNK} {PAD} {BOS} {EOS}"]) + "\n", encoding="ascii")
    return path


@pytest.fixture(scope="module")
def yttm(tmp_path_factory):
    char2id, rules = learn_bpe(CORPUS, n_merges=120)
    path = write_yttm_model(tmp_path_factory.mktemp("yttm") / "bpe.model", char2id, rules)
    return path, char2id, rules


# --- tokenizer --------------------------------------------------------------------------------


def test_reads_the_yttm_model_file(yttm):
    path, char2id, rules = yttm
    model = ruclip.read_yttm_model(path)
    assert dict(model.char2id) == char2id
    assert list(model.rules) == rules
    assert (model.unk_id, model.pad_id, model.bos_id, model.eos_id) == (UNK, PAD, BOS, EOS)
    assert model.vocab_size == 4 + len(char2id) + len(rules)


def test_rejects_a_file_that_is_not_a_yttm_model(tmp_path):
    (tmp_path / "bad.model").write_text("3 1\n1072 5\n", encoding="ascii")
    with pytest.raises(ValueError, match="not a YouTokenToMe"):
        ruclip.read_yttm_model(tmp_path / "bad.model")


@pytest.mark.parametrize("sentence", SENTENCES)
def test_bpe_matches_yttm_encoding(yttm, sentence):
    path, char2id, rules = yttm
    bpe = ruclip.YttmBPE.from_file(path)
    expected = reference_encode(sentence, char2id, rules, UNK)
    assert bpe.encode(sentence) == expected
    assert bpe.encode(sentence) == expected  # second time from the word cache


def test_bpe_actually_merges_and_marks_unknowns(yttm):
    """Guard against a vacuous parity: the learned table does merge, unknown runs collapse."""
    path, char2id, rules = yttm
    bpe = ruclip.YttmBPE.from_file(path)
    merged_ids = {z for _, _, z in rules}
    assert merged_ids & set(bpe.encode("кошка спит на окне"))
    ids = bpe.encode("кот pizza2024🍕 кот")
    assert ids.count(UNK) == 1
    assert ids[: ids.index(UNK)] == [*bpe.encode("кот"), char2id[SPACE]]


def test_rules_are_applied_by_id_not_by_string(tmp_path):
    """Two rules may build the same string ("абв") as different ids; YTTM keeps them apart."""
    char2id = {SPACE: 4, "а": 5, "б": 6, "в": 7}
    rules = [(5, 6, 8), (6, 7, 9), (8, 7, 10), (5, 9, 11), (4, 11, 12), (4, 10, 13), (4, 9, 14)]
    bpe = ruclip.YttmBPE.from_file(write_yttm_model(tmp_path / "bpe.model", char2id, rules))
    for text in ["абв", "бв", "вабв", "ббвв абваб"]:
        assert bpe.encode(text) == reference_encode(text, char2id, rules, UNK), text
    assert bpe.encode("абв") != bpe.encode("в бв")


def test_runs_of_one_letter_merge_from_the_left(tmp_path, yttm):
    """(x, x) rules overlap in a run: YTTM merges the leftmost pair first."""
    char2id = {SPACE: 4, "а": 5}
    rules = [(5, 5, 6), (4, 6, 7), (4, 5, 8)]
    bpe = ruclip.YttmBPE.from_file(write_yttm_model(tmp_path / "bpe.model", char2id, rules))
    for text in ["а", "аа", "ааа", "аааа", "ааааа"]:
        assert bpe.encode(text) == reference_encode(text, char2id, rules, UNK), text
    assert any(x == y for x, y, _ in yttm[2]), "the learned table should have an (x, x) rule"


# --- against the real youtokentome ---------------------------------------------------------------------------------

ENGLISH = """
a red cat sits on the window sill and looks at the birds. the quick brown fox jumps over the lazy dog.
photo of a mountain lake at sunrise, oil painting of a ship in a storm, 4k, highly detailed, trending.
"""
ODD_STRINGS = [
    "",
    " ",
    "\t\n\v\f\r",
    "кошка",
    "Кошка СПИТ на Окне",  # no lower-casing in the BPE itself (ruCLIP lower-cases before it)
    "фото, на котором изображено рыжий кот",
    "a red cat on the window",
    "mixed: кот and dog, кот-dog, котdog",
    "  leading and trailing  ",
    "tab\tnew\nline\rcarriage\vvertical\fform",
    "no\u00a0break\u2003em\u3000ideographic",  # non-ASCII spaces are characters to YTTM, not separators
    "рыжий▁кот▁▁на▁",  # "▁" separates words, like a space
    "▁",
    "ааааааааааааааааааа нннннн",
    "12345 67.89 3/4 100%",
    "🍕🍕🍕 кот🍕пицца 🐈‍⬛",
    "中文字符 и 日本語",
    "ё Ё ё й й",  # composed and combining forms
    "x" * 300,
    "съешь же ещё этих мягких французских булок, да выпей чаю",
]


@pytest.fixture(scope="module")
def youtokentome():
    """The real YouTokenToMe. It builds on Python 3.11 from its sdist (Cython<3 and wheel first, then
    ``pip install --no-build-isolation youtokentome``: its setup.py imports Cython and declares no build
    requirements); the Makefile's install step does that, so this never skips."""
    try:
        import youtokentome
    except ImportError:
        pytest.fail(
            "youtokentome is not installed: `make` installs it (pip install 'Cython<3' wheel, then "
            "pip install --no-build-isolation youtokentome)"
        )
    return youtokentome


@pytest.fixture(scope="module")
def trained_yttm(youtokentome, tmp_path_factory) -> Path:
    """A bpe.model trained by youtokentome itself on Russian and English text, with ruCLIP's special ids; coverage
    below 1 leaves the rarest characters out of the alphabet, so unknown runs occur inside words too."""
    root = tmp_path_factory.mktemp("yttm-trained")
    labels = default_labels()
    lines = [template.format(label) for label in labels for template in RU_TEMPLATES]
    corpus = "\n".join([*lines, CORPUS, ENGLISH * 20, "ъыь ЁЖЗ qwerty Ω≈ç√"])
    (root / "corpus.txt").write_text(corpus, encoding="utf-8")
    youtokentome.BPE.train(
        data=str(root / "corpus.txt"), model=str(root / "bpe.model"), vocab_size=900, coverage=0.9995, n_threads=1
    )
    return root / "bpe.model"


def random_strings(model: ruclip.YttmModel, count: int, seed: int = 0) -> list[str]:
    """Strings drawn from the model's alphabet, a few unknown characters, and YTTM's (and other) spaces."""
    rng = random.Random(seed)
    pool = [*model.char2id, *"ЪЩЭΩ🍕中€", *" \t\n▁\u00a0"]
    return ["".join(rng.choice(pool) for _ in range(rng.randint(0, 40))) for _ in range(count)]


def test_bpe_matches_the_real_youtokentome(youtokentome, trained_yttm):
    theirs = youtokentome.BPE(str(trained_yttm))
    ours = ruclip.YttmBPE.from_file(trained_yttm)
    model = ruclip.read_yttm_model(trained_yttm)
    assert model.vocab_size == theirs.vocab_size()
    assert (model.pad_id, model.unk_id, model.bos_id, model.eos_id) == (PAD, UNK, BOS, EOS)
    assert any(char not in model.char2id for char in "ъыьЁЖЗqwertyΩ≈ç√")  # coverage < 1 left some out
    texts = [*ODD_STRINGS, *SENTENCES, *ENGLISH.split("."), *random_strings(model, 500)]
    expected = theirs.encode(texts, output_type=youtokentome.OutputType.ID, dropout_prob=0.0)
    mismatches = [(text, ids, ours.encode(text)) for text, ids in zip(texts, expected, strict=True)]
    mismatches = [mismatch for mismatch in mismatches if mismatch[1] != mismatch[2]]
    assert mismatches == []
    assert any(UNK in ids for ids in expected)  # unknown runs were exercised


def test_the_ruclip_tokenizer_matches_ruclips_processor_on_youtokentome(youtokentome, trained_yttm):
    """ruclip/processor.py's encode_text: lower-case, YTTM ids (dropout 0), first 75, [bos] ids [eos], 0-padded."""
    theirs = youtokentome.BPE(str(trained_yttm))
    tokenizer = ruclip.RuClipTokenizer.from_file(trained_yttm)
    texts = [text for text in ODD_STRINGS if text.strip()]
    encoded = tokenizer(texts, padding="max_length")["input_ids"].tolist()
    for text, row in zip(texts, encoded, strict=True):
        ids = theirs.encode([text.lower()], output_type=youtokentome.OutputType.ID, dropout_prob=0.0)[0]
        expected = [BOS, *ids[:75], EOS]
        assert row == expected + [PAD] * (77 - len(expected)), text


def test_models_written_by_these_tests_read_the_same_in_youtokentome(youtokentome, yttm):
    """The hand-made bpe.model (learn_bpe + write_yttm_model) is a valid YTTM file, and `reference_encode` agrees
    with YTTM on it: the naive transcription above is checked against the real thing too."""
    path, char2id, rules = yttm
    theirs = youtokentome.BPE(str(path))
    ours = ruclip.YttmBPE.from_file(path)
    texts = [*SENTENCES, *ODD_STRINGS, *random_strings(ruclip.read_yttm_model(path), 200, seed=1)]
    for text in texts:
        expected = theirs.encode([text], output_type=youtokentome.OutputType.ID, dropout_prob=0.0)[0]
        assert ours.encode(text) == expected == reference_encode(text, char2id, rules, UNK), text


def test_tokenizer_uses_ruclip_layout(yttm):
    path, char2id, rules = yttm
    tokenizer = ruclip.RuClipTokenizer.from_file(path)
    texts = ["Рыжий КОТ на окне", "собака", ""]
    encoded = tokenizer(texts)
    assert encoded["input_ids"].shape == (3, 77)
    for row, mask, text in zip(encoded["input_ids"].tolist(), encoded["attention_mask"].tolist(), texts, strict=True):
        ids = [BOS, *reference_encode(text.lower(), char2id, rules, UNK), EOS]
        assert row == ids + [PAD] * (77 - len(ids))
        assert mask == [1] * len(ids) + [0] * (77 - len(ids))
    assert tokenizer.encode("КОШКА") == tokenizer.encode("кошка")


def test_tokenizer_truncates_to_the_context_and_pads_to_longest(yttm):
    path, char2id, rules = yttm
    tokenizer = ruclip.RuClipTokenizer.from_file(path)
    long_text = " ".join(["мама мыла раму кошка спит на окне"] * 20)
    ids = reference_encode(long_text, char2id, rules, UNK)
    assert len(ids) > 75
    (row,) = tokenizer(long_text)["input_ids"].tolist()
    assert row == [BOS, *ids[:75], EOS]
    longest = tokenizer(["кот", "собака лает во дворе"], padding=True)
    short_len = len(tokenizer.encode("собака лает во дворе"))
    assert longest["input_ids"].shape == (2, short_len)
    assert longest["attention_mask"][1].tolist() == [1] * short_len
    with pytest.raises(ValueError, match="padding"):
        tokenizer(["кот"], padding="do_not_pad")


# --- image preprocessing ----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(60, 40), (40, 60)])
def test_image_processor_takes_the_centre_square(size):
    """Bands outside the centre square (red) are cropped away; the square (blue) fills the output."""
    width, height = size
    side = min(size)
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), ((width - side) // 2, (height - side) // 2, (width + side) // 2, (height + side) // 2))
    processor = ruclip.RuClipImageProcessor(32, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.5))
    pixels = processor(images=image.convert("P"), return_tensors="pt")["pixel_values"]
    assert pixels.shape == (1, 3, 32, 32)
    expected = (torch.tensor([0.0, 0.0, 1.0]) - torch.tensor([0.5, 0.4, 0.3])) / torch.tensor([0.2, 0.25, 0.5])
    assert torch.allclose(pixels[0], expected.view(3, 1, 1).expand(3, 32, 32), atol=1e-6)


# --- checkpoint conversion --------------------------------------------------------------------

TINY_RUCLIP = {
    "embed_dim": 24,
    "image_resolution": 32,
    "vision_layers": 2,
    "vision_width": 128,  # 2 heads of 64, as ruCLIP derives them
    "vision_patch_size": 8,
    "context_length": 77,
    "transformer_width": 64,
    "transformer_heads": 4,
    "transformer_layers": 2,
    "mean": [0.5, 0.45, 0.4],
    "std": [0.3, 0.25, 0.2],
}
LABELS = ["кошка", "собака", "рыжий кот на окне", "море и горы"]


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Every parameter random (biases, norms and logit_scale included) so that each mapping matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if name.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")):
                param.copy_(1 + 0.1 * noise)
            elif name == "logit_scale":
                param.fill_(float(np.log(1 / 0.07)) + 0.1 * noise.item())
            else:
                param.copy_(0.05 * noise)


@pytest.fixture(scope="module")
def ruclip_dir(tmp_path_factory, yttm):
    """A ruCLIP checkpoint dir: ruCLIP's config.json, a random ruCLIP state dict, a YTTM bpe.model."""
    path = tmp_path_factory.mktemp("ruclip-tiny")
    config = {**TINY_RUCLIP, "vocab_size": ruclip.read_yttm_model(yttm[0]).vocab_size}
    model = ReferenceCLIP(**{key: value for key, value in config.items() if key not in ("mean", "std")})
    randomize(model, seed=0)
    torch.save(model.state_dict(), path / "pytorch_model.bin")
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (path / "bpe.model").write_bytes(yttm[0].read_bytes())
    return path


@pytest.fixture(scope="module")
def reference(ruclip_dir):
    """ruCLIP's own model, loaded by its own from_pretrained."""
    return ReferenceCLIP.from_pretrained(str(ruclip_dir)).eval()


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path / "model-cache"))
    return tmp_path / "model-cache" / "ruclip"


@pytest.fixture
def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(48, 40, 3), dtype=np.uint8))


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


def test_classifier_loads_ruclip_dir_through_the_converter(ruclip_dir, cache_dir):
    classifier = ZeroShotClassifier.from_pretrained(str(ruclip_dir))
    assert type(classifier.model).__name__ == "CLIPModel"
    assert isinstance(classifier.processor, ruclip.RuClipProcessor)
    assert not classifier.sigmoid
    text_config = classifier.model.config.text_config
    assert (text_config.hidden_act, text_config.eos_token_id, text_config.max_position_embeddings) == (
        "quick_gelu",
        EOS,
        77,
    )
    assert classifier.model.config.vision_config.num_attention_heads == TINY_RUCLIP["vision_width"] // 64


def test_image_embeddings_match_reference(ruclip_dir, reference, cache_dir, photo):
    classifier = ZeroShotClassifier.from_pretrained(str(ruclip_dir))
    images = [photo, photo.rotate(90, expand=True), Image.new("RGB", (33, 31), (10, 200, 30))]
    pixels = classifier.processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        ours = features(classifier.model.get_image_features(pixel_values=pixels), "image")
        theirs = reference.encode_image(pixels)
    assert ours.shape == theirs.shape == (3, TINY_RUCLIP["embed_dim"])
    assert max_diff(ours, theirs) < 1e-5, max_diff(ours, theirs)


def test_text_embeddings_match_reference(ruclip_dir, reference, cache_dir):
    classifier = ZeroShotClassifier.from_pretrained(str(ruclip_dir))
    texts = [*LABELS, " ".join(["мама мыла раму"] * 40), "кот 🍕 pizza"]
    full = classifier.processor.tokenizer(texts, padding="max_length")
    with torch.inference_mode():
        theirs = reference.encode_text(full["input_ids"])
        ours_full = features(classifier.model.get_text_features(**full), "text")
        ours_longest = features(classifier.model.get_text_features(**classifier._tokenize(texts)), "text")
    assert max_diff(ours_full, theirs) < 1e-5, max_diff(ours_full, theirs)
    assert max_diff(ours_longest, theirs) < 1e-5, max_diff(ours_longest, theirs)  # what classify() uses


def test_classify_matches_reference_logits(ruclip_dir, reference, cache_dir, photo):
    classifier = ZeroShotClassifier.from_pretrained(str(ruclip_dir), templates=("{}",))
    result = dict(classifier.classify(photo, LABELS))
    inputs = classifier.processor(text=LABELS, images=[photo])
    with torch.inference_mode():
        logits_per_image, _ = reference(inputs["input_ids"], inputs["pixel_values"])
    expected = logits_per_image[0].softmax(-1)
    assert [result[label] for label in LABELS] == pytest.approx(expected.tolist(), abs=1e-5)


PREDICTOR_TEMPLATES = (
    "{}",
    "фото, на котором изображено {}",
    "изображение с {}",
    "картинка с {}",
    "фото с {}",
    "на фото видно {}",
)


def test_template_ensemble_matches_the_ruclip_predictor(ruclip_dir, reference, cache_dir, photo):
    """ruCLIP's Predictor averages the templates' raw text latents, then normalises (not normalise, average)."""
    assert tuple(ReferencePredictor(reference, None, "cpu").templates) == PREDICTOR_TEMPLATES
    classifier = ZeroShotClassifier.from_pretrained(str(ruclip_dir))
    assert classifier.templates == PREDICTOR_TEMPLATES
    labels = [*LABELS, "Кот В Шляпе", "очень длинное название " * 20]
    predictor = ReferencePredictor(reference, classifier.processor, "cpu", quiet=True)
    with torch.inference_mode():
        text_latents = predictor.get_text_latents(labels)
        image_latents = predictor.get_image_latents([photo])
        ours = classifier._label_embeddings(tuple(labels))
        expected = (text_latents @ image_latents[0] * reference.logit_scale.exp()).softmax(-1)
    assert max_diff(ours, text_latents) < 1e-5, max_diff(ours, text_latents)
    result = dict(classifier.classify(photo, labels))
    assert [result[label] for label in labels] == pytest.approx(expected.tolist(), abs=1e-5)


# --- loading and caching ----------------------------------------------------------------------


def test_conversion_is_cached_and_reused(ruclip_dir, tmp_path, monkeypatch, photo):
    cache = tmp_path / "cache"
    model, processor = ruclip.load_ruclip(ruclip_dir, cache_dir=cache)
    (converted,) = cache.iterdir()
    assert ruclip.is_ruclip_dir(converted)
    assert json.loads((converted / "config.json").read_text())["model_type"] == "clip"

    def no_conversion(source):
        raise AssertionError("converted again")

    monkeypatch.setattr(ruclip, "convert_checkpoint", no_conversion)
    again, _ = ruclip.load_ruclip(ruclip_dir, cache_dir=cache, dtype=torch.bfloat16)
    assert again.dtype == torch.bfloat16
    direct = ZeroShotClassifier.from_pretrained(str(converted), dtype=torch.float32)  # a conversion loads as is
    pixels = processor.image_processor(images=photo)["pixel_values"]
    with torch.inference_mode():
        first = features(model.get_image_features(pixel_values=pixels), "image")
        loaded = features(direct.model.get_image_features(pixel_values=pixels), "image")
    assert torch.equal(first, loaded)
    assert [p.name for p in cache.iterdir()] == [converted.name]


def test_the_conversion_goes_where_the_worker_says(ruclip_dir, cache_dir, tmp_path):
    """``MODEL_CACHE_DIR`` from ``.env`` reaches the loader as ``conversion_dir``, not through the environment."""
    chosen = tmp_path / "from-settings" / "ruclip"
    ZeroShotClassifier.from_pretrained(str(ruclip_dir), conversion_dir=chosen)
    assert [path.name for path in chosen.iterdir()] and not cache_dir.exists()


def test_changed_source_gets_a_new_cache_entry(ruclip_dir, tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ruclip.RUCLIP_FILES:
        (source / name).write_bytes((ruclip_dir / name).read_bytes())
    key = ruclip.cache_key("local", source)
    assert ruclip.cache_key("local", source) == key
    (source / "bpe.model").write_text((source / "bpe.model").read_text() + "\n", encoding="ascii")
    assert ruclip.cache_key("local", source) != key


def test_unwritable_cache_converts_in_memory(ruclip_dir, tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="models.ruclip"):
        model, _ = ruclip.load_ruclip(ruclip_dir, cache_dir=blocker / "ruclip")
    assert type(model).__name__ == "CLIPModel"
    assert "converting in memory" in caplog.text


def test_hub_ids_download_only_the_three_files(ruclip_dir, cache_dir, monkeypatch):
    import huggingface_hub

    calls = []

    def snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(ruclip_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo_id, filename: str(ruclip_dir / filename))
    classifier = ZeroShotClassifier.from_pretrained(presets.RUCLIP)
    assert classifier.name == presets.RUCLIP
    assert calls == [(presets.RUCLIP, {"allow_patterns": list(ruclip.RUCLIP_FILES)})]
    assert any(path.name.startswith("ai-forever-ruclip-vit-base-patch32-384-") for path in cache_dir.iterdir())


def test_detection(ruclip_dir, tmp_path, monkeypatch):
    import huggingface_hub

    assert ruclip.is_ruclip(ruclip_dir)
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text(json.dumps({**TINY_RUCLIP, "vocab_size": 9, "model_type": "clip"}))
    (hf_dir / "bpe.model").write_text("")
    assert not ruclip.is_ruclip(hf_dir)
    assert not ruclip.is_ruclip(tmp_path / "missing" / "dir")

    def offline(repo_id, filename):
        raise OSError("offline")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    assert all(ruclip.is_ruclip(name) for name in ruclip.KNOWN_CHECKPOINTS)
    assert not ruclip.is_ruclip(presets.SIGLIP_MULTILINGUAL)


def test_unknown_checkpoint_keys_are_refused():
    with pytest.raises(KeyError, match=r"visual\.extra"):
        ruclip.convert_state_dict({"visual.extra": torch.zeros(1)})
    with pytest.raises(KeyError, match=r"attn\.mystery"):
        ruclip.convert_state_dict({"transformer.resblocks.0.attn.mystery.weight": torch.zeros(1)})


# ViT-B and ViT-L as in OpenAI CLIP (ruCLIP's architecture); resolution and patch as the checkpoint's name says.
LARGE = {"embed_dim": 768, "vision_layers": 24, "vision_width": 1024, "transformer_width": 768, "transformer_heads": 12}
REAL_SIZES = {
    "ai-forever/ruclip-vit-base-patch32-224": {"image_resolution": 224, "vision_patch_size": 32},
    "ai-forever/ruclip-vit-base-patch16-224": {"image_resolution": 224, "vision_patch_size": 16},
    "ai-forever/ruclip-vit-large-patch14-224": {"image_resolution": 224, "vision_patch_size": 14, **LARGE},
    "ai-forever/ruclip-vit-base-patch32-384": {"image_resolution": 384, "vision_patch_size": 32},
    "ai-forever/ruclip-vit-large-patch14-336": {"image_resolution": 336, "vision_patch_size": 14, **LARGE},
    "ai-forever/ruclip-vit-base-patch16-384": {"image_resolution": 384, "vision_patch_size": 16},
}
BASE = {
    "embed_dim": 512,
    "vision_layers": 12,
    "vision_width": 768,
    "context_length": 77,
    "vocab_size": 49408,
    "transformer_width": 512,
    "transformer_heads": 8,
    "transformer_layers": 12,
}


def test_every_upstream_checkpoint_is_known():
    """ruclip.MODELS (ru-clip's __init__.py) lists six checkpoints; the large 14-336 one classifies best."""
    assert list(ruclip.KNOWN_CHECKPOINTS) == list(REAL_SIZES)
    assert max(ruclip.KNOWN_CHECKPOINTS, key=ruclip.KNOWN_CHECKPOINTS.get) == "ai-forever/ruclip-vit-large-patch14-336"
    assert presets.RUCLIP in ruclip.KNOWN_CHECKPOINTS
    for name, sizes in REAL_SIZES.items():
        kind, patch, resolution = re.fullmatch(r"ai-forever/ruclip-vit-(base|large)-patch(\d+)-(\d+)", name).groups()
        assert (sizes["vision_patch_size"], sizes["image_resolution"]) == (int(patch), int(resolution))
        assert (sizes.get("vision_width") == 1024) == (kind == "large")


@pytest.mark.parametrize("name", list(REAL_SIZES))
def test_conversion_covers_real_sizes(name):
    """On the meta device (no memory): every ruCLIP weight maps onto a CLIPModel weight of the same shape."""
    from transformers import CLIPModel

    config = {**BASE, **REAL_SIZES[name]}
    clip = ruclip.clip_config(config)
    with torch.device("meta"):
        source = ReferenceCLIP(**config).state_dict()
        target = CLIPModel(clip).state_dict()
    converted = ruclip.convert_state_dict(source)
    assert {key: tuple(t.shape) for key, t in converted.items()} == {key: tuple(t.shape) for key, t in target.items()}
    assert (clip.vision_config.image_size, clip.text_config.eos_token_id) == (config["image_resolution"], EOS)


# --- labels -----------------------------------------------------------------------------------

# Bare words with two everyday meanings; the label file must qualify them (e.g. "подъёмный кран").
HOMONYMS = {
    *("лук", "ключ", "коса", "замок", "каток", "порт", "ручка", "кран"),
    *("лист", "мышь", "труба", "пила", "пара", "клетка", "кисть"),
}


def test_default_labels_are_many_unique_and_unambiguous():
    labels = default_labels()
    text = Path(ruclip.__file__).with_name("data").joinpath("labels_ru.txt").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    assert list(labels) == [line for line in lines if line and not line.startswith("#")]
    assert len(labels) >= 300
    folded = [re.sub(r"\s+", " ", label.casefold().replace("ё", "е")) for label in labels]
    duplicates = [label for label, count in Counter(folded).items() if count > 1]
    assert not duplicates
    assert all(label == label.strip() and label for label in labels)
    assert not HOMONYMS & set(folded)


# --- label-set embeddings persisted on disk --------------------------------------------------------------------


def count_text_encoder_calls(classifier: ZeroShotClassifier, monkeypatch) -> list[int]:
    calls: list[int] = []
    original = classifier.model.get_text_features

    def spy(*args, **kwargs):
        calls.append(len(kwargs["input_ids"]))
        return original(*args, **kwargs)

    monkeypatch.setattr(classifier.model, "get_text_features", spy)
    return calls


def stored_files(root: Path) -> list[Path]:
    return sorted(root.glob("*/*.pt"))


def test_a_restarted_classifier_reads_the_persisted_embeddings(ruclip_dir, cache_dir, tmp_path, photo, monkeypatch):
    labels = default_labels()[:40]
    store = tmp_path / "text-embeddings"
    first = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store)
    first_calls = count_text_encoder_calls(first, monkeypatch)
    assert first.preload_labels(labels) == "computed"
    assert sum(first_calls) == len(labels) * len(first.templates)
    assert first.preload_labels(labels) == "memory"
    (path,) = stored_files(store)
    assert ruclip_dir.name in path.parent.name  # <model name>-<weights hash>/<label-set hash>.pt

    second = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store)
    second_calls = count_text_encoder_calls(second, monkeypatch)
    assert second.preload_labels(labels) == "disk"
    ours, theirs = second.classify(photo, labels), first.classify(photo, labels)
    assert [label for label, _ in ours] == [label for label, _ in theirs]
    assert [score for _, score in ours] == pytest.approx([score for _, score in theirs], abs=1e-6)
    assert second_calls == []  # the text encoder never ran
    assert not list(store.glob("*/.*"))  # no temporary files left behind


def test_only_preloaded_label_sets_are_persisted(ruclip_dir, cache_dir, tmp_path, photo):
    store = tmp_path / "text-embeddings"
    classifier = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store)
    classifier.classify(photo, ["кошка", "собака"])  # a user's own labels: memory only
    assert stored_files(store) == []
    assert ZeroShotClassifier.from_pretrained(str(ruclip_dir)).preload_labels(["кошка"]) == "computed"
    assert stored_files(store) == []  # no embedding_dir: nothing written


def test_other_labels_templates_or_weights_get_other_files(ruclip_dir, cache_dir, tmp_path):
    store = tmp_path / "text-embeddings"
    labels = ["кошка", "собака", "море"]
    classifier = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store)
    classifier.preload_labels(labels)
    classifier.preload_labels([*labels, "лес"])
    classifier.preload_labels(list(reversed(labels)))
    other_templates = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store, templates=("{}",))
    assert other_templates.preload_labels(labels) == "computed"
    assert len(stored_files(store)) == 4
    assert len({path.parent for path in stored_files(store)}) == 1  # one model: one dir

    changed = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store)
    with torch.no_grad():
        changed.model.text_projection.weight.mul_(1.01)
    assert changed.preload_labels(labels) == "computed"  # other weights: another model dir
    assert len({path.parent for path in stored_files(store)}) == 2


def test_files_stored_before_the_predictor_ensemble_are_not_read(ruclip_dir, cache_dir, tmp_path, monkeypatch):
    """Version 1 stored label embeddings averaged from normalised prompts; they must be recomputed, not read."""
    from models import embedding_store

    store = tmp_path / "text-embeddings"
    labels = ["кошка", "собака", "море"]
    with monkeypatch.context() as old:
        old.setattr(embedding_store, "FORMAT_VERSION", 1)
        ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store).preload_labels(labels)
    assert len(stored_files(store)) == 1
    classifier = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store)
    assert classifier.preload_labels(labels) == "computed"
    assert len({path.parent for path in stored_files(store)}) == 2  # a new key: the old file is left alone


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other labels"])
def test_a_corrupt_embedding_file_is_ignored_and_rewritten(ruclip_dir, cache_dir, tmp_path, monkeypatch, damage):
    store = tmp_path / "text-embeddings"
    labels = ["кошка", "собака", "море"]
    first = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store)
    first.preload_labels(labels)
    (path,) = stored_files(store)
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a torch file")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    else:
        data = torch.load(path, weights_only=True)
        torch.save({**data, "labels": ["кошка", "собака", "лес"]}, path)

    second = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store)
    calls = count_text_encoder_calls(second, monkeypatch)
    assert second.preload_labels(labels) == "computed"
    assert len(calls) == 1
    third = ZeroShotClassifier.from_pretrained(str(ruclip_dir), embedding_dir=store)
    assert third.preload_labels(labels) == "disk"  # rewritten
    assert torch.allclose(third._label_embeddings(tuple(labels)), first._label_embeddings(tuple(labels)), atol=1e-6)


def test_load_models_warms_up_the_default_labels_from_disk(tmp_path, monkeypatch):
    cache = tmp_path / "model-cache"
    loaded = presets.load_models("tiny", cache, device="cpu")
    assert loaded.classifier.preload_labels(default_labels()) == "memory"  # warmed up at load
    assert stored_files(cache / presets.TEXT_EMBEDDINGS_DIR)
    sources = []
    original = ZeroShotClassifier.preload_labels

    def spy(self, labels):
        sources.append(original(self, labels))
        return sources[-1]

    monkeypatch.setattr(ZeroShotClassifier, "preload_labels", spy)
    presets.load_models("tiny", cache, device="cpu")
    assert sources == ["disk"]  # a restarted worker reads the file


def test_model_classifier_replaces_the_presets_classifier(ruclip_dir, tmp_path):
    """``MODEL_CLASSIFIER`` (hub id or local dir) swaps the classifier of any preset, like ``MODEL_GENERATOR``."""
    large = "ai-forever/ruclip-vit-large-patch14-336"
    assert presets.resolve_preset("fast", tmp_path, classifier=large).classifier == large
    assert presets.resolve_preset("fast", tmp_path).classifier == presets.RUCLIP
    loaded = presets.load_models("tiny", tmp_path / "model-cache", device="cpu", classifier=str(ruclip_dir))
    assert loaded.classifier.name == str(ruclip_dir)
    assert isinstance(loaded.classifier.processor, ruclip.RuClipProcessor)
    assert loaded.preset.generator.startswith(str(tmp_path / "model-cache"))  # the tiny generator stays
