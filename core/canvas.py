"""Outpainting with Pillow: the larger canvas with the original pixels in place, the supported ratio nearest its
shape, and whether a result came back far from that shape.

Synchronous and CPU-bound, like `core.images`: callers run it through `asyncio.to_thread`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from core.events import SIDES, Extend
from core.failures import BadInput
from core.images import load_rgb

FILL = (128, 128, 128)  # the new area: flat mid-grey, named in the instruction so Gemini knows what to fill
SHAPE_TOLERANCE = 0.08  # a result whose width/height differs from the canvas's by more than this is reported


@dataclass(frozen=True)
class Canvas:
    """The extended picture (PNG), its size, and where the original sits on it (left, top, width, height)."""

    png: bytes
    width: int
    height: int
    box: tuple[int, int, int, int]


def extend(data: bytes, name: str, amounts: Extend, max_edge: int) -> Canvas:
    """The picture on a canvas grown by `amounts` (fractions of its own size per side), new area grey.

    The original is scaled down first only when the canvas would exceed `max_edge` (the model gains nothing from
    more pixels); otherwise its pixels are copied unchanged.
    """
    picture = load_rgb(data, name)
    grow_x, grow_y = 1 + amounts.left + amounts.right, 1 + amounts.top + amounts.bottom
    longest = max(picture.width * grow_x, picture.height * grow_y)
    if longest > max_edge:
        scale = max_edge / longest
        picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))))
    w, h = picture.size
    left, top = round(w * amounts.left), round(h * amounts.top)
    width, height = left + w + round(w * amounts.right), top + h + round(h * amounts.bottom)
    canvas = Image.new("RGB", (width, height), FILL)
    canvas.paste(picture, (left, top))
    out = io.BytesIO()
    canvas.save(out, "PNG", compress_level=1)
    return Canvas(out.getvalue(), width, height, (left, top, w, h))


def nearest_ratio(width: int, height: int, ratios: Sequence[str]) -> str:
    """The supported ratio closest to width:height (compared on a log scale, so 2:1 and 1:2 are as far from 1:1)."""
    if not ratios:
        raise BadInput("This model supports no aspect ratios to extend a picture into.")
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(math.log(w / h) - target)

    return min(ratios, key=distance)


def image_size(data: bytes) -> tuple[int, int] | None:
    """A result's pixel size from its header (no full decode); None when Pillow cannot read it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # a result Pillow cannot read is the adapter's to post as it is
        return None


def shape_notice(canvas: tuple[int, int], result: tuple[int, int] | None) -> str | None:
    """A sentence for the user when the result's shape is far from the canvas asked for (not cropped to fit)."""
    if result is None:
        return None
    wanted, got = canvas[0] / canvas[1], result[0] / result[1]
    if abs(got / wanted - 1) <= SHAPE_TOLERANCE:
        return None
    return (f"The extended canvas was {canvas[0]}×{canvas[1]} (shape {wanted:.2f}), but Gemini returned "
            f"{result[0]}×{result[1]} (shape {got:.2f}), the nearest ratio it supports. It is posted as it came, "
            "not cropped; crop it yourself, or extend less (for example :0.25) to stay closer to a supported shape.")


def sides_named(amounts: Extend) -> str:
    named = [side for side in SIDES if getattr(amounts, side) > 0]
    return " and ".join(named) if len(named) < 3 else ", ".join(named[:-1]) + " and " + named[-1]
