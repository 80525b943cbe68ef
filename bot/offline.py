"""The offline stand-in model: a local server that speaks Gemini's `generateContent` and Interactions API
(keeping the interactions it was asked to store) and draws the prompt.

`--offline` points the real google-genai client at it, so the whole bot (history, thought signatures, edits,
ratios and sizes, server-side chains, search grounding, thoughts) runs without a key. Edits paste the input
images into the picture. The test emulator builds on the same wire code (`parse_request`, `image_answer`,
`bot.offline_interactions`, `bot.offline_controls`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
import textwrap
from collections import Counter, OrderedDict
from typing import Any

from aiohttp import web
from PIL import Image, ImageDraw, ImageFont
from pydantic import ValidationError

from bot import offline_controls as controls
from bot import offline_interactions
from bot.offline_files import FilesService, file_uris
from bot.wire import WireError, WireRequest, parse_request, wire_content
from core import catalogue
from core.options import dimensions

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024 * 1024
THOUGHT_TOKENS = 180  # what a thinking model reports in `thoughtsTokenCount` for one image
# Models a key lists besides the image models (the real list holds dozens of text, embedding and audio models).
OTHER_MODELS = ("gemini-3.5-flash", "text-embedding-005")
KEPT_INTERACTIONS = 500  # the stand-in forgets the oldest stored interactions past this many
KEPT_TAKES = 10_000  # (prompt, turn) pairs whose redraws it counts, so rerolls and variants differ


def draw(
    prompt: str, width: int, height: int, inputs: list[bytes], base: bytes | None = None, row: int = 0, take: int = 0
) -> bytes:
    """A PNG of the prompt's words: over `base` (the picture being refined) or a colour taken from the words,
    with any input images pasted along the bottom; `row` moves the words down for each earlier turn; `take` (the
    same request drawn again: a reroll, the variants of a set) changes the colour, as Gemini's takes differ."""
    seed = hashlib.sha256(prompt.encode() + (f"#{take}".encode() if take else b"")).digest()
    image = Image.new("RGB", (width, height), (seed[0] // 2 + 64, seed[1] // 2 + 64, seed[2] // 2 + 64))
    if base is not None:
        try:
            with Image.open(io.BytesIO(base)) as previous:
                image.paste(previous.convert("RGB").resize((width, height)))
            tint = Image.new("RGB", (width, height), (seed[0], seed[1], seed[2]))
            image = Image.blend(image, tint, 0.25)  # each refinement visibly changes the picture
        except Exception:  # the stand-in draws what it can
            log.debug("could not use the previous image")
    if inputs:
        slot = (width // len(inputs), height // 2)
        for i, data in enumerate(inputs):
            try:
                with Image.open(io.BytesIO(data)) as pasted:
                    pasted.thumbnail(slot)
                    image.paste(pasted.convert("RGB"), (i * slot[0], height - pasted.height))
            except Exception:  # the bot validated inputs already
                log.debug("could not paste input %d", i)
    pen = ImageDraw.Draw(image)
    font_size = max(12, min(width, height) // 16)
    font = ImageFont.load_default(size=font_size)
    lines = textwrap.wrap(prompt or "(no prompt)", width=max(8, width // max(8, min(width, height) // 28)))[:3]
    step = font_size * 2  # a line and a gap per earlier turn, wrapping back to the top
    top = height // 20 + (row * step) % max(step, height - 2 * step)
    pen.multiline_text((width // 20, top), "\n".join(lines), fill=(255, 255, 255), font=font,
                       stroke_width=2, stroke_fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def image_answer(
    png: bytes, text: str, *, model: str, response_id: str, signature: bytes | None, tokens: int = 1290,
    thoughts: int = 0,
) -> dict[str, Any]:
    """A successful `generateContent` answer holding one image (and a thought signature for a thinking model)."""
    image_part: dict[str, Any] = {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}}
    parts: list[dict[str, Any]] = []
    if signature is not None:
        parts.append({"text": "Planning the composition.", "thought": True})
        image_part["thoughtSignature"] = base64.b64encode(signature).decode()
    parts += [{"text": text}, image_part]
    usage = {"promptTokenCount": 12, "candidatesTokenCount": tokens, "totalTokenCount": 12 + tokens + thoughts}
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": response_id,
    }


def error_answer(code: int, status: str, message: str, retry_after: float | None = None) -> web.Response:
    response = web.json_response({"error": {"code": code, "message": message, "status": status}}, status=code)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _auth(request: web.Request) -> str | None:
    return request.headers.get("x-goog-api-key") or request.headers.get("Authorization")


def model_entry(model_id: str) -> dict[str, Any]:
    """One `models.list` entry, as Gemini's `Model` resource."""
    row = catalogue.lookup(model_id)
    return {
        "name": f"models/{model_id}",
        "version": "001",
        "displayName": row.label if row else model_id,
        "inputTokenLimit": 65536 if row else 1048576,
        "outputTokenLimit": 32768,
        "supportedGenerationMethods": ["generateContent", "countTokens", "batchGenerateContent"],
        "thinking": bool(row and row.thinks),
    }


class GeminiStandIn:
    """A Gemini server on 127.0.0.1: generateContent and the Interactions API, on the Gemini API's paths and
    Vertex AI's. `await start()` returns its base URL; `await stop()`."""

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.calls = 0
        # the image models this "key" may use: every catalogue model still running; a model not here answers 404
        self.offered = [m.id for m in catalogue.MODELS.values() if m.status != catalogue.RETIRED]
        self.page_size = 50  # models.list's default page size; the caller's pageSize wins when smaller

        self.interactions: OrderedDict[str, tuple[str, list[dict[str, Any]]]] = OrderedDict()
        self._next_id = 0
        self.files = FilesService()  # the Files API: resumable uploads, referred to by URI
        self._takes: Counter[tuple[str, int]] = Counter()  # how often a prompt was drawn at a point of a thread

    async def start(self) -> str:
        app = web.Application(client_max_size=MAX_BODY)
        for prefix in ("/{version}", "/{version}/publishers/google", "/{version}/projects/{p}/locations/{l}",
                       "/{version}/projects/{p}/locations/{l}/publishers/google"):
            app.router.add_post(prefix + "/models/{model}:generateContent", self._handle)
        for prefix in ("/{version}", "/{version}/projects/{p}/locations/{l}"):
            app.router.add_post(prefix + "/interactions", self._interact)
        app.router.add_get("/{version}/models", self._list)
        self.files.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        self.files.base_url = self.base_url
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        received = asyncio.get_running_loop().time()  # the model's time starts here: its parsing is its own work
        wire = parse_request(request.match_info["model"], body)
        self.calls += 1
        wire.path, wire.auth = request.path, _auth(request)
        try:
            answer = await self.serve(wire)
            if isinstance(answer, WireError):
                return error_answer(answer.code, answer.status, answer.message, answer.retry_after)
            return web.json_response(answer)
        finally:
            await self.settle(received)

    def not_offered(self, model: str) -> WireError | None:
        if model in self.offered:
            return None
        return WireError(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta, or is not "
                                           "supported for generateContent.", code_name="model_not_found")

    async def _list(self, request: web.Request) -> web.Response:
        """`GET /{version}/models?pageSize=N&pageToken=T`: the offered models, a page at a time."""
        names = [*self.offered, *OTHER_MODELS]
        try:
            start = int(request.query.get("pageToken") or 0)
            size = min(self.page_size, int(request.query.get("pageSize") or self.page_size))
        except ValueError:
            return error_answer(400, "INVALID_ARGUMENT", "Invalid page token or page size.")
        body: dict[str, Any] = {"models": [model_entry(name) for name in names[start:start + size]]}
        if start + size < len(names):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    async def _interact(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        received = asyncio.get_running_loop().time()  # the model's time starts here: its parsing is its own work
        try:
            wire = offline_interactions.parse_interaction(body, request.path)
        except ValidationError as exc:
            return offline_interactions.interaction_error(WireError(400, "INVALID_ARGUMENT", str(exc)[:500]))
        self.calls += 1
        wire.auth = _auth(request)
        try:
            answer = await self.serve(wire)
            if isinstance(answer, WireError):
                return offline_interactions.interaction_error(answer)
            self._next_id += 1
            interaction_id = f"interaction-{self._next_id}"
            if wire.store:
                self._keep(interaction_id, wire, answer)
            return web.json_response(
                offline_interactions.interaction_answer(answer, interaction_id=interaction_id, wire=wire)
            )
        finally:
            await self.settle(received)

    def _keep(self, interaction_id: str, wire: WireRequest, answer: dict[str, Any]) -> None:
        candidate = (answer.get("candidates") or [{}])[0]
        model_turn = wire_content(candidate.get("content") or {"role": "model", "parts": []})
        self.interactions[interaction_id] = (wire.model, [*wire.contents, model_turn])
        while len(self.interactions) > KEPT_INTERACTIONS:
            self.interactions.popitem(last=False)

    async def settle(self, received: float) -> None:
        """Called with each answer ready to send; the test emulator waits here for its scripted latency."""

    async def serve(self, wire: WireRequest) -> dict[str, Any] | WireError:
        """The answer to one request, generateContent-shaped; an Interactions request continues its chain."""
        if (gone := self.not_offered(wire.model)) is not None:
            return gone
        if (refused := controls.refusal(wire)) is not None:
            return refused
        if wire.previous_interaction_id is not None:
            if not wire.store:
                return WireError(400, "INVALID_ARGUMENT", "previous_interaction_id cannot be used with store=false.")
            chain = self.interactions.get(wire.previous_interaction_id)
            if chain is None:
                return WireError(404, "NOT_FOUND", f"Interaction '{wire.previous_interaction_id}' was not found.",
                                 code_name="not_found")
            wire.contents = [*chain[1], *wire.contents]
        unknown = [uri for uri in file_uris(wire.contents) if not self.files.knows(uri)]
        if unknown:
            return WireError(400, "INVALID_ARGUMENT", f"File {unknown[0]} does not exist or has expired.")
        return await self.answer(wire)

    async def answer(self, wire: WireRequest) -> dict[str, Any] | WireError:
        """Draw the prompt at the size Gemini would; subclasses script other answers."""
        width, height = dimensions(wire.aspect_ratio, wire.image_size)
        # an edit pastes its input images; a refinement draws over the picture it refines
        turns = sum(1 for content in wire.contents[:-1] if content.get("role") == "model")
        if len(self._takes) > KEPT_TAKES:  # a long-running stand-in forgets old prompts rather than grow
            self._takes.clear()
        take = self._takes[(wire.prompt, turns)]
        self._takes[(wire.prompt, turns)] += 1
        png = await asyncio.to_thread(
            draw, wire.prompt, width, height, wire.input_images, wire.previous_image, turns, take
        )
        return self.image_response(png, wire)

    def image_response(self, png: bytes, wire: WireRequest) -> dict[str, Any]:
        response_id = f"offline-{self.calls}"
        model = catalogue.capabilities(wire.model)
        # a signature names the model that issued it: another model refuses it, as Gemini does
        signature = f"sig:{wire.model}:{response_id}".encode() if model.thinks else None
        text = f"Offline stand-in: {' '.join(wire.prompt.split())[:80]}" if wire.prompt else "Offline stand-in"
        tokens = model.image_tokens.get(wire.image_size or "1K", 1290)
        answer = image_answer(png, text, model=wire.model, response_id=response_id, signature=signature,
                              tokens=tokens, thoughts=THOUGHT_TOKENS if model.thinks else 0)
        return controls.enrich(answer, wire, self.grounding(wire))

    def grounding(self, wire: WireRequest) -> dict[str, Any] | None:
        """The `groundingMetadata` of an answer to a request with the Google Search tool (the emulator scripts it)."""
        return controls.grounding(wire) if wire.search else None
