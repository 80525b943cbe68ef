"""The conversation engine: `Engine.handle(event) -> Reply`.

It owns history (bounded by a turn window and a byte budget), runs one turn at a time per thread, caps the calls
in flight to the model, and keeps the user's request before anything that can fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from core import images, options
from core.events import (
    BadInput,
    EditImages,
    Event,
    Failure,
    Forget,
    ImageInput,
    ModelUnavailable,
    NextTurn,
    NotFound,
    Options,
    ProgressCallback,
    Reply,
    Reroll,
    StartThread,
    ThreadKey,
    User,
)
from core.model import Content, GenerateRequest, ImageModel
from core.progress import Reporter
from core.queue import FairQueue
from core.store import Store, ThreadRecord, Usage

log = logging.getLogger(__name__)

MiB = 1024 * 1024
REQUEST_LIMIT = 20 * MiB  # Gemini's limit on a whole inline request
# Raw bytes per request: base64 inflates by 4/3, so 14 MiB of images and JSON stays near 18.7 MiB on the wire.
RAW_BUDGET = 14 * MiB
INPUT_BUDGET = 7 * MiB  # the new message's images, together; the rest of RAW_BUDGET is for history
UPSCALE_PROMPT = (
    "Render exactly the same image again at a higher resolution. Change nothing: same composition, subjects, "
    "colours, style and text."
)


@dataclass(frozen=True)
class EngineConfig:
    default_model: str = "gemini-2.5-flash-image"
    history_turns: int = 6
    max_concurrency: int = 4
    max_waiting: int = 100
    raw_budget: int = RAW_BUDGET
    progress_interval: float = 5.0


class Engine:
    def __init__(self, store: Store, model: ImageModel, config: EngineConfig) -> None:
        self._store = store
        self._model = model
        self._config = config
        self.queue = FairQueue(config.max_concurrency, config.max_waiting)
        self._locks: dict[ThreadKey, tuple[asyncio.Lock, list[int]]] = {}

    @property
    def store(self) -> Store:
        return self._store

    async def handle(
        self, event: Event, *, progress: ProgressCallback | None = None, ticket: str | None = None
    ) -> Reply:
        """Answer one event: a result, or a Reply whose failure says why not. Never raises a Failure.

        `progress` hears where the request stands while it waits and runs; `ticket` lets `cancel` withdraw it.
        """
        key = getattr(event, "key", None)
        request = _Request(progress, ticket)
        try:
            match event:
                case StartThread() | EditImages():
                    return await self._start(event, request)
                case NextTurn():
                    return await self._next(event, request)
                case Reroll():
                    return await self._reroll(event, request)
                case Forget():
                    return await self._forget(event)
        except Failure as failure:
            return Reply(key=key, failure=failure)
        raise TypeError(f"unknown event {event!r}")

    def cancel(self, ticket: str) -> bool:
        """Withdraw a request that is still waiting in the queue; False once it has started (or is unknown)."""
        return self.queue.cancel(ticket)

    async def has_thread(self, key: ThreadKey) -> bool:
        return await self._store.get_thread(key) is not None

    # events ------------------------------------------------------------------------------------------

    async def _start(self, event: StartThread | EditImages, request: _Request) -> Reply:
        if not event.prompt.strip():
            raise BadInput(
                "The prompt is empty. Describe the image you want, for example `/imagine a red fox in the snow`."
                if isinstance(event, StartThread) else "Say what to change, for example `make it night`."
            )
        chosen = options.check(event.options, self._config.default_model)
        message = await self._message(event.prompt, event.images, chosen)
        async with self._thread_lock(event.key):
            thread = await self._store.save_thread(event.key, chosen, event.user.id)
            return await self._run(thread, event.user, event.prompt, chosen, message, request)

    async def _next(self, event: NextTurn, request: _Request) -> Reply:
        if not event.text.strip() and not event.images:
            raise BadInput("That message is empty. Say what to change, or attach an image.")
        async with self._thread_lock(event.key):
            thread = await self._store.get_thread(event.key)
            if thread is None:
                raise NotFound("This conversation is not stored. Start a new one with /imagine.")
            chosen = options.check(event.options.over(thread.options), self._config.default_model)
            message = await self._message(event.text, event.images, chosen)
            if chosen != thread.options:  # flags on a later message change the thread from here on
                thread = await self._store.save_thread(event.key, chosen, thread.created_by)
            return await self._run(thread, event.user, event.text, chosen, message, request)

    async def _reroll(self, event: Reroll, request: _Request) -> Reply:
        turn = await self._store.get_turn(event.turn_id)
        if turn is None:
            raise NotFound("That image's conversation was cleared (/forget) or no longer exists.")
        async with self._thread_lock(turn.thread.key):
            if event.image_size:
                bigger = Options(image_size=event.image_size).over(turn.options)
                chosen = options.check(bigger, self._config.default_model)
                message: Content = {"role": "user", "parts": [{"text": UPSCALE_PROMPT}]}
                return await self._run(turn.thread, event.user, turn.prompt, chosen, message, request, turn.id + 1)
            return await self._run(turn.thread, event.user, turn.prompt, turn.options, turn.request, request, turn.id)

    async def _forget(self, event: Forget) -> Reply:
        async with self._thread_lock(event.key):
            thread = await self._store.get_thread(event.key)
            if thread is None:
                raise NotFound("There is no stored conversation here to forget.")
            removed = await self._store.forget(thread.id)
        return Reply(
            key=event.key,
            options=thread.options,
            notices=(f"Forgot this conversation ({removed} turns). The next message starts fresh.",),
        )

    # the turn itself ---------------------------------------------------------------------------------

    async def _message(self, text: str, inputs: tuple[ImageInput, ...], chosen: Options) -> Content:
        """The user's turn as Gemini Content, images validated and shrunk off the event loop."""
        assert chosen.model is not None
        options.check_inputs(len(inputs), chosen.model)
        spec = options.resolve_model(chosen.model)
        prepared = await asyncio.to_thread(_prepare_all, inputs, spec.max_input_edge)
        parts: list[dict] = [{"text": text.strip()}] if text.strip() else []
        parts += [{"inline_data": {"mime_type": mime, "data": data}} for data, mime in prepared]
        return {"role": "user", "parts": parts}

    async def _run(
        self, thread: ThreadRecord, user: User, prompt: str, chosen: Options, message: Content, request: _Request,
        before: int | None = None,
    ) -> Reply:
        assert chosen.model is not None
        turn_id = await self._store.add_turn(thread, user.id, prompt, chosen, message)
        reply = Reply(key=thread.key, turn_id=turn_id, options=chosen, prompt=prompt)
        try:
            budget = self._config.raw_budget - _content_size(message)
            history = await self._store.history(
                thread.id, before or turn_id, self._config.history_turns, max(0, budget)
            )
            call = GenerateRequest(chosen.model, history, message, chosen.aspect_ratio, chosen.image_size)
            reporter = Reporter(request.progress, self._config.progress_interval)
            async with reporter.running():
                owner = f"{thread.key.platform}:{user.id}"
                async with self.queue.slot(owner, ticket=request.ticket, notify=reporter.queued):
                    reporter.generating()
                    result = await self._model.generate(call)
        except Failure as failure:
            await self._store.fail_turn(turn_id, failure.kind)
            return replace(reply, failure=failure)
        except Exception:
            log.exception("turn %s failed unexpectedly", turn_id)
            await self._store.fail_turn(turn_id, "internal")
            return replace(reply, failure=ModelUnavailable("Something broke on the bot's side; try again."))
        await self._store.complete_turn(turn_id, result.content)
        await self._store.record_usage(
            Usage(thread.key, user.id, chosen.model, chosen.image_size, result.prompt_tokens,
                  result.output_tokens, result.total_tokens, len(result.images))
        )
        notices = () if result.images else (
            "Gemini answered in words only. Ask for a picture, for example `draw it` or `generate an image of …`.",
        )
        return replace(reply, images=result.images, text=result.text, notices=notices)

    @asynccontextmanager
    async def _thread_lock(self, key: ThreadKey) -> AsyncIterator[None]:
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:  # no one waits: drop it so the dict does not grow with every thread ever seen
                del self._locks[key]


@dataclass(frozen=True)
class _Request:
    progress: ProgressCallback | None = None
    ticket: str | None = None


def _prepare_all(inputs: tuple[ImageInput, ...], max_edge: int) -> list[tuple[bytes, str]]:
    each = INPUT_BUDGET // max(1, len(inputs))
    return [images.prepare(image.data, image.name, max_edge, each) for image in inputs]


def _content_size(content: Content) -> int:
    size = 0
    for part in content.get("parts") or ():
        inline = part.get("inline_data")
        size += len(inline["data"]) if inline and isinstance(inline.get("data"), bytes) else len(str(part))
    return size
