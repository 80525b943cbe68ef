"""A scriptable Gemini emulator on 127.0.0.1 that the real google-genai client talks to.

It speaks `POST /{version}/models/{model}:generateContent`, the Interactions API (`POST /{version}/interactions`, in
the SDK's own types; stored interactions can be forgotten, and a model can be refused as unsupported there), on the
Gemini API's paths and Vertex AI's, and `GET /{version}/models` (models.list, paged; which models are offered is
`offered`, and any other model answers 404). It records every request (decoded), can script latency, HTTP errors,
prompt blocks, safety finishes and text-only answers on both endpoints, and checks thought signatures on the way back
as Gemini 3 models do: a model turn re-sent without the signature it was given, or with a signature that another
model issued, is refused with a 400. The controls come from the stand-in (`bot.offline_controls`): each request
records its Google Search types, thinking level, `includeThoughts` and system instruction; a search is answered
with grounding, thoughts with thought text and two draft images before the final one, and a tool or thinking
level the model lacks with a 400.

Tests that need requests to overlap close the gate (`hold()`), wait until `held` says the requests are there, and
`release()` them: ordering by a gate, not by guessing with latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from bot.offline import GeminiStandIn, error_answer
from bot.wire import WireError, WireRequest, b64decode, parse_request
from core.catalogue import capabilities


@dataclass(frozen=True)
class Status:
    """Answer with an HTTP error in Gemini's JSON shape."""

    code: int
    status: str = ""
    message: str = "scripted error"
    retry_after: float | None = None
    interactions_code: str | None = None  # the Interactions API's string code, when not the usual one for `code`


@dataclass(frozen=True)
class Block:
    """A prompt block: `promptFeedback.blockReason`."""

    reason: str = "SAFETY"


@dataclass(frozen=True)
class Finish:
    """A candidate that ends with this finish reason and no content."""

    reason: str = "IMAGE_SAFETY"


@dataclass(frozen=True)
class TextOnly:
    text: str = "I can describe it, but here is no picture."


_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

Scripted = Status | Block | Finish | TextOnly

GATE_LIMIT_S = 30.0  # a request held longer than any test runs answers 504, naming the gate, instead of hanging


