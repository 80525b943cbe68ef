"""The controls as the offline stand-in (and the test emulator) answers them: a request with the Google Search tool
gets `groundingMetadata`, one asking for thoughts gets thought text and two interim thought images before the
final image, and a model is refused a tool or a thinking level it does not have, as Gemini refuses it."""

from __future__ import annotations

import base64
import io
from typing import Any
from urllib.parse import quote

from PIL import Image, ImageDraw

from bot.wire import WireError, WireRequest
from core import catalogue

THOUGHT_TEXT = ("Working out the composition first.", "Checking the details against the request.")


def refusal(wire: WireRequest) -> WireError | None:
    model = catalogue.capabilities(wire.model)
    if wire.search and not model.web_search:
        return WireError(400, "INVALID_ARGUMENT", f"Search as tool is not enabled for models/{wire.model}.")
    if "images" in wire.search and not model.image_search:
        return WireError(400, "INVALID_ARGUMENT", f"Image search is not supported for models/{wire.model}.")
    if wire.thinking_level and wire.thinking_level not in model.thinking_levels:
        return WireError(400, "INVALID_ARGUMENT", f"Thinking level is not supported for models/{wire.model}.")
    return None


def grounding(wire: WireRequest) -> dict[str, Any]:
    """Made-up but well-formed grounding: a query from the prompt, a web page, and for image search an image whose
    containing page differs from the image file."""
    query = wire.prompt.split(". ")[0].rstrip(".")[:60] or "image"  # the user's words, not the bot's instructions
    slug = quote(query.replace(" ", "-").lower())
    metadata: dict[str, Any] = {
        "webSearchQueries": [query],
        "groundingChunks": [{"web": {"uri": f"https://example.org/pages/{slug}", "title": f"About {query}"}}],
        "searchEntryPoint": {"renderedContent": f"<div class=\"chips\">{query}</div>"},
    }
    if "images" in wire.search:
        metadata["imageSearchQueries"] = [f"{query} photo"]
        metadata["groundingChunks"].append({"image": {
            "sourceUri": f"https://example.net/gallery/{slug}", "imageUri": f"https://img.example.net/{slug}.jpg",
            "title": f"Gallery: {query}", "domain": "example.net",
        }})
    return metadata


def enrich(answer: dict[str, Any], wire: WireRequest, metadata: dict[str, Any] | None) -> dict[str, Any]:
    candidate = answer["candidates"][0]
    if metadata is not None:
        candidate["groundingMetadata"] = metadata
    if wire.include_thoughts and catalogue.capabilities(wire.model).thinks:
        parts = candidate["content"]["parts"]
        final = next(i for i, p in enumerate(parts) if "inlineData" in p and not p.get("thought"))
        interim = [{"inlineData": {"mimeType": "image/png", "data": _sketch(n)}, "thought": True} for n in (1, 2)]
        thoughts = [{"text": THOUGHT_TEXT[1], "thought": True}]
        if not any(p.get("thought") and p.get("text") for p in parts):
            thoughts.insert(0, {"text": THOUGHT_TEXT[0], "thought": True})
        candidate["content"]["parts"] = parts[:final] + thoughts + interim + parts[final:]
    return answer


def _sketch(n: int) -> str:
    """A small grey draft numbered `n` (base64 PNG): the interim image a thinking model shows before its final."""
    image = Image.new("RGB", (96, 96), (200 - 40 * n, 200 - 40 * n, 200 - 40 * n))
    ImageDraw.Draw(image).text((8, 40), f"draft {n}", fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()
