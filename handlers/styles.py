"""``--style`` presets: each is a prompt suffix and a negative prompt, with Russian and English names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """A named look: words appended to the prompt and words to steer away from."""

    name: str
    aliases: tuple[str, ...]
    suffix: str
    negative: str


STYLES: tuple[Style, ...] = (
    Style(
        "фото",
        ("photo", "фотография", "реализм"),
        "фотография, реалистично, высокая детализация, естественный свет",
        "рисунок, мультфильм, иллюстрация, размыто",
    ),
    Style(
        "аниме",
        ("anime", "манга"),
        "в стиле аниме, яркие цвета, чёткие контуры",
        "фотография, реалистично",
    ),
    Style(
        "акварель",
        ("watercolor", "watercolour"),
        "акварельная живопись, мягкие переходы цвета, текстура бумаги",
        "фотография, 3d, резкие контуры",
    ),
    Style(
        "масло",
        ("oil", "масляная живопись", "живопись"),
        "масляная живопись на холсте, видимые мазки кисти",
        "фотография, 3d, плоские цвета",
    ),
    Style(
        "киберпанк",
        ("cyberpunk",),
        "киберпанк, неоновые огни, футуристический город ночью",
        "пастель, дневной свет",
    ),
    Style(
        "пиксель-арт",
        ("pixel-art", "pixelart", "пиксель", "пиксельарт"),
        "пиксель-арт, 16 бит, ограниченная палитра",
        "фотография, размыто, сглаживание",
    ),
    Style(
        "3d",
        ("3д", "рендер", "render"),
        "3d рендер, объёмное освещение, детализированные материалы",
        "рисунок, плоское изображение",
    ),
)

# ``--style нет``: no style, not even the chat's default one (``/settings``)
NO_STYLE = Style("нет", ("none", "no", "off", "без стиля", "без", "-"), "", "")

_BY_NAME = {key.casefold(): style for style in (*STYLES, NO_STYLE) for key in (style.name, *style.aliases)}


def find_style(name: str) -> Style | None:
    """The style called ``name`` (any alias, any case; ``нет`` is :data:`NO_STYLE`), or ``None``."""
    return _BY_NAME.get(name.strip().casefold())


def style_names() -> str:
    """The style names for help and error texts: ``фото, аниме, …``."""
    return ", ".join(style.name for style in STYLES)


def english_name(style: Style) -> str:
    """The style's name for English texts: its name or first alias in Latin letters (``аниме`` → ``anime``)."""
    return next((name for name in (style.name, *style.aliases) if name.isascii()), style.name)


def english_style_names() -> str:
    """The style names for English texts: ``photo, anime, …``."""
    return ", ".join(english_name(style) for style in STYLES)
