"""Pillow work: sniff and validate user images, shrink them for the model, fit outputs to an upload limit.

Every function here is synchronous and CPU-bound: callers run it through `asyncio.to_thread`. Sizes are bounded
before decoding, and bytes that already suit are passed through untouched (no needless decode or re-encode).
"""

from __future__ import annotations

import io
import logging

from PIL import Image, ImageOps, UnidentifiedImageError

from core.events import BadInput

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
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise BadInput(
            f"`{name}` looks like {fmt} but could not be read (damaged file?). Try exporting it again."
        ) from exc
    width, height = image.size
    if width * height > MAX_PIXELS or width <= 0 or height <= 0:
        raise BadInput(
            f"`{name}` is {width}×{height} pixels, too many to process safely. Send an image under 50 megapixels."
        )
    return image


def _decode(image: Image.Image, name: str) -> Image.Image:
    try:
        image.seek(0)  # an animation's first frame
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise BadInput(f"`{name}` could not be decoded (damaged or truncated file). Try exporting it again.") from exc
    return ImageOps.exif_transpose(image)


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

    PNG, JPEG and WebP that need no rotation, are no larger than `max_edge` and fit `max_bytes` are passed
    through as they are; anything else is decoded once, turned upright, shrunk and re-encoded.
    """
    image = _open(data, name)
    fmt = image.format or sniff(data) or "PNG"
    orientation = image.getexif().get(0x0112, 1) if fmt in ("JPEG", "TIFF", "WEBP", "PNG") else 1
    if fmt in GEMINI_MIMES and max(image.size) <= max_edge and orientation in (1, None) and len(data) <= max_bytes:
        return data, GEMINI_MIMES[fmt]
    image = _decode(image, name)
    if max(image.size) > max_edge:
        image.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
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
    image = _decode(_open(data, "image"), "image")
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
        return _decode(opened, name).convert("RGB")
