"""The terminal chat's own parsing, line by line (the whole console process is in tests/e2e/test_console.py)."""

from __future__ import annotations

import pytest

from bot.console import ConsoleOutbox, ConsoleSession, split_path, split_photo
from core.keys import image_key
from core.protocol import ClassifyJob, GenerateJob
from handlers.buttons import STRONG, SUBTLE, VARY_STRENGTHS, result_keyboard, zoom_rows
from handlers.images import normalize_image
from handlers.texts import t
from tests import images
from tests.factories import make_molbert
from tests.memory import MemoryJobs


@pytest.fixture
def session(tmp_path) -> tuple[ConsoleSession, MemoryJobs]:
    jobs = MemoryJobs()
    return ConsoleSession(make_molbert(jobs), ConsoleOutbox(tmp_path / "images")), jobs


@pytest.mark.parametrize(
    ("typed", "path", "rest"),
    [
        ("photo.jpg кошка, собака", "photo.jpg", "кошка, собака"),
        ('"my photo.jpg" кошка', "my photo.jpg", "кошка"),
        ("'my photo.jpg'", "my photo.jpg", ""),
        ("photo.jpg кот, д'Артаньян", "photo.jpg", "кот, д'Артаньян"),
        ('photo.jpg "кот", собака', "photo.jpg", '"кот", собака'),
        ("", "", ""),
    ],
)
def test_the_path_is_split_from_labels_that_are_free_text(typed, path, rest):
    assert split_path(typed) == (path, rest)


async def test_labels_with_apostrophes_and_quotes_are_classified(session, tmp_path, capsys):
    console, jobs = session
    photo = tmp_path / "red.png"
    photo.write_bytes(images.png(40, 30))
    await console.handle_line(f"/classify {photo} кот, д'Артаньян\n")
    [job] = [job for job in jobs.jobs.values() if isinstance(job, ClassifyJob)]
    assert job.labels == ["кот", "д'Артаньян"]
    assert "⏳" in capsys.readouterr().out


async def test_a_missing_file_is_named_not_called_broken(session, capsys):
    console, jobs = session
    await console.handle_line("/classify nope.jpg кошка\n")
    assert t("console_no_file", "ru", path="nope.jpg") in capsys.readouterr().out
    assert jobs.jobs == {}


async def test_help_describes_the_terminal_and_commands_ignore_case(session, capsys):
    console, jobs = session
    await console.handle_line("/help\n")
    assert t("console_help", "ru") in capsys.readouterr().out
    await console.handle_line("/IMAGINE кот\n")
    assert len(jobs.jobs) == 1


async def test_pressing_a_button_that_is_not_there_says_so(session, capsys):
    console, _jobs = session
    await console.handle_line("/press U7\n")
    assert t("console_no_button", "ru", label="U7", buttons="—") in capsys.readouterr().out


async def test_a_second_quick_press_of_the_same_button_is_a_repeat(session, capsys):
    """The terminal presses the button under the picture, as a platform does: a double press sends one picture."""
    console, jobs = session
    await console.handle_line("/imagine кот --n 2\n")
    [job_id] = jobs.jobs
    for index in range(2):
        jobs.images[image_key(job_id, index)] = images.png(30 + index, 20)
    await console.outbox.send_photo(console.chat(), images.png(60, 20), "🎨 кот", result_keyboard(job_id, 2))
    capsys.readouterr()
    await console.handle_line("/press U1\n")
    await console.handle_line("/press U1\n")
    out = capsys.readouterr().out
    assert out.count(t("button_sending", "ru")) == 1
    assert out.count(t("button_repeated", "ru")) == 1


async def test_remix_changes_a_picture_s_request_by_its_number_or_the_last_one(session, capsys):
    console, jobs = session
    await console.handle_line("/imagine кот в шляпе --seed 5\n")
    [job_id] = jobs.jobs
    await console.outbox.send_photo(console.chat(), images.png(60, 20), "🎨 кот", result_keyboard(job_id, 1))
    [number] = console.outbox.results
    await console.handle_line(f"/remix {number} а без шляпы\n")
    await console.handle_line("/remix добавь луну --ar 9:16\n")
    first, second = list(jobs.jobs.values())[1:]
    assert (first.prompt, first.negative, first.seed) == ("кот в шляпе", "шляпа", 5)
    assert (second.prompt, second.aspect, second.seed) == ("кот в шляпе, луна", (9, 16), 5)
    assert set(console.job_ids) >= set(jobs.jobs) - {job_id}


