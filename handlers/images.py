"""Checking and normalising photos before they are queued: the worker only ever sees a sane RGB JPEG."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from handlers.errors import UserError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "MPO", "HEIF", "AVIF"})
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})  # iPhone photos
MAX_MEGAPIXELS = 50
MAX_SIDE = 1024  # classifiers look at 224–384 px; more only costs memory and Redis space
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024


def check_download_size(size: int | None, limit: int = TELEGRAM_DOWNLOAD_LIMIT) -> None:
    """Refuse a file before downloading it when the platform says it is larger than ``limit`` bytes."""
    if size is not None and size > limit:
        raise UserError("file_too_big", size_mb=round(size / 2**20, 1), limit_mb=limit // 2**20)


def normalize_image(data: bytes) -> bytes:
    """Validate an uploaded image and return it as an RGB JPEG no larger than ``MAX_SIDE``.

    The pixel count is checked from the header, before any pixel is decoded, so a decompression bomb costs
    nothing; EXIF orientation is applied; an animated image contributes its first frame.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with _open(data) as image:
                _check_header(image)
                image.seek(0)
                image.load()
                rgb = ImageOps.exif_transpose(image).convert("RGB")
        except Image.DecompressionBombError as exc:  # Pillow's own, stricter-than-ours check fired first
            raise UserError("image_too_many_pixels", limit=MAX_MEGAPIXELS) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            if _looks_like_svg(data):
                raise UserError("image_unsupported", format="SVG") from exc
            raise UserError("image_unreadable") from exc
    rgb.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=92)
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    """``Image.open``, with HEIF (iPhone photos) made readable when the first one arrives: pillow-heif's library
    costs a frontend memory it need not carry until then."""
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS and "HEIF" not in Image.OPEN:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    return Image.open(io.BytesIO(data))


def _looks_like_svg(data: bytes) -> bool:
    head = data[:1024].lstrip().lower()
    return head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head)


def _check_header(image: Image.Image) -> None:
    if image.format not in ALLOWED_FORMATS:
        raise UserError("image_unsupported", format=image.format or "?")
    width, height = image.size
    if width * height > MAX_MEGAPIXELS * 1_000_000:
        raise UserError("image_too_many_pixels", limit=MAX_MEGAPIXELS)
