"""Test images made with Pillow (no binary files in the repo)."""

from __future__ import annotations

import io
import random

from PIL import Image


def png(width: int = 64, height: int = 48, colour: tuple[int, ...] = (200, 30, 30), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, "PNG")
    return out.getvalue()


def encoded(fmt: str, width: int = 64, height: int = 48, mode: str = "RGB", **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (10, 120, 200) if mode == "RGB" else 128).save(out, fmt, **save)
    return out.getvalue()


def noise_png(width: int, height: int, seed: int = 0) -> bytes:
    """An incompressible PNG: its size is about width × height × 3 bytes, whatever the seed."""
    raw = random.Random(seed).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), raw).save(out, "PNG", compress_level=0)
    return out.getvalue()


def jpeg_rotated(width: int = 80, height: int = 40, orientation: int = 6) -> bytes:
    """A JPEG stored landscape whose EXIF says to turn it (6: 90° clockwise), as phones write them."""
    image = Image.new("RGB", (width, height), (0, 255, 0))
    exif = image.getexif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def bomb_png(width: int = 12_000, height: int = 6_000) -> bytes:
    """A tiny file that decodes to 72 megapixels: a decompression bomb."""
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG", optimize=True)
    return out.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size
