"""The image-model port: what the engine asks of a model (`GenerateRequest`), what it gets back (`Generation`), and
the protocol a model implements. No I/O here; `core.model` implements it on google-genai."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.events import OutputImage
from core.grounding import Grounding

Content = dict[str, Any]  # a Gemini Content in python mode: {"role": ..., "parts": [...]}, bytes as bytes


@dataclass(frozen=True)
class GenerateRequest:
    model: str
    history: list[Content]
    message: Content
    aspect_ratio: str | None = None
    image_size: str | None = None
    previous_interaction_id: str | None = None  # Gemini's stored chain to continue, when it can be used
    # With a chain to continue, the engine leaves `history` empty and hands this instead: the window is read
    # from the store only if the chain cannot be used after all.
    load_history: Callable[[], Awaitable[list[Content]]] | None = field(default=None, compare=False, repr=False)
    search: str | None = None  # "web" or "images": the Google Search tool with these search types
    thinking_level: str | None = None  # "minimal" | "high", only where the model has levels
    include_thoughts: bool = False  # ask for the thought text and interim thought images
    system_instruction: str | None = None  # the house style guidance of a server or channel

    async def window(self) -> list[Content]:
        """Our own bounded history before `message`."""
        return await self.load_history() if self.load_history is not None else self.history


@dataclass(frozen=True)
class Generation:
    content: Content  # the model's turn, verbatim (thought parts and signatures included), to store
    images: tuple[OutputImage, ...]
    text: str | None
    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    finish_reason: str | None = None
    thought_tokens: int = 0  # `thoughtsTokenCount`: billed as output, not part of `output_tokens`
    interaction_id: str | None = None  # set when Gemini stored this turn (Interactions API, store=true)
    grounding: Grounding | None = None
    thoughts: tuple[str, ...] = ()
    thought_images: tuple[OutputImage, ...] = ()


def thought_parts(content: Content) -> tuple[tuple[str, ...], tuple[OutputImage, ...]]:
    """The thought text and interim thought images of a stored model turn (parts marked `thought`)."""
    texts: list[str] = []
    images: list[OutputImage] = []
    for part in content.get("parts") or ():
        if not part.get("thought"):
            continue
        if part.get("text"):
            texts.append(part["text"])
        inline = part.get("inline_data")
        if inline and isinstance(inline.get("data"), bytes) and (inline.get("mime_type") or "").startswith("image/"):
            images.append(OutputImage(inline["data"], inline["mime_type"]))
    return tuple(texts), tuple(images)


@dataclass(frozen=True)
class ListedModel:
    """One entry of Gemini's models.list: an id without `models/`, and the methods it serves."""

    id: str
    display_name: str = ""
    methods: tuple[str, ...] = ()


class ImageModel(Protocol):
    async def generate(self, request: GenerateRequest) -> Generation:
        """One model call; raises a `Failure` describing any outcome without a usable answer."""
        ...

    async def list_models(self) -> list[ListedModel]:
        """Every model the API key may use (all pages); raises a `Failure` when Gemini cannot say."""
        ...

    async def upload(self, data: bytes, mime_type: str, name: str) -> str:
        """Put a large input (a video) where requests can refer to it; its URI, once it is ready to use."""
        ...

    async def aclose(self) -> None: ...


def content_size(content: Content) -> int:
    """Bytes of a Content: its inline data, and the text of every other part."""
    size = 0
    for part in content.get("parts") or ():
        inline = part.get("inline_data")
        size += len(inline["data"]) if inline and isinstance(inline.get("data"), bytes) else len(str(part))
    return size
