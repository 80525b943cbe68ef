"""What the store hands out: frozen records, and the lossless Content codec (images out to content-addressed blobs).

Bytes inside a Content (thought signatures) are written as URL-safe base64, which pydantic reads back into bytes;
each inline image becomes `{"blob": sha256}` so a thread's history never copies an image.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.events import Options, ThreadKey

Content = dict[str, Any]  # a Gemini Content in python mode: {"role": ..., "parts": [...]}, bytes as bytes
CONTROLS = ("style", "exclude", "think", "thoughts", "search")


@dataclass(frozen=True)
class ThreadRecord:
    id: int
    key: ThreadKey
    options: Options
    created_by: str


@dataclass(frozen=True)
class TurnRecord:
    id: int
    thread: ThreadRecord
    user_id: str
    status: str
    prompt: str
    options: Options
    request: Content


@dataclass(frozen=True)
class Usage:
    key: ThreadKey
    user_id: str
    model: str
    image_size: str | None
    prompt_tokens: int
    output_tokens: int
    total_tokens: int
    images: int
    cost_usd: float = 0.0
    at: float = 0.0  # epoch seconds; 0 means now
    search_queries: int = 0  # Google Search queries run for this turn (billed past a free monthly allowance)


@dataclass(frozen=True)
class Totals:
    """What a budget check reads in one transaction: recorded usage plus the live reservations of others."""

    user_images_today: int
    space_usd_today: float
    space_usd_month: float


@dataclass(frozen=True)
class Hold:
    """A reservation to take: who, where, how much, and the windows its limits count over."""

    platform: str
    space: str
    user_id: str
    usd: float
    day_start: float
    month_start: float
    images: int = 1  # a variant set or a story reserves all its images at once


def lock_name(key: ThreadKey) -> str:
    """The name of a thread's lease (the same text the schema builds in SQL from the thread's columns)."""
    return "|".join((key.platform, key.space, key.channel, key.thread))


def _json_default(value: object) -> str:
    if isinstance(value, bytes):  # thought signatures: pydantic reads URL-safe base64 back into bytes
        return base64.urlsafe_b64encode(value).decode()
    raise TypeError(f"cannot store {type(value).__name__}")


def dehydrate(content: Content) -> tuple[str, dict[str, bytes]]:
    """Content JSON with each inline image replaced by `{"blob": sha256}`, and the blobs by hash."""
    blobs: dict[str, bytes] = {}
    parts = []
    for part in content.get("parts") or ():
        inline = part.get("inline_data")
        if inline and isinstance(inline.get("data"), bytes):
            digest = hashlib.sha256(inline["data"]).hexdigest()
            blobs[digest] = inline["data"]
            part = {**part, "inline_data": {"mime_type": inline.get("mime_type"), "blob": digest}}
        parts.append(part)
    return json.dumps({**content, "parts": parts}, default=_json_default, separators=(",", ":")), blobs


def hydrate(text: str, blobs: dict[str, bytes]) -> Content:
    content = json.loads(text)
    for part in content.get("parts") or ():
        inline = part.get("inline_data")
        if inline and "blob" in inline:
            inline["data"] = bytes(blobs[inline.pop("blob")])
    return content


def options_at(row: Any, offset: int, controls: str | None = None) -> Options:
    return Options(model=row[offset], aspect_ratio=row[offset + 1], image_size=row[offset + 2],
                   **(json.loads(controls) if controls else {}))


def controls_json(options: Options) -> str | None:
    """The options beyond model, ratio and size, as the JSON the `controls` columns keep (None when none is set)."""
    found = {name: getattr(options, name) for name in CONTROLS if getattr(options, name) is not None}
    return json.dumps(found, separators=(",", ":")) if found else None
