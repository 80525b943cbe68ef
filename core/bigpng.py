"""A large PNG shrunk a band of rows at a time, never decoded whole.

PNG has no reduced decode (JPEG has `draft`), and Pillow holds every pixel in 4 bytes: a 139 KiB 7000×7000 PNG is
196 MB once loaded. Here zlib inflates the rows a band at a time; each band (with the row above it, unfiltered, as its
first row, since PNG filters refer to the row above) becomes a small stored PNG that Pillow decodes and `reduce`s
(a box filter, the same one `reduce` applies to a whole image), and the reduced bands are pasted together. What is
held at once is about one band, whatever the image's size. Only the common kind is done this way (8 bits a channel,
grey, RGB, with or without alpha, not interlaced, one frame, no transparency chunk); `shrink` answers None for others.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODES = {0: ("L", 1), 2: ("RGB", 3), 4: ("LA", 2), 6: ("RGBA", 4)}  # colour type: Pillow mode, bytes per pixel
BAND_PIXELS = 1_000_000  # about 4 MB a band decoded: a few such buffers are held at once
AVOIDED = (b"tRNS", b"acTL", b"eXIf", b"PLTE")  # transparency, animation, rotation: the whole decode handles these


class Damaged(ValueError):
    """The PNG's structure, a CRC or its compressed data is damaged."""


def _chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    at = len(SIGNATURE)
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        if len(body) != length or data[at + 8 + length:at + 12 + length] != struct.pack(">I", zlib.crc32(kind + body)):
            raise Damaged(f"{kind!r} chunk is truncated or fails its CRC")
        yield kind, body
        if kind == b"IEND":
            return
        at += 12 + length
    raise Damaged("the file ends before IEND")


def band_plan(data: bytes) -> tuple[int, int, str, int] | None:
    """(width, height, mode, bytes per pixel) when this PNG is of the kind `shrink` handles, else None."""
    if not data.startswith(SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 33:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    if depth != 8 or colour not in MODES or interlace or any(kind in data for kind in AVOIDED):
        return None
    mode, bpp = MODES[colour]
    return width, height, mode, bpp


def _rows(data: bytes, row_bytes: int, rows: int) -> Iterator[bytes]:
    """The filtered rows (filter byte first), `rows` at a time, inflated no faster than they are used."""
    inflater, pending, need = zlib.decompressobj(), bytearray(), row_bytes * rows
    for kind, body in _chunks(data):
        if kind != b"IDAT":
            continue
        compressed = body
        while compressed:
            pending += inflater.decompress(compressed, need)
            compressed = inflater.unconsumed_tail
            while len(pending) >= need:
                with memoryview(pending) as view:
                    band = bytes(view[:need])
                del pending[:need]
                yield band
    if pending:
        yield bytes(pending)
    if not inflater.eof:
        raise Damaged("the compressed image data ends early")


def _stored_png(width: int, height: int, colour: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b"")


def shrink(data: bytes, factor: int) -> Image.Image | None:
    """The image reduced by `factor` (a whole number ≥ 2), decoded band by band; None when this PNG is not of the
    kind done this way. Raises Damaged (or what Pillow raises) when it cannot be read."""
    plan = band_plan(data)
    if plan is None or factor < 2:
        return None
    width, height, mode, bpp = plan
    colour = next(c for c, (m, _) in MODES.items() if m == mode)
    row_bytes = width * bpp + 1
    band = max(factor, BAND_PIXELS // max(1, width) // factor * factor)
    out = Image.new(mode, (-(-width // factor), -(-height // factor)))
    above, y = b"\x00" * (row_bytes - 1), 0
    for rows in _rows(data, row_bytes, band):
        count = len(rows) // row_bytes
        if count == 0 or y + count > height:
            raise Damaged("the image data does not match its size")
        with Image.open(io.BytesIO(_stored_png(width, count + 1, colour, b"\x00" + above + rows))) as part:
            part.load()
            strip = part.crop((0, 1, width, count + 1))
        above = strip.crop((0, count - 1, width, count)).tobytes()
        out.paste(strip.reduce(factor), (0, y // factor))
        y += count
    if y != height:
        raise Damaged("the image data ends before its last row")
    return out
