"""Test images made on the spot: real files in real formats, and hostile ones."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A solid-colour PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_rotated(width: int = 80, height: int = 40) -> bytes:
    """A JPEG stored landscape with EXIF orientation 6 (display rotated 90°, so it shows portrait)."""
    image = Image.new("RGB", (width, height), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def animated_gif() -> bytes:
    """A two-frame GIF: red, then blue."""
    frames = [Image.new("RGB", (32, 32), (255, 0, 0)), Image.new("RGB", (32, 32), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def animated_webp() -> bytes:
    """A two-frame animated WebP: green, then blue."""
    frames = [Image.new("RGB", (32, 32), (0, 255, 0)), Image.new("RGB", (32, 32), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A few-hundred-byte PNG whose header claims ``width``×``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    body = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def truncated(data: bytes) -> bytes:
    """The first half of a file."""
    return data[: len(data) // 2]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
