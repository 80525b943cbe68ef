"""The Gemini wire as the offline stand-in (and the test emulator built on it) reads it: a request decoded from
either endpoint's JSON into one shape, and an error answer before it is rendered in an endpoint's own JSON."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any


def b64decode(value: str) -> bytes:
    """Either base64 alphabet, padded or not (google-genai sends URL-safe)."""
    value = value.replace("-", "+").replace("_", "/")
    return base64.b64decode(value + "=" * (-len(value) % 4))


@dataclass
class WireRequest:
    """What a `generateContent` call asked for, with inline bytes decoded."""

    model: str
    contents: list[dict[str, Any]]
    aspect_ratio: str | None
    image_size: str | None
    body_bytes: int
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    api: str = "generate_content"  # or "interactions"
    path: str = ""
    previous_interaction_id: str | None = None
    store: bool = True
    sent: int = 0  # contents in the body itself; `contents` also holds a continued chain's stored turns
    auth: str | None = None  # how the client authenticated: its API key header or `Bearer …`
    search: tuple[str, ...] = ()  # the Google Search tool's search types: ("web",) or ("web", "images")
    thinking_level: str | None = None  # lower case, as either endpoint spells it
    include_thoughts: bool = False
    system_instruction: str | None = None

    @property
    def message(self) -> dict[str, Any]:
        return self.contents[-1] if self.contents else {"parts": []}

    @property
    def prompt(self) -> str:
        return " ".join(p["text"] for p in self.message.get("parts", []) if p.get("text")).strip()

    @property
    def previous_image(self) -> bytes | None:
        """The newest image the model made earlier in this conversation."""
        for content in reversed(self.contents[:-1]):
            for part in reversed(content.get("parts", [])):
                if content.get("role") == "model" and "inline_data" in part and not part.get("thought"):
                    return part["inline_data"]["data"]
        return None

    @property
    def input_images(self) -> list[bytes]:
        return [p["inline_data"]["data"] for p in self.message.get("parts", []) if "inline_data" in p]


@dataclass(frozen=True)
class WireError:
    """An HTTP error answer; each endpoint renders it in its own JSON shape."""

    code: int
    status: str
    message: str
    retry_after: float | None = None
    code_name: str | None = None  # the Interactions API's string code, when not the usual one for `code`


def wire_content(content: dict[str, Any]) -> dict[str, Any]:
    """A camelCase or snake_case JSON Content in python mode: inline bytes decoded, signatures as sent."""
    parts = []
    for part in content.get("parts", []):
        part = dict(part)
        inline = part.pop("inlineData", None) or part.pop("inline_data", None)
        if inline is not None:
            part["inline_data"] = {
                "mime_type": inline.get("mimeType", inline.get("mime_type")),
                "data": b64decode(inline.get("data", "")),
            }
        signature = part.pop("thoughtSignature", None) or part.pop("thought_signature", None)
        if signature is not None:
            part["thought_signature"] = signature
        parts.append(part)
    return {"role": content.get("role"), "parts": parts}


def _pick(obj: dict[str, Any], camel: str, snake: str) -> Any:
    """google-genai sends converter-built keys in camelCase and copied objects in snake_case: read both."""
    return obj.get(camel, obj.get(snake))


def search_types(tools: list[dict[str, Any]] | None) -> tuple[str, ...]:
    """generateContent's `tools` → the Google Search types asked for (web is the default of a bare tool)."""
    for tool in tools or ():
        search = _pick(tool, "googleSearch", "google_search")
        if search is not None:
            kinds = _pick(search, "searchTypes", "search_types") or {}
            image = _pick(kinds, "imageSearch", "image_search") is not None
            return ("web", "images") if image else ("web",)
    return ()


def parse_request(model: str, body: bytes) -> WireRequest:
    raw = json.loads(body)
    contents = [wire_content(content) for content in raw.get("contents", [])]
    config = raw.get("generationConfig") or {}
    image_config = config.get("imageConfig") or config.get("image_config") or {}
    thinking = _pick(config, "thinkingConfig", "thinking_config") or {}
    system = _pick(raw, "systemInstruction", "system_instruction")
    return WireRequest(
        model=model,
        contents=contents,
        aspect_ratio=image_config.get("aspectRatio", image_config.get("aspect_ratio")),
        image_size=image_config.get("imageSize", image_config.get("image_size")),
        body_bytes=len(body),
        raw=raw,
        sent=len(contents),
        search=search_types(raw.get("tools")),
        thinking_level=(str(_pick(thinking, "thinkingLevel", "thinking_level") or "").lower() or None),
        include_thoughts=bool(_pick(thinking, "includeThoughts", "include_thoughts")),
        system_instruction=" ".join(p.get("text", "") for p in (system or {}).get("parts", [])).strip() or None,
    )
