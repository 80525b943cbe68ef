"""Pillow work: sniff and validate user images, shrink them for the model, fit outputs to an upload limit.

Every function here is synchronous and CPU-bound: callers run it through `asyncio.to_thread`. Sizes are bounded
before decoding, and bytes that already suit are passed through untouched (no needless decode or re-encode).
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageOps

from core import bigpng
from core.failures import BadInput

log = logging.getLogger(__name__)

MAX_INPUT_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000  # far above any real photo (a 4K render is 16.7 MP); refuses decompression bombs
GEMINI_MIMES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
ACCEPTED = "PNG, JPEG, WebP, GIF, BMP or TIFF"

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_NOT_IMAGES = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"<!DOCTYPE html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<svg", "an SVG drawing"),
    (b"<?xml", "an XML file (perhaps SVG)"),
    (b"\x1aE\xdf\xa3", "a video (WebM/MKV)"),
)


def sniff(data: bytes) -> str | None:
    """The image format named by the leading bytes (PNG, JPEG, WEBP, GIF, BMP, TIFF), or None."""
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def too_large(name: str, size: int | None = None, cap: int = MAX_INPUT_BYTES) -> str:
    """What a user reads about an image over the input cap (`size` None: it passed the cap while being read)."""
    most = f"{cap / 2**20:.0f} MiB"
    if size is None:
        return f"`{name}` is larger than {most}, the most I accept. Send a smaller image."
    return f"`{name}` is {size / 2**20:.1f} MiB; images up to {most} are accepted. Send a smaller one."


def check_declared(
    name: str, size: int | None, *, is_image: bool = True, mime_type: str | None = None, cap: int = MAX_INPUT_BYTES
) -> None:
    """An attachment as its platform describes it (type, size), checked before a byte is read: BadInput says why not.

    `size` None: not told (the download's cap still holds)."""
    if not is_image:
        kind = f" ({mime_type})" if mime_type else ""
        raise BadInput(f"`{name}` is not an image{kind}. Send {ACCEPTED}.")
    if size is not None and size > cap:
        raise BadInput(too_large(name, size, cap))
    if size == 0:
        raise BadInput(f"`{name}` is empty (0 bytes). Send the image again.")


def _describe_non_image(data: bytes) -> str:
    head = data[:64].lstrip().lower()
    for magic, what in _NOT_IMAGES:
        if head.startswith(magic.lower()):
            return what
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "a HEIC/AVIF photo" if brand in (b"heic", b"heix", b"mif1", b"avif") else "a video (MP4/MOV)"
    try:
        data[:512].decode("utf-8")
        return "a text file"
    except UnicodeDecodeError:
        return "not an image"


PILLOW_BLOCK_BYTES = 64 * 2**20  # above glibc's largest mmap threshold (32 MiB): freed pixels go back to the system


def configure_memory() -> None:
    """Pillow allocates pixels in blocks (16 MiB by default); glibc then serves blocks that size from its heaps after
    the first is freed, and a heap seldom shrinks: one 49-megapixel decode per worker thread stayed resident (862 MiB
    after eight requests). Blocks larger than glibc's largest mmap threshold are always mapped, and unmapped when freed.
    Called once by the composition root."""
    Image.core.set_block_size(PILLOW_BLOCK_BYTES)


def unreadable(name: str, why: str = "damaged or truncated file") -> BadInput:
    return BadInput(f"`{name}` could not be read as an image ({why}). Export it again as PNG or JPEG and resend it.")


def _open(data: bytes, name: str) -> Image.Image:
    if not data:
        raise BadInput(f"`{name}` is empty (0 bytes). Attach the image file again.")
    if len(data) > MAX_INPUT_BYTES:
        raise BadInput(too_large(name, len(data)))
    fmt = sniff(data)
    if fmt is None:
        raise BadInput(f"`{name}` is {_describe_non_image(data)}, not an image I can use. Send {ACCEPTED}.")
    try:
        image = Image.open(io.BytesIO(data), formats=[fmt])  # header only; pixels are not decoded yet
    except Image.DecompressionBombError as exc:
        raise BadInput(f"`{name}` has too many pixels to process safely. Send an image under 50 megapixels.") from exc
    except Exception as exc:  # a decoder fed hostile bytes may raise anything: each is "not readable"
        raise unreadable(name, f"it looks like {fmt} but its header is damaged") from exc
    width, height = image.size
    if width * height > MAX_PIXELS or width <= 0 or height <= 0:
        raise BadInput(
            f"`{name}` is {width}×{height}: too many pixels to process safely. Send an image under 50 megapixels."
        )
    return image


def _draft(image: Image.Image, max_edge: int) -> None:
    """A JPEG decodes at 1/2, 1/4 or 1/8 scale when that still covers `max_edge` (libjpeg's DCT scaling)."""
    if image.format == "JPEG" and max(image.size) > max_edge:
        image.draft(image.mode, (max_edge, max_edge))


def decoded_pixels(data: bytes, name: str, max_edge: int) -> int:
    """The pixels that `prepare` holds decoded at once, read from the header (after `draft`; a large PNG is shrunk
    band by band): the pixel budget's charge. BadInput when the header alone shows the image cannot be used."""
    with _open(data, name) as image:
        _draft(image, max_edge)
        width, height = image.size
    factor = max(width, height) // max_edge
    if factor >= 2 and bigpng.band_plan(data) is not None:
        return 2 * bigpng.BAND_PIXELS + -(-width // factor) * -(-height // factor)
    return width * height


def _banded(data: bytes, name: str, size: tuple[int, int], max_edge: int) -> Image.Image | None:
    """A large PNG reduced band by band (core.bigpng), or None when it is not of that kind or small enough."""
    factor = max(size) // max_edge
    if factor < 2:
        return None
    try:
        return bigpng.shrink(data, factor)
    except Exception as exc:  # damaged: a CRC, the compressed data, the size
        raise unreadable(name) from exc


def _deep(image: Image.Image) -> bool:
    """16 bits a channel (or float): Gemini documents 8-bit images only."""
    if image.mode.startswith("I") or image.mode == "F":
        return True
    tiles = getattr(image, "tile", None) or ()  # ImageFile's undecoded tiles: (codec, box, offset, rawmode)
    return any("16" in str(tile[3]) for tile in tiles)


def _decode(image: Image.Image, name: str) -> tuple[Image.Image, bool]:
    """Every pixel decoded (an animation's first frame) and turned upright in place (no copy), and whether it was
    turned: BadInput when any of it cannot be read."""
    try:
        image.seek(0)
        image.load()
        turned = image.getexif().get(0x0112, 1) not in (1, None)
        ImageOps.exif_transpose(image, in_place=True)
        return image, turned
    except Image.DecompressionBombError as exc:
        raise BadInput(f"`{name}` has too many pixels to process safely. Send an image under 50 megapixels.") from exc
    except Exception as exc:  # truncated, bit-flipped, bad CRC, bad EXIF: Pillow raises many kinds
        raise unreadable(name) from exc


def _eight_bit(image: Image.Image) -> Image.Image:
    """A mode every encoder here writes and Gemini reads: RGB, RGBA, L or P (16-bit, CMYK and others converted)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("RGB", "RGBA", "L", "P") and not (image.mode == "P" and "transparency" in image.info):
        return image
    return image.convert("RGBA" if _has_alpha(image) or "A" in image.getbands() else "RGB")


def _encode(image: Image.Image, fmt: str, quality: int = 90, optimize: bool = False) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode != "RGB":
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=quality, optimize=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=quality, method=4)
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        image.save(out, "PNG", optimize=optimize, compress_level=9 if optimize else 6)
    return out.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def prepare(data: bytes, name: str, max_edge: int, max_bytes: int) -> tuple[bytes, str]:
    """Validate a user's image and make it what Gemini accepts: (bytes, mime type).

    Every image is decoded in full first, so a damaged one is refused here (never sent). A still 8-bit PNG, JPEG or
    WebP that needs no rotation, is no larger than `max_edge` and fits `max_bytes` is then sent as it came; anything
    else (animated, CMYK, 16-bit, GIF, BMP, TIFF, too large) is turned upright, shrunk and re-encoded.
    """
    image = _open(data, name)
    fmt = image.format or "PNG"
    still = getattr(image, "n_frames", 1) == 1
    usual = image.mode in ("RGB", "RGBA", "L", "P") and not _deep(image)
    size = image.size
    banded = _banded(data, name, size, max_edge) if fmt == "PNG" else None
    if banded is not None:
        image.close()
        image = banded
    _draft(image, max_edge)
    upright, turned = (banded, False) if banded is not None else _decode(image, name)
    if fmt in GEMINI_MIMES and still and usual and not turned and max(size) <= max_edge and len(data) <= max_bytes:
        return data, GEMINI_MIMES[fmt]
    image = _eight_bit(upright)
    if max(image.size) > max_edge:
        # reduce() by a whole factor first (cheap, no full-size intermediate), then Lanczos the last step
        image.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS, reducing_gap=1.0)
    out_fmt = "PNG" if _has_alpha(image) or fmt in ("PNG", "GIF", "BMP") else "JPEG"
    encoded = _encode(image, out_fmt)
    if len(encoded) > max_bytes:
        return _shrink_to(image, max_bytes)
    return encoded, GEMINI_MIMES[out_fmt]


def fit(data: bytes, max_bytes: int) -> tuple[bytes, str]:
    """The model's image as it is when it fits `max_bytes`; otherwise re-encoded until it does.

    Lossless first (an optimised PNG), then high-quality WebP (keeps transparency) or JPEG, then smaller.
    """
    fmt = sniff(data)
    if len(data) <= max_bytes:
        return data, GEMINI_MIMES.get(fmt or "", "image/png")
    image, _ = _decode(_open(data, "image"), "image")
    if fmt == "PNG":
        lossless = _encode(image, "PNG", optimize=True)
        if len(lossless) <= max_bytes:
            return lossless, "image/png"
    return _shrink_to(image, max_bytes)


def _shrink_to(image: Image.Image, max_bytes: int) -> tuple[bytes, str]:
    fmt = "WEBP" if _has_alpha(image) else "JPEG"
    for _ in range(8):  # each round at most quarters the pixels, so eight always ends small enough
        for quality in (92, 85, 75):
            encoded = _encode(image, fmt, quality=quality)
            if len(encoded) <= max_bytes:
                return encoded, GEMINI_MIMES[fmt]
        width, height = image.size
        image = image.resize((max(1, int(width * 0.7)), max(1, int(height * 0.7))), Image.Resampling.LANCZOS)
    raise BadInput(f"This image cannot be made smaller than {max_bytes} bytes.")


def load_rgb(data: bytes, name: str) -> Image.Image:
    """A user's (or the model's) picture decoded as RGB, checked as `prepare` checks it: BadInput says why not."""
    with _open(data, name) as opened:
        decoded, _ = _decode(opened, name)
        return _eight_bit(decoded).convert("RGB")
