"""Sniffing, validating and shrinking user images; fitting outputs to an upload limit."""

import io

import pytest
from PIL import Image

from core import images
from core.failures import BadInput
from tests import pictures

BIG = 10 * 2**20


def test_sniff_reads_bytes_not_names():
    assert images.sniff(pictures.png()) == "PNG"
    assert images.sniff(pictures.encoded("JPEG")) == "JPEG"
    assert images.sniff(pictures.encoded("WEBP")) == "WEBP"
    assert images.sniff(pictures.encoded("GIF")) == "GIF"
    assert images.sniff(pictures.encoded("BMP")) == "BMP"
    assert images.sniff(pictures.encoded("TIFF")) == "TIFF"
    assert images.sniff(b"%PDF-1.7 ...") is None


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_images_gemini_accepts_pass_through_untouched(fmt):
    data = pictures.encoded(fmt)
    out, mime = images.prepare(data, "x", 2048, BIG)
    assert out is data
    assert mime == f"image/{fmt.lower()}"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_converted(fmt):
    out, mime = images.prepare(pictures.encoded(fmt), "x", 2048, BIG)
    assert mime in ("image/png", "image/jpeg")
    assert pictures.size_of(out) == (64, 48)


def test_gif_animation_gives_its_first_frame():
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:])
    out, _ = images.prepare(buf.getvalue(), "anim.gif", 2048, BIG)
    with Image.open(io.BytesIO(out)) as image:
        r, g, b = image.convert("RGB").getpixel((5, 5))
    assert r > 200 and b < 50


@pytest.mark.parametrize(
    "data,needle",
    [
        (b"%PDF-1.7 hello", "PDF"),
        (b"just some words", "text file"),
        (b"<!DOCTYPE html><html>", "HTML"),
        (b"", "empty (0 bytes)"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "could not be read"),
    ],
)
def test_non_images_are_refused_by_name(data, needle):
    with pytest.raises(BadInput) as info:
        images.prepare(data, "thing.png", 2048, BIG)
    assert needle in info.value.message and "thing.png" in info.value.message


def test_too_many_bytes_refused_before_decoding():
    with pytest.raises(BadInput) as info:
        images.prepare(b"\x89PNG\r\n\x1a\n" + b"\x00" * (images.MAX_INPUT_BYTES + 1), "huge.png", 2048, BIG)
    assert "20 MiB" in info.value.message


def test_decompression_bomb_is_refused_without_decoding():
    bomb = pictures.bomb_png()
    assert len(bomb) < 100_000
    with pytest.raises(BadInput) as info:
        images.prepare(bomb, "bomb.png", 2048, BIG)
    assert "megapixels" in info.value.message


def test_exif_orientation_is_applied():
    out, mime = images.prepare(pictures.jpeg_rotated(80, 40, 6), "phone.jpg", 2048, BIG)
    assert pictures.size_of(out) == (40, 80)
    assert mime == "image/jpeg"


def test_large_inputs_are_shrunk_to_what_the_model_uses():
    out, _ = images.prepare(pictures.encoded("PNG", 3000, 1500), "big.png", 2048, BIG)
    assert pictures.size_of(out) == (2048, 1024)


def test_inputs_over_the_byte_budget_are_reencoded_to_fit():
    noisy = pictures.noise_png(800, 800, seed=3)
    out, mime = images.prepare(noisy, "noise.png", 2048, 500_000)
    assert len(out) <= 500_000 and mime == "image/jpeg"


def test_fit_keeps_bytes_that_fit():
    data = pictures.png()
    assert images.fit(data, BIG)[0] is data


def test_fit_reencodes_until_it_fits():
    noisy = pictures.noise_png(1200, 1200, seed=1)
    assert len(noisy) > 4_000_000
    out, mime = images.fit(noisy, 1_000_000)
    assert len(out) <= 1_000_000 and mime == "image/jpeg"


def test_fit_tries_lossless_first():
    flat = io.BytesIO()
    Image.new("RGB", (1500, 1500), (9, 9, 9)).save(flat, "PNG", compress_level=0)
    data = flat.getvalue()
    out, mime = images.fit(data, len(data) // 10)
    assert mime == "image/png"
    with Image.open(io.BytesIO(out)) as image:
        assert image.getpixel((0, 0)) == (9, 9, 9)
