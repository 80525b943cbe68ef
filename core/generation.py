"""The image-model port: what the engine asks of a model (`GenerateRequest`), what it gets back (`Generation`), and
the protocol a model implements. No I/O here; `core.model` implements it on google-genai."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.events import OutputImage

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
