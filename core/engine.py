"""The conversation engine: `Engine.handle(event) -> Reply`.

It owns history (bounded by a turn window and a byte budget), runs one turn at a time per thread, caps the calls
in flight to the model, and keeps the user's request before anything that can fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial

from core import canvas, story, turns, variants
from core.asks import AdapterAsks
from core.backlog import STORE_ERRORS, Backlog
from core.budget import Accountant, Limits, usage_report
from core.calls import PAUSE_POLL_S, ModelCalls
from core.compose import Composer
from core.controls import Controls
from core.costs import Prices
from core.engine_config import EngineConfig
from core.events import (
    ChangeSetting,
    EditImages,
    Event,
    Forget,
    ImageInput,
    ListModels,
    ListStyles,
    NextTurn,
    Options,
    PartCallback,
    ProgressCallback,
    Reply,
    Reroll,
    RerollSet,
    ShowSettings,
    ShowThoughts,
    ShowUsage,
    StartStory,
    StartThread,
    ThreadKey,
    User,
    UseVariant,
    Workflow,
    told,
)
from core.failures import (
    BadInput,
    Failure,
    Forbidden,
    Interrupted,
    ModelGone,
    ModelUnavailable,
    NotFound,
    StoreUnavailable,
)
from core.generation import Content, GenerateRequest, Generation, ImageModel, content_size
from core.lineup import Lineup
from core.listing import model_lines
from core.observe import Observer
from core.pixels import PixelBudget
from core.policy import Policy
from core.queue import FairQueue
from core.runner import Composed, Request, Tickets
from core.store import Store, ThreadRecord

log = logging.getLogger(__name__)

STORE_FAILED = (
    "The bot's database could not be read or written just now (busy, or its disk is full), so nothing was sent to "
    "Gemini. Try again in a minute; if it keeps happening, tell the operator."
)
UPSCALE_PROMPT = (
    "Render exactly the same image again at a higher resolution. Change nothing: same composition, subjects, "
    "colours, style and text."
)


class Engine(AdapterAsks, ModelCalls):
    def __init__(
        self,
        store: Store,
        model: ImageModel,
        config: EngineConfig,
        *,
        policy: Policy | None = None,
        accountant: Accountant | None = None,
        clock: Callable[[], float] = time.time,
        lineup: Lineup | None = None,
        observer: Observer | None = None,
    ) -> None:
        self._store = store
        self.observer = observer or Observer()
        self._model = model
        self._config = config
        self.policy = policy or Policy()
        self.accountant = accountant or Accountant(store, Limits(), Prices(), clock)
        self.lineup = lineup or Lineup(config.default_model)  # what runs now: discovery and 404s narrow it
        self.queue = FairQueue(config.max_concurrency, config.max_waiting)
        self.controls = Controls(store, self.lineup, self.policy, search_enabled=config.search_enabled)
        self.pixels = PixelBudget(config.pixel_budget)
        self.backlog = Backlog(config.store_retry_s)  # writes the store refused (locked, disk full), retried
        self._locks: dict[ThreadKey, tuple[asyncio.Lock, list[int]]] = {}
        self._calls: set[asyncio.Task[Generation]] = set()
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False
        self._interrupting = False
        self._failures: deque[tuple[float, str]] = deque(maxlen=1000)
        self._pause_read = (-PAUSE_POLL_S, 0.0)  # (when the fleet's "paused until" was read, its value)
        self.tickets = Tickets()
        self._composer = Composer(store, model, self._prepare)

    @property
    def store(self) -> Store:
        return self._store

    async def handle(
        self, event: Event, *, progress: ProgressCallback | None = None, ticket: str | None = None,
        on_part: PartCallback | None = None,
    ) -> Reply:
        """Answer one event: a result, or a Reply whose failure says why not. Never raises a Failure.

        `progress` hears where the request stands while it waits and runs; `ticket` lets `cancel` withdraw it;
        `on_part` hears each part of a longer answer as it is done (a story's panels).
        """
        key = getattr(event, "key", None)
        request = Request(progress, ticket)
        self._active += 1
        self._idle.clear()
        try:
            if self._closing:
                raise Interrupted("The bot is restarting. Try again in a minute.")
            if key is not None and (refusal := self.policy.refusal(key)):
                raise Forbidden(refusal)
            match event:
                case StartThread() | EditImages():
                    reply = await self._start(event, request)
                case NextTurn():
                    reply = await self._next(event, request)
                case Reroll():
                    reply = await self._reroll(event, request)
                case UseVariant():
                    reply = await variants.use(self, event)
                case RerollSet():
                    reply = await variants.reroll(self, event, request)
                case StartStory():
                    reply = await story.run(self, event, request, on_part)
                case Forget():
                    reply = await self._forget(event)
                case ShowUsage():
                    reply = await self._usage(event)
                case ListModels():
                    reply = Reply(key=event.key, notices=tuple(model_lines(self.lineup, self.accountant.prices)))
                case ListStyles():
                    reply = self.controls.styles(event.key)
                case ShowSettings():
                    reply = await self.controls.settings(event.key)
                case ChangeSetting():
                    reply = await self.controls.change(event)
                case ShowThoughts():
                    reply = await self.controls.thoughts(event)
                case _:
                    raise TypeError(f"unknown event {event!r}")
        except Failure as failure:
            reply = Reply(key=key, failure=failure)
        except STORE_ERRORS as error:  # before Gemini was asked: nothing was spent; the user may simply retry
            log.error("the store failed: %s", error)
            reply = Reply(key=key, failure=StoreUnavailable(STORE_FAILED))
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()
        if reply.failure is not None:
            self._failures.append((time.monotonic(), reply.failure.kind))
            self.observer.failed(reply.failure.kind, reply.failure.reason)
        return reply

    async def shutdown(self, grace: float) -> None:
        """Take no new work; let requests in flight finish for up to `grace` seconds, then interrupt the rest.

        Interrupted requests still get a reply (saying so), and their turns stay stored for a reroll.
        """
        self._closing = True
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            log.warning("shutdown: interrupting %d Gemini calls", len(self._calls))
            self._interrupting = True  # requests still queued are interrupted as soon as they get a slot
            for call in list(self._calls):
                call.cancel()
            await self._idle.wait()
        await self.backlog.close()

    def stats(self) -> dict[str, object]:
        """For the health endpoint: queue depth, calls in flight, failures by kind in the last hour."""
        since = time.monotonic() - 3600
        return {
            "queue_depth": self.queue.waiting,
            "in_flight": self.queue.in_flight,
            "active_requests": self._active,
            "closing": self._closing,
            "store_backlog": self.backlog.pending,
            "failures_last_hour": dict(Counter(kind for at, kind in self._failures if at >= since)),
        }

    async def move_thread(self, old: ThreadKey, new: ThreadKey) -> bool:
        """The conversation goes on under `new` (same platform and space): its platform thread was re-created."""
        if (old.platform, old.space) != (new.platform, new.space):
            raise ValueError("a conversation moves within its platform and space only")
        async with self.thread_lock(old):
            return await self._store.move_thread(old, new)

    # events ------------------------------------------------------------------------------------------

    async def _start(self, event: StartThread | EditImages, request: Request) -> Reply:
        if not event.prompt.strip() and not event.workflow.edits:
            raise BadInput(
                "The prompt is empty. Describe the image you want, for example `/imagine a red fox in the snow`."
                if isinstance(event, StartThread) else "Say what to change, for example `make it night`."
            )
        composed, notice = await self.starting(event.key, event.user, event.prompt, event.options, event.images,
                                               event.workflow, event.workflow.n)
        async with self.thread_lock(event.key):
            thread = await self._store.save_thread(event.key, composed.chosen, event.user.id)
            return told(await self._one_or_set(thread, event.user, event.prompt, composed, event.workflow, request),
                         notice)

    async def starting(
        self, key: ThreadKey, user: User, prompt: str, chosen: Options, inputs: tuple[ImageInput, ...],
        workflow: Workflow, count: int,
    ) -> tuple[Composed, str | None]:
        """A new conversation's first turn: the defaults in force here under the user's flags, checked against the
        model and (for `count` images) the limits, with the style's words and the guidance; and the notice naming
        the model that runs, if another."""
        checked, notice = self.lineup.check(await self.controls.starting(key, chosen))
        checked = self.controls.allowed(checked)
        await self._admit(key, user, checked, len(inputs), count)
        turn = await self.controls.turn(key, prompt, checked, edit=bool(inputs) or workflow.edits, restyle=True)
        return await self.compose(turn.text, inputs, checked, workflow, None, guidance=turn.guidance), notice

    async def _next(self, event: NextTurn, request: Request) -> Reply:
        if not event.text.strip() and not event.images and not event.workflow.edits:
            raise BadInput("That message is empty. Say what to change, or attach an image.")
        async with self.thread_lock(event.key):
            thread = await self._store.get_thread(event.key)
            if thread is None:
                raise NotFound("This conversation is not stored. Start a new one with /imagine.")
            chosen, notice = self.lineup.check(event.options.over(thread.options))
            chosen = self.controls.allowed(chosen)
            await self._admit(event.key, event.user, chosen, len(event.images), event.workflow.n)
            turn = await self.controls.turn(event.key, event.text, chosen, edit=True,
                                            restyle=event.options.style is not None)
            composed = await self.compose(turn.text, event.images, chosen, event.workflow, thread,
                                          guidance=turn.guidance)
            if composed.chosen != thread.options:  # flags on a later message change the thread from here on
                thread = await self._store.save_thread(event.key, composed.chosen, thread.created_by)
            reply = await self._one_or_set(thread, event.user, event.text, composed, event.workflow, request)
            return told(reply, notice)

    async def _one_or_set(
        self, thread: ThreadRecord, user: User, prompt: str, composed: Composed, workflow: Workflow, request: Request
    ) -> Reply:
        if workflow.n > 1:
            return await variants.run_set(self, thread, user, prompt, composed, workflow.n, request)
        return await self._run(thread, user, prompt, composed, request)

    async def _reroll(self, event: Reroll, request: Request) -> Reply:
        turn = await self._store.get_turn(event.turn_id)
        if turn is None:
            raise NotFound("That image's conversation was cleared (/forget) or no longer exists.")
        if refusal := self.policy.refusal(turn.thread.key):
            raise Forbidden(refusal)
        guidance = await self.guidance(turn.thread.key)
        async with self.thread_lock(turn.thread.key):
            if event.image_size:
                bigger = Options(image_size=event.image_size).over(turn.options)
                chosen, notice = self.lineup.check(bigger)
                message: Content = {"role": "user", "parts": [{"text": UPSCALE_PROMPT}]}
                reply = await self._run(turn.thread, event.user, turn.prompt, Composed(message, chosen, None, guidance),
                                        request, turn.id + 1)
                return told(reply, notice)
            chosen, notice = self.lineup.check(turn.options)  # its model may be gone since: the replacement runs
            chosen = self.controls.allowed(chosen)
            again = Composed(turn.request, chosen, None, guidance)
            reply = await self._run(turn.thread, event.user, turn.prompt, again, request, turn.id)
            return told(reply, notice)

    async def _forget(self, event: Forget) -> Reply:
        async with self.thread_lock(event.key):
            thread = await self._store.get_thread(event.key)
            if thread is None:
                raise NotFound("There is no stored conversation here to forget.")
            removed = await self._store.forget(thread.id)
        return Reply(
            key=event.key,
            options=thread.options,
            notices=(f"Forgot this conversation ({removed} turns). The next message starts fresh.",),
        )

    async def _usage(self, event: ShowUsage) -> Reply:
        admin = self.policy.is_admin(event.key.platform, event.user)
        report = await usage_report(self._store, self.accountant, event.key, event.user, admin)
        return Reply(key=event.key, notices=tuple(report.lines()))

    async def compose(
        self, text: str, inputs: tuple[ImageInput, ...], chosen: Options, workflow: Workflow,
        thread: ThreadRecord | None, *, guidance: str | None = None,
    ) -> Composed:
        """The user's turn as Gemini Content (see `core.compose`), with the system instruction it goes with."""
        assert chosen.model is not None
        composed = await self._composer.compose(text, inputs, chosen, self.lineup.info(chosen.model), workflow,
                                                thread)
        return replace(composed, guidance=guidance)

    async def guidance(self, key: ThreadKey) -> str | None:
        """The system instruction in force where `key` lives (the server's and channel's settings)."""
        return (await self.controls.in_force(key)).guidance()

    @asynccontextmanager
    async def reserve(
        self, key: ThreadKey, user: User, chosen: Options, message: Content, count: int
    ) -> AsyncIterator[None]:
        """Hold the estimate of `count` images against every limit and budget, before any call."""
        assert chosen.model is not None
        inputs = sum(1 for part in message.get("parts") or () if "inline_data" in part)
        exempt = self.policy.is_admin(key.platform, user)
        async with self.accountant.reserve(key, user, chosen.model, chosen.image_size, inputs, exempt,
                                           searching=chosen.searching is not None, count=count):
            yield

    async def _run(
        self, thread: ThreadRecord, user: User, prompt: str, composed: Composed, request: Request,
        before: int | None = None,
    ) -> Reply:
        chosen = composed.chosen
        turn_id = await self._store.add_turn(thread, user.id, prompt, chosen, composed.message)
        try:
            async with self.reserve(thread.key, user, chosen, composed.message, 1):
                reply = await self.attempt(thread, user, turn_id, prompt, composed, request, before or turn_id)
        except Failure as failure:  # a limit reached: nothing was sent
            failed = partial(self._store.fail_turn, turn_id, failure.kind)
            await self.backlog.write(f"failure of turn {turn_id}", failed)
            return Reply(key=thread.key, turn_id=turn_id, options=chosen, prompt=prompt, failure=failure)
        return reply

    async def attempt(
        self, thread: ThreadRecord, user: User, turn_id: int, prompt: str, composed: Composed, request: Request,
        before: int,
    ) -> Reply:
        """One stored turn sent to the model (already reserved for): the reply, or one saying why not."""
        chosen, message = composed.chosen, composed.message
        assert chosen.model is not None
        reply = Reply(key=thread.key, turn_id=turn_id, options=chosen, prompt=prompt)
        try:
            budget = self._config.raw_budget - content_size(message)
            previous = await self._chain(thread.id, before, chosen.model)
            window = partial(self._window, thread.id, before, chosen.model, max(0, budget))
            # with a chain to continue, the window is read only if Gemini turns out not to have it
            history = [] if previous is not None else await window()
            call = GenerateRequest(chosen.model, history, message, chosen.aspect_ratio, chosen.image_size,
                                   previous, load_history=window if previous is not None else None,
                                   search=chosen.searching, thinking_level=chosen.think,
                                   include_thoughts=bool(chosen.thoughts), system_instruction=composed.guidance)
            result = await self._generate(call, turns.owner(thread.key.platform, user.id), request)
            # paid for: the user gets it even when the store cannot write now (kept and retried)
            complete = partial(self._store.complete_turn, turn_id, result.content, result.interaction_id)
            await self.backlog.write(f"turn {turn_id}", complete)
            record = partial(self._record, thread.key, user, chosen, result, self.accountant.clock())
            await self.backlog.write(f"usage of turn {turn_id}", record)
        except Failure as failure:
            failed = partial(self._store.fail_turn, turn_id, failure.kind)
            await self.backlog.write(f"failure of turn {turn_id}", failed)
            if isinstance(failure, ModelGone):
                failure = await self._model_gone(thread, chosen, failure)
            return replace(reply, failure=failure)
        except Exception:
            log.exception("turn %s failed unexpectedly", turn_id)
            await self.backlog.write(f"failure of turn {turn_id}", partial(self._store.fail_turn, turn_id, "internal"))
            return replace(reply, failure=ModelUnavailable("Something broke on the bot's side; try again."))
        notices: tuple[str, ...] = () if result.images else (
            "Gemini answered in words only. Ask for a picture, for example `draw it` or `generate an image of …`.",
        )
        if composed.canvas is not None and result.images:
            got = await asyncio.to_thread(canvas.image_size, result.images[0].data)
            notices += tuple(filter(None, [canvas.shape_notice(composed.canvas, got)]))
        return replace(reply, images=result.images, text=result.text, notices=notices, grounding=result.grounding,
                       thoughts=result.thoughts if chosen.thoughts else (),
                       thought_images=result.thought_images if chosen.thoughts else ())