async def test_remix_of_a_u_image_paints_from_that_picture(session, capsys):
    console, jobs = session
    await console.handle_line("/imagine кот в шляпе --n 2 --seed 5\n")
    [job_id] = jobs.jobs
    for index in range(2):
        jobs.images[image_key(job_id, index)] = images.png(30 + index, 20)
    await console.outbox.send_photo(console.chat(), images.png(60, 20), "🎨 кот", result_keyboard(job_id, 2))
    await console.handle_line("/press U2\n")
    single = max(console.outbox.results, key=int)  # the U image: the last picture, under it only ⤴
    assert all(action.startswith("s:") for action in console.outbox.results[single])
    await console.handle_line(f"/remix {single} а без шляпы\n")
    remixed = list(jobs.jobs.values())[-1]
    assert (remixed.init_image_key, remixed.negative, remixed.seed) == (image_key(job_id, 1), "шляпа", 5)


async def test_remix_of_a_picture_that_is_not_there_says_so(session, capsys):
    console, jobs = session
    await console.handle_line("/remix 99 а без шляпы\n")
    assert t("console_no_picture", "ru", number="99", pictures="—") in capsys.readouterr().out
    assert jobs.jobs == {}


async def test_the_pen_prints_the_line_to_change(session, capsys):
    console, jobs = session
    await console.handle_line("/imagine кот в шляпе --seed 5\n")
    [job_id] = jobs.jobs
    await console.outbox.send_photo(console.chat(), images.png(60, 20), "🎨 кот", result_keyboard(job_id, 1))
    capsys.readouterr()
    await console.handle_line("/press 🖋\n")
    number = console.outbox.buttons_under
    assert t("console_remix", "ru", command="/imagine кот в шляпе --seed 5", number=number) in capsys.readouterr().out
    assert len(jobs.jobs) == 1


async def test_the_terminal_presses_subtle_and_strong_variations(session, capsys):
    console, jobs = session
    await console.handle_line("/imagine кот --n 2\n")
    [job_id] = jobs.jobs
    for index in range(2):
        jobs.images[image_key(job_id, index)] = images.png(30 + index, 20)
    await console.outbox.send_photo(console.chat(), images.png(60, 20), "🎨 кот", result_keyboard(job_id, 2))
    assert "U1 U2 V1 V2 ~1 ~2 🔄 🖋" in capsys.readouterr().out
    await console.handle_line("/press ~2\n")
    await console.handle_line("/press v1\n")
    subtle, strong = [job for key, job in jobs.jobs.items() if key != job_id]
    assert (subtle.init_image_key, subtle.strength) == (image_key(job_id, 1), VARY_STRENGTHS[SUBTLE])
    assert (strong.init_image_key, strong.strength) == (image_key(job_id, 0), VARY_STRENGTHS[STRONG])


async def test_the_notice_of_a_press_comes_before_what_it_sends(session, capsys):
    console, jobs = session
    await console.handle_line("/imagine кот\n")
    [job_id] = jobs.jobs
    jobs.images[image_key(job_id, 0)] = images.png(30, 20)
    await console.outbox.send_photo(console.chat(), images.png(30, 20), "🎨 кот", result_keyboard(job_id, 1))
    capsys.readouterr()
    await console.handle_line("/press U1\n")
    out = capsys.readouterr().out
    assert out.index(t("button_sending", "ru")) < out.index("🖼"), out
    assert out.count(t("button_sending", "ru")) == 1


@pytest.mark.parametrize(
    ("typed", "text", "path"),
    [
        ("кот --from photo.jpg", "кот", "photo.jpg"),
        ("кот --from 'my photo.jpg' --n 2", "кот  --n 2", "my photo.jpg"),
        ('кот —фото "a b.png" --strength 0.3', "кот  --strength 0.3", "a b.png"),
        ("кот --n 2", "кот --n 2", None),
    ],
)
def test_the_photo_is_split_from_the_imagine_text(typed, text, path):
    assert split_photo(typed) == (text, path)


