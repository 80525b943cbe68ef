"""A large PNG shrunk band by band: the same pixels as Pillow's whole decode and `reduce`, damage refused, and the
kinds it does not do left to the whole decode."""

import io
import struct
import zlib

import pytest
from PIL import Image

from core import bigpng, images
from core.failures import BadInput
from tests import corpus, pictures


def noise(mode: str, size: tuple[int, int] = (701, 433)) -> bytes:
    image = Image.frombytes("RGB", size, bytes(range(256)) * (size[0] * size[1] * 3 // 256 + 1)).convert(mode)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA"])
@pytest.mark.parametrize("factor", [2, 3])
def test_bands_give_exactly_what_reducing_the_whole_image_gives(mode, factor, monkeypatch):
    monkeypatch.setattr(bigpng, "BAND_PIXELS", 701 * 20)  # many bands, and a short last one
    data = noise(mode)
    whole = Image.open(io.BytesIO(data)).reduce(factor)
    banded = bigpng.shrink(data, factor)
    assert banded is not None and banded.mode == whole.mode and banded.size == whole.size
    assert banded.tobytes() == whole.tobytes()


def interlaced(data: bytes) -> bytes:
    """The header says Adam7 (Pillow writes no interlaced PNG): only the header is read to decide."""
    header = data[12:29][:-1] + b"\x01"
    return data[:12] + header + struct.pack(">I", zlib.crc32(header)) + data[33:]


@pytest.mark.parametrize("data", [pictures.png(mode="P", colour=3), corpus.sixteen_bit_png(),
                                  interlaced(pictures.png())], ids=["palette", "16-bit", "adam7"])
def test_other_kinds_of_png_are_left_to_the_whole_decode(data):
    assert bigpng.shrink(data, 2) is None


@pytest.mark.parametrize("damage", [corpus.truncated, corpus.flipped], ids=["truncated", "flipped"])
def test_a_damaged_large_png_is_refused_by_name(damage):
    data = damage(noise("RGB", (3000, 200)))
    with pytest.raises(BadInput, match="could not be read as an image"):
        images.prepare(data, "big.png", 1024, 10 * 2**20)


def test_prepare_shrinks_a_large_png_in_bands_and_charges_the_budget_for_bands():
    data = pictures.png(5000, 2000)
    assert images.decoded_pixels(data, "big.png", 1024) < 5000 * 2000 // 3
    out, mime = images.prepare(data, "big.png", 1024, 10 * 2**20)
    assert mime == "image/png" and pictures.size_of(out) == (1024, 410)