class GeminiEmulator(GeminiStandIn):
    def __init__(
        self,
        latency: float = 0.0,
        image: Callable[[WireRequest], bytes] | None = None,
        check_signatures: bool = True,
        keep_requests: bool = True,
    ) -> None:
        super().__init__()
        self.latency = latency
        self.image = image
        self.check_signatures = check_signatures
        self.keep_requests = keep_requests
        self.sizes: list[int] = []  # every request's body size, kept even when the requests are not
        self.script: deque[Scripted] = deque()
        self.requests: list[WireRequest] = []
        # sha256 of an image we returned -> (model, signature) given with it (one image may be drawn twice)
        self.signatures: dict[str, set[tuple[str, bytes]]] = {}
        self.refuse_interactions: set[str] = set()  # models the Interactions endpoint refuses as unsupported
        self.in_flight = 0
        self.max_in_flight = 0
        self.list_calls = 0  # models.list requests (pages), not counted in `calls`
        self.list_error: Status | None = None  # answer models.list with this error instead
        self._holding = False
        self._held: deque[asyncio.Future[None]] = deque()
        self._stopping = asyncio.Event()

    def push(self, *items: Scripted) -> None:
        self.script.extend(items)

    async def _list(self, request: web.Request) -> web.Response:
        self.list_calls += 1
        if self.list_error is not None:
            item = self.list_error
            return error_answer(item.code, item.status or _STATUS_NAMES.get(item.code, "UNKNOWN"), item.message)
        return await super()._list(request)

    @property
    def held(self) -> int:
        """Requests waiting at the closed gate (received and recorded, not yet answered)."""
        return len(self._held)

    def hold(self) -> None:
        """Close the gate: from now on every request waits, after it is recorded, until `release()` lets it on."""
        self._holding = True

    def release(self, count: int | None = None) -> None:
        """Let `count` held requests on, oldest first, keeping the gate closed; no count: all of them, and open it."""
        if count is None:
            self._holding = False
            count = len(self._held)
        if count > len(self._held):
            raise AssertionError(f"release({count}): only {len(self._held)} requests are held")
        for _ in range(count):
            self._held.popleft().set_result(None)

    async def stop(self) -> None:
        # let every held or slow answer go first, so the server's shutdown has no handler left to wait for
        self._stopping.set()
        self.release()
        await super().stop()

    async def _gate(self) -> WireError | None:
        if not self._holding or self._stopping.is_set():
            return None
        ticket = asyncio.get_running_loop().create_future()
        self._held.append(ticket)
        try:
            await asyncio.wait_for(ticket, GATE_LIMIT_S)
        except TimeoutError:
            return WireError(504, "DEADLINE_EXCEEDED", f"held at the emulator's gate for {GATE_LIMIT_S:.0f} s")
        finally:
            if ticket in self._held:
                self._held.remove(ticket)
        return None

    def forget(self, *ids: str) -> None:
        """Expire stored interactions (all of them when no id is given), as Gemini does after its retention."""
        for interaction_id in ids or list(self.interactions):
            self.interactions.pop(interaction_id, None)

    async def serve(self, wire: WireRequest) -> dict | WireError:
        self.sizes.append(wire.body_bytes)
        if self.keep_requests:
            self.requests.append(wire)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        refused = await self._gate()
        if refused is not None:
            return refused
        if wire.api == "interactions" and wire.model in self.refuse_interactions:
            return WireError(400, "INVALID_ARGUMENT", f"Model {wire.model} is not supported by the Interactions API.")
        return await super().serve(wire)

    async def settle(self, received: float) -> None:
        """`latency` is the model's time from a received request to its answer, its own work included."""
        try:
            remaining = self.latency - (asyncio.get_running_loop().time() - received)
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), remaining)
        finally:
            self.in_flight -= 1

    async def answer(self, wire: WireRequest) -> dict | WireError:
        if self.script:
            item = self.script.popleft()
            if isinstance(item, Status):
                status = item.status or _STATUS_NAMES.get(item.code, "UNKNOWN")
                return WireError(item.code, status, item.message, item.retry_after, item.interactions_code)
            if isinstance(item, Block):
                return {"promptFeedback": {"blockReason": item.reason}, "modelVersion": wire.model}
            if isinstance(item, Finish):
                return {"candidates": [{"finishReason": item.reason, "index": 0}]}
            return {
                "candidates": [
                    {"content": {"role": "model", "parts": [{"text": item.text}]}, "finishReason": "STOP", "index": 0}
                ],
                "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 9, "totalTokenCount": 14},
            }
        if self.check_signatures and capabilities(wire.model).thinks:
            missing = self._missing_signature(wire)
            if missing:
                return WireError(400, "INVALID_ARGUMENT", missing)
        if self.image is None:
            return await super().answer(wire)
        png = await asyncio.to_thread(self.image, wire)
        return self.image_response(png, wire)

    def image_response(self, png: bytes, wire: WireRequest) -> dict:
        answer = super().image_response(png, wire)
        for part in answer["candidates"][0]["content"]["parts"]:
            if "inlineData" in part and "thoughtSignature" in part:
                self.signatures.setdefault(hashlib.sha256(png).hexdigest(), set()).add(
                    (wire.model, b64decode(part["thoughtSignature"]))
                )
        return answer

    def _missing_signature(self, wire: WireRequest) -> str | None:
        """Gemini 3 refuses an edit whose history lost the signature of an image it made, or carries a signature
        it did not issue (another model's); an image another model made is accepted without one."""
        for turn, content in enumerate(wire.contents[:-1]):
            for part in content["parts"]:
                given = part.get("thought_signature")
                if content.get("role") != "model" or (part.get("inline_data") is None and given is None):
                    continue
                inline = part.get("inline_data")
                issued = self.signatures.get(hashlib.sha256(inline["data"]).hexdigest(), set()) if inline else set()
                ours = {signature for model, signature in issued if model == wire.model}
                if given is not None and b64decode(given) not in ours:
                    return f"Content {turn} has a thought_signature that {wire.model} did not issue."
                if given is None and ours:
                    return f"Image part in content {turn} is missing a thought_signature (or it was altered)."
        return None


__all__ = ["Block", "Finish", "GeminiEmulator", "Status", "TextOnly", "WireRequest", "parse_request"]


def unique_png(base: bytes, n: int) -> bytes:
    """`base` with a text chunk naming `n` after its header: a distinct image of the same size, made for free."""
    import struct
    import zlib

    chunk = b"tEXt" + b"n\x00" + str(n).encode()
    packed = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return base[:33] + packed + base[33:]  # 8-byte signature + 25-byte IHDR chunk


def photo_like_png(kib: int) -> bytes:
    """A 1024×1024 PNG of about `kib` KiB: noise over part of it, flat elsewhere (a photo compresses similarly)."""
    import io
    import random

    from PIL import Image

    rows = max(1, min(1024, kib * 1024 // (1024 * 3)))
    image = Image.new("RGB", (1024, 1024), (90, 120, 160))
    image.paste(Image.frombytes("RGB", (1024, rows), random.Random(1).randbytes(1024 * rows * 3)), (0, 0))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def main() -> None:
    """`python -m tests.emulators.gemini [--latency S] [--image-kib N]`: serve until stdin closes (benchmarks)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--image-kib", type=int, default=0, help="answer with distinct 1K images of about this size")
    args = parser.parse_args()

    async def serve() -> None:
        base = photo_like_png(args.image_kib) if args.image_kib else None
        emulator = GeminiEmulator(latency=args.latency, check_signatures=False, keep_requests=False,
                                  image=(lambda wire: unique_png(base, len(emulator.sizes))) if base else None)
        print(await emulator.start(), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await emulator.stop()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
