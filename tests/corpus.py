"""A corpus of broken and unusual images, made here with Pillow, truncation and byte flips (no binary files).

Each entry says what the bot must do with it: `ok` (answered with an image) or `bad` (answered "could not be read
as an image", or "too many pixels"), and in both cases the next request is served.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image

from tests.pictures import bomb_png


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    readable: bool  # True: Gemini gets an image it accepts; False: the user reads why not


def _picture(mode: str = "RGB", size: tuple[int, int] = (96, 64)) -> Image.Image:
    rng = random.Random(7)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    return image.convert(mode) if mode != "RGB" else image


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _frames(fmt: str, **options: object) -> bytes:
    frames = [Image.new("RGB", (48, 32), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: max(16, int(len(data) * keep))]


def flipped(data: bytes, seed: int = 1, count: int = 12) -> bytes:
    """`count` bytes past the header XOR-ed with 0xFF: a damaged file that still sniffs as its format."""
    rng = random.Random(seed)
    damaged = bytearray(data)
    for _ in range(count):
        at = rng.randrange(min(64, len(data) // 2), len(data))
        damaged[at] ^= 0xFF
    return bytes(damaged)


def sixteen_bit_png() -> bytes:
    return _save(Image.new("I;16", (40, 30), 40_000), "PNG")


def corpus() -> list[Sample]:
    """The whole corpus: broken files first, then unusual ones that must come out as a correct image."""
    png, jpeg = _save(_picture(), "PNG"), _save(_picture(), "JPEG", quality=90)
    webp, gif = _save(_picture(), "WEBP", quality=80), _save(_picture("P"), "GIF")
    broken = [
        Sample("truncated.png", truncated(png), False),
        Sample("truncated.jpg", truncated(jpeg), False),
        Sample("truncated.webp", truncated(webp), False),
        Sample("truncated.gif", truncated(gif, 0.3), False),
        Sample("flipped.png", flipped(png), False),  # PNG chunks carry CRCs: a flip is always caught
        Sample("header-only.png", png[:40], False),
        Sample("bomb.png", bomb_png(), False),
    ]
    unusual = [
        Sample("animated.gif", _frames("GIF"), True),
        Sample("animated.webp", _frames("WEBP"), True),
        Sample("animated.png", _frames("PNG"), True),  # APNG
        Sample("cmyk.jpg", _save(_picture("CMYK"), "JPEG"), True),
        Sample("sixteen-bit.png", sixteen_bit_png(), True),
        Sample("grey-alpha.png", _save(_picture("LA"), "PNG"), True),
    ]
    return broken + unusual


def damaged_either_way() -> list[Sample]:
    """Bit-flipped JPEG, WebP and GIF: decoders may read these (garbled) or refuse them; both are fine answers."""
    jpeg, webp = _save(_picture(), "JPEG", quality=90), _save(_picture(), "WEBP", quality=80)
    gif = _save(_picture("P"), "GIF")
    return [Sample(f"flipped-{seed}.{ext}", flipped(data, seed), False)
            for seed in (1, 2) for ext, data in (("jpg", jpeg), ("webp", webp), ("gif", gif))]
