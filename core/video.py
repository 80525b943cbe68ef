"""Videos as context for a still: recognised by their leading bytes, checked against the model and a size cap.

A video travels inline when small, else through the Gemini Files API (the model port uploads it once and the turn
refers to it by URI). Nothing here decodes a video.
"""

from __future__ import annotations

from core.catalogue import MODELS, RETIRED, ModelInfo
from core.failures import UnsupportedOption

MiB = 1024 * 1024
MAX_VIDEO_BYTES = 100 * MiB  # what the bot downloads at most; Gemini's Files API takes far more
INLINE_VIDEO_BYTES = 4 * MiB  # larger videos go through the Files API instead of inside the request
VIDEO_SUFFIXES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm",
                  ".mpeg": "video/mpeg", ".mpg": "video/mpeg", ".3gp": "video/3gpp"}


def sniff(data: bytes) -> str | None:
    """The video MIME type named by the leading bytes (MP4/MOV/3GP `ftyp`, WebM/Matroska, MPEG), or None."""
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/3gpp" if brand.startswith(b"3g") else "video/mp4"
    if data.startswith(b"\x1aE\xdf\xa3"):
        return "video/webm"
    if data.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        return "video/mpeg"
    return None


def by_name(name: str, mime_type: str | None = None) -> bool:
    """The platform (or the file name) says this attachment is a video."""
    lowered = name.lower()
    return bool(mime_type and mime_type.startswith("video/")) or any(lowered.endswith(s) for s in VIDEO_SUFFIXES)


def check(spec: ModelInfo, name: str, size: int, videos: int) -> None:
    """UnsupportedOption naming the models that take video, or the size allowed; before anything is sent."""
    if not spec.video_input:
        takers = ", ".join(m.id for m in MODELS.values() if m.video_input and m.status != RETIRED) or "none"
        raise UnsupportedOption(
            f"{spec.id} does not take video input, so `{name}` cannot be used with it. Models that do: {takers} "
            "(choose one with --model)."
        )
    if videos > 1:
        raise UnsupportedOption("Send one video per message: it is the context for one still.")
    if size > MAX_VIDEO_BYTES:
        raise UnsupportedOption(
            f"`{name}` is {size / MiB:.1f} MiB; videos up to {MAX_VIDEO_BYTES // MiB} MiB are accepted. Trim it."
        )
