"""Zoom out and pan (outpainting): where a picture goes on its bigger canvas, the mask the model paints through,
and the original pixels put back over what it painted.

Zoom out ×1.5 / ×2 puts the picture in the middle of a canvas that many times bigger; a pan grows the canvas by
:data:`PAN_GROWTH` on one side. The canvas is then brought back to about the model's own pixel count (snapped to its
grid by the caller's ``snap``), so the picture shrinks into it. The mask is white where the model paints (the new
border) with a soft edge of :data:`FEATHER` of the picture's shorter side reaching into the picture; after painting
the known pixels are composited back through that same mask, so the picture's middle is the original scaled down,
whatever the model painted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.protocol import PAN_DOWN, PAN_LEFT, PAN_RIGHT, PAN_UP, ZOOM_OUT_2, ZOOM_OUT_15

ZOOM_FACTORS = {ZOOM_OUT_15: 1.5, ZOOM_OUT_2: 2.0}
PAN_GROWTH = 0.5  # a pan adds half the picture's width (left/right) or height (up/down)
FEATHER = 0.08  # the soft seam: this share of the placed picture's shorter side, inside its painted-side edges
MIN_FEATHER = 2  # pixels
RESAMPLE = Image.Resampling.LANCZOS  # how the picture is scaled into its box (a test scales the same way)

Size = tuple[int, int]


@dataclass(frozen=True)
class Layout:
    """Where the picture goes on the output canvas.

    ``size``: the output (width, height); ``box``: the picture's (left, top, right, bottom) in it; ``open_sides``:
    which of the box's sides (left, top, right, bottom) border painted area (a pan's far sides touch the canvas edge
    and get no seam).
    """

    size: Size
    box: tuple[int, int, int, int]
    open_sides: tuple[bool, bool, bool, bool]

    @property
    def box_size(self) -> Size:
        """(width, height) the picture is scaled to."""
        left, top, right, bottom = self.box
        return right - left, bottom - top

    @property
    def feather(self) -> int:
        """The soft seam's width in pixels."""
        return max(MIN_FEATHER, round(FEATHER * min(self.box_size)))


def canvas(size: Size, code: str) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
    """The bigger canvas (width, height) for ``code`` in the picture's own pixels, and the picture's box on it."""
    width, height = size
    if code in ZOOM_FACTORS:
        factor = ZOOM_FACTORS[code]
        big = (width * factor, height * factor)
        left, top = (big[0] - width) / 2, (big[1] - height) / 2
        return big, (left, top, left + width, top + height)
    grow_x, grow_y = width * PAN_GROWTH, height * PAN_GROWTH
    boxes = {
        PAN_LEFT: ((width + grow_x, height), (grow_x, 0, grow_x + width, height)),
        PAN_RIGHT: ((width + grow_x, height), (0, 0, width, height)),
        PAN_UP: ((width, height + grow_y), (0, grow_y, width, grow_y + height)),
        PAN_DOWN: ((width, height + grow_y), (0, 0, width, height)),
    }
    if code not in boxes:
        raise ValueError(f"unknown outpaint code {code!r}")
    big, box = boxes[code]
    return (float(big[0]), float(big[1])), (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def layout(size: Size, code: str, snap: Callable[[Size], Size]) -> Layout:
    """The output canvas for zooming out / panning a picture of ``size``: the bigger canvas brought back to the size
    ``snap`` gives for its shape (the model's pixel count, on its grid), and the picture's box scaled with it."""
    (big_w, big_h), (left, top, right, bottom) = canvas(size, code)
    out_w, out_h = snap((max(1, round(big_w)), max(1, round(big_h))))
    scale_x, scale_y = out_w / big_w, out_h / big_h
    box = (round(left * scale_x), round(top * scale_y), round(right * scale_x), round(bottom * scale_y))
    open_sides = (box[0] > 0, box[1] > 0, box[2] < out_w, box[3] < out_h)
    return Layout((out_w, out_h), box, open_sides)


def mask(plan: Layout) -> Image.Image:
    """The painting mask ("L"): 255 (paint) outside the picture's box, 0 (keep) inside it, with a linear ramp of
    ``plan.feather`` pixels inside the box along its open sides (the soft seam)."""
    width, height = plan.size
    left, top, right, bottom = plan.box
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    distance = np.full((height, width), np.inf, dtype=np.float32)
    sides = (xs - left, ys - top, right - xs, bottom - ys)
    for is_open, gap in zip(plan.open_sides, sides, strict=True):
        if is_open:
            distance = np.minimum(distance, np.broadcast_to(gap, distance.shape))
    inside = (xs >= left) & (xs < right) & (ys >= top) & (ys < bottom)
    paint = np.where(inside, np.clip(1 - distance / plan.feather, 0, 1), 1.0)
    return Image.fromarray(np.round(paint * 255).astype(np.uint8), mode="L")


def start_image(picture: Image.Image, plan: Layout) -> Image.Image:
    """The canvas the model starts from: the picture scaled into its box on a fill of its mean colour (the model
    paints the fill over from noise; an inpainting model sees the colour)."""
    picture = picture.convert("RGB")
    mean = tuple(round(float(c)) for c in np.asarray(picture, dtype=np.float32).reshape(-1, 3).mean(axis=0))
    start = Image.new("RGB", plan.size, mean)
    start.paste(picture.resize(plan.box_size, RESAMPLE), plan.box[:2])
    return start


def composite(painted: Image.Image, start: Image.Image, paint_mask: Image.Image) -> Image.Image:
    """What the model ``painted`` where the mask paints, the known pixels of ``start`` where it keeps, blended
    along the seam: the picture's middle is exactly the original scaled down."""
    painted = painted.convert("RGB")
    if painted.size != start.size:
        painted = painted.resize(start.size, RESAMPLE)
    return Image.composite(painted, start, paint_mask)