async def test_imagine_from_a_photo_file_queues_it_painted_from_the_photo(session, tmp_path, capsys):
    console, jobs = session
    photo = tmp_path / "my cat.png"
    photo.write_bytes(images.png(60, 30))
    await console.handle_line(f'/imagine кот зимой --from "{photo}" --strength 0.3\n')
    [job] = [job for job in jobs.jobs.values() if isinstance(job, GenerateJob)]
    assert (job.prompt, job.strength) == ("кот зимой", 0.3)
    assert jobs.images[job.photo_key] == normalize_image(images.png(60, 30))
    assert "⏳" in capsys.readouterr().out


async def test_imagine_from_a_missing_file_names_it(session, capsys):
    console, jobs = session
    await console.handle_line("/imagine кот --from nope.jpg\n")
    assert t("console_no_file", "ru", path="nope.jpg") in capsys.readouterr().out
    assert jobs.jobs == {}


async def test_the_terminal_presses_zoom_out_and_pan_under_a_single_picture(session, capsys):
    console, jobs = session
    await console.handle_line("/imagine кот --n 1\n")
    [job_id] = jobs.jobs
    jobs.images[image_key(job_id, 0)] = images.png(64, 64)
    jobs.outpaintable.add(job_id)
    keyboard = result_keyboard(job_id, 1) + zoom_rows(job_id, 0)
    await console.outbox.send_photo(console.chat(), images.png(64, 64), "🎨 кот", keyboard)
    assert "🔍 ×1.5 🔍 ×2 ⬅️ ➡️ ⬆️ ⬇️" in capsys.readouterr().out
    await console.handle_line("/press 🔍 ×2\n")
    await console.handle_line("/press ⬅️\n")
    zoomed, panned = [job for key, job in jobs.jobs.items() if key != job_id]
    assert (zoomed.outpaint, zoomed.init_image_key) == ("o2", image_key(job_id, 0))
    assert (panned.outpaint, panned.num_images) == ("l", 1)
    assert capsys.readouterr().out.count(t("button_accepted", "ru")) == 2


async def test_the_terminal_enlarges_a_one_picture_result_and_a_u_picture(session, capsys):
    """⤴ ×2 / ×4 (#20): under a one-picture result and under U's picture; ``/press x2`` (or ``×4``) presses them."""
    console, jobs = session
    await console.handle_line("/imagine кот --n 1\n")
    [job_id] = jobs.jobs
    jobs.images[image_key(job_id, 0)] = images.png(30, 20)
    await console.outbox.send_photo(console.chat(), images.png(30, 20), "🎨 кот", result_keyboard(job_id, 1))
    assert "⤴ ×2 ⤴ ×4" in capsys.readouterr().out
    await console.handle_line("/press x2\n")
    await console.handle_line("/press U1\n")
    assert "⤴ ×2 ⤴ ×4" in capsys.readouterr().out  # under U's picture too
    await console.handle_line("/press ×4\n")
    enlarged = [job for key, job in jobs.jobs.items() if key != job_id]
    assert [(job.init_image_key, job.upscale) for job in enlarged] == [
        (image_key(job_id, 0), 2),
        (image_key(job_id, 0), 4),
    ]


# --- ✨ prompt enhancement ------------------------------------------------------------------------------------


async def test_the_terminal_enhances_by_the_flag_and_by_the_button(session, capsys):
    console, jobs = session
    await console.handle_line("/imagine кот --улучшить --seed 4\n")
    [job_id] = jobs.jobs
    assert jobs.jobs[job_id].enhance
    await console.handle_line("/imagine пёс --seed 5\n")
    [plain_id] = [key for key in jobs.jobs if key != job_id]
    keyboard = result_keyboard(plain_id, 1, enhance=True)
    await console.outbox.send_photo(console.chat(), images.png(60, 20), "🎨 пёс", keyboard)
    assert "🔄 🖋 ✨" in capsys.readouterr().out
    await console.handle_line("/press ✨\n")
    [enhanced] = [job for key, job in jobs.jobs.items() if key not in (job_id, plain_id)]
    assert (enhanced.prompt, enhanced.seed, enhanced.enhance) == ("пёс", 5, True)
