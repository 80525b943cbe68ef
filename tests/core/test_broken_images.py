"""The generated corpus of broken and unusual images through `core.images.prepare`, and the pixel budget."""

import asyncio
import io

import pytest
from PIL import Image

from core import images
from core.failures import BadInput
from core.pixels import PixelBudget
from tests import corpus, pictures

BIG = 10 * 2**20
SAMPLES = corpus.corpus()


@pytest.mark.parametrize("sample", [s for s in SAMPLES if not s.readable], ids=lambda s: s.name)
def test_broken_images_are_refused_by_name(sample):
    with pytest.raises(BadInput) as refused:
        images.prepare(sample.data, sample.name, 2048, BIG)
    assert sample.name in refused.value.message
    assert "could not be read as an image" in refused.value.message or "too many" in refused.value.message


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.readable], ids=lambda s: s.name)
def test_unusual_images_become_one_still_8_bit_image_gemini_accepts(sample):
    out, mime = images.prepare(sample.data, sample.name, 2048, BIG)
    assert mime in ("image/png", "image/jpeg")  # not GIF, not animated WebP
    with Image.open(io.BytesIO(out)) as image:
        image.load()
        assert getattr(image, "n_frames", 1) == 1
        assert image.mode in ("RGB", "RGBA", "L", "P")


@pytest.mark.parametrize("sample", corpus.damaged_either_way(), ids=lambda s: s.name)
def test_damaged_jpeg_webp_gif_are_decoded_or_refused_never_sent_broken(sample):
    try:
        out, _ = images.prepare(sample.data, sample.name, 2048, BIG)
    except BadInput as refused:
        assert "could not be read as an image" in refused.message
        return
    with Image.open(io.BytesIO(out)) as image:
        image.load()  # what goes to Gemini decodes in full


def test_a_truncated_jpeg_that_needs_no_resizing_is_refused_not_sent():
    jpeg = pictures.encoded("JPEG", 64, 48)
    with pytest.raises(BadInput, match="could not be read as an image"):
        images.prepare(corpus.truncated(jpeg), "cut.jpg", 2048, BIG)


def test_a_16_bit_png_is_not_passed_through():
    data = corpus.sixteen_bit_png()
    out, _ = images.prepare(data, "deep.png", 2048, BIG)
    assert out != data


def test_a_large_jpeg_is_drafted_before_the_full_decode():
    big = pictures.encoded("JPEG", 4000, 3000)
    assert images.decoded_pixels(big, "big.jpg", 1024) <= 2000 * 1500  # libjpeg scaled it while decoding
    assert images.decoded_pixels(pictures.encoded("BMP", 2000, 2000), "big.bmp", 1024) == 2000 * 2000  # no draft
    out, _ = images.prepare(big, "big.jpg", 1024, BIG)
    assert max(pictures.size_of(out)) == 1024


async def test_the_pixel_budget_makes_requests_wait_in_line_not_fail():
    budget = PixelBudget(100)
    order: list[str] = []
    release = asyncio.Event()

    async def take(name: str, pixels: int, hold: bool = False) -> None:
        async with budget.hold(pixels):
            order.append(name)
            if hold:
                await release.wait()

    first = asyncio.create_task(take("first", 80, hold=True))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(take("big", 500)), asyncio.create_task(take("small", 10))]
    await asyncio.sleep(0)
    assert order == ["first"] and budget.in_use == 80  # "small" would fit, but waits behind "big": no starvation
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == ["first", "big", "small"]
    assert budget.in_use == 0


async def test_a_cancelled_waiter_gives_its_place_back():
    budget = PixelBudget(10)
    async with budget.hold(10):
        waiter = asyncio.create_task(budget.hold(5).__aenter__())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert budget.in_use == 0
    async with budget.hold(10):
        assert budget.in_use == 10
