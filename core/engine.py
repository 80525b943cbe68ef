"""The conversation engine: `Engine.handle(event) -> Reply`.

It owns history (bounded by a turn window and a byte budget), runs one turn at a time per thread, caps the calls
in flight to the model, and keeps the user's request before anything that can fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial

from core import canvas, catalogue, images, story, turns, variants, video
from core.backlog import STORE_ERRORS, Backlog
from core.budget import Accountant, Limits, month_start, usage_report
from core.compose import Composer
from core.controls import Controls
from core.costs import Prices
from core.events import (
    BadInput,
    ChangeSetting,
    EditImages,
    Event,
    Failure,
    Forbidden,
    Forget,
    ImageInput,
    Interrupted,
    ListModels,
    ListStyles,
    ModelGone,
    ModelRetired,
    ModelUnavailable,
    NextTurn,
    NotFound,
    Options,
    PartCallback,
    ProgressCallback,
    QuotaExhausted,
    Reply,
    Reroll,
    RerollSet,
    ShowSettings,
    ShowThoughts,
    ShowUsage,
    StartStory,
    StartThread,
    StoreUnavailable,
    ThreadKey,
    User,
    UseVariant,
    Workflow,
)
from core.generation import Content, GenerateRequest, Generation, ImageModel
from core.history import for_model
from core.lineup import Lineup
from core.listing import model_lines
from core.observe import Observer
from core.pixels import DEFAULT_BUDGET, PixelBudget
from core.policy import Policy
from core.progress import Reporter
from core.queue import FairQueue
from core.runner import Composed, Request, Tickets
from core.store import Store, ThreadRecord, Usage, lock_name
from core.turns import Permission, TurnInfo, Withdrawal

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# Raw bytes per request: base64 inflates by 4/3, so 14 MiB of images and JSON stays near 18.7 MiB on the wire,
# under Gemini's 20 MiB limit on a whole inline request.
RAW_BUDGET = 14 * MiB
INTERRUPTED = "The bot restarted before this image was finished. Press Try again, or send it again."
PAUSE_POLL_S = 0.5
INTERRUPTED_BY_CRASH = (
    "This request was interrupted: the bot stopped unexpectedly before the image was finished. Press Try again, "
    "or send it again."
)
STORE_FAILED = (
    "The bot's database could not be read or written just now (busy, or its disk is full), so nothing was sent to "
    "Gemini. Try again in a minute; if it keeps happening, tell the operator."
)
UPSCALE_PROMPT = (
    "Render exactly the same image again at a higher resolution. Change nothing: same composition, subjects, "
    "colours, style and text."
)


@dataclass(frozen=True)
class EngineConfig:
    default_model: str = catalogue.DEFAULT_MODEL
    history_turns: int = 6
    max_concurrency: int = 4
    max_waiting: int = 100
    raw_budget: int = RAW_BUDGET
    progress_interval: float = 5.0
    quota_attempts: int = 4  # a 429 pauses the whole queue, then the request goes again, this many times in all
    quota_delay_s: float = 2.0  # the first pause when Gemini gives no Retry-After; doubled each time, at most 60 s
    search_enabled: bool = True  # BOT_SEARCH=off: --search is refused, and settings cannot turn it on
    pixel_budget: int = DEFAULT_BUDGET  # image pixels decoded at once across all requests (core.pixels)
    store_retry_s: float = 1.0  # the first wait before a write the store refused is tried again (core.backlog)


class Engine:
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

    async def claim(self, kind: str, name: str) -> bool:
        """True for the first delivery of an event (in any process sharing the store); False for a repeat."""
        if await self._store.claim(kind, name):
            return True
        self.observer.deduplicated(kind)
        return False

    async def unclaim(self, kind: str, name: str) -> None:
        """Give a claim back (what claimed it turned out not to be the event: a forged copy)."""
        await self._store.unclaim(kind, name)

    def cancel(self, ticket: str) -> bool:
        """Withdraw a request that is still waiting in the queue (every call of a variant set), or stop a story
        before its next panel; False once it has started (or is unknown)."""
        stopped = self.tickets.stop(ticket)
        withdrawn = self.queue.cancel(ticket)
        for member in self.tickets.groups.get(ticket, ()):
            withdrawn = self.queue.cancel(member) or withdrawn
        return withdrawn or stopped

    async def move_thread(self, old: ThreadKey, new: ThreadKey) -> bool:
        """The conversation goes on under `new` (same platform and space): its platform thread was re-created."""
        if (old.platform, old.space) != (new.platform, new.space):
            raise ValueError("a conversation moves within its platform and space only")
        async with self.thread_lock(old):
            return await self._store.move_thread(old, new)

    # what adapters ask before they build an event (no image is loaded to answer) ---------------------

    async def has_thread(self, key: ThreadKey) -> bool:
        return await self._store.get_thread(key) is not None

    async def thread_options(self, key: ThreadKey) -> Options | None:
        """The options a stored conversation goes on with; None when nothing is stored under `key`."""
        thread = await self._store.get_thread(key)
        return thread.options if thread is not None else None

    async def turn_info(self, turn_id: int) -> TurnInfo | None:
        """A stored turn's conversation, requester and options (a button names only the turn)."""
        return await self._store.turn_info(turn_id)

    def check_options(self, chosen: Options, base: Options | None = None) -> Options:
        """`chosen` over `base` (a thread's options), checked against the model (and the operator's search switch):
        UnsupportedOption says why not."""
        return self.controls.allowed(self.lineup.check(chosen.over(base or Options()))[0])

    def check_video(self, chosen: Options, name: str, size: int | None, base: Options | None = None) -> None:
        """A video attachment, before it is downloaded: the model that would run takes video, and it is not too
        large; UnsupportedOption names the models that do, or the size allowed."""
        model = self.check_options(chosen, base).model
        assert model is not None
        video.check(self.lineup.info(model), name, size or 0, 1)

    def refusal(self, key: ThreadKey) -> str | None:
        """Why this place is not served (an allow-list), before anything is posted there; None when it is."""
        return self.policy.refusal(key)

    async def may_delete(
        self, turn_id: int, user: User, platform: str, platform_admin: Callable[[], Awaitable[bool]] | None = None
    ) -> Permission:
        """May `user` delete the result of `turn_id`? `platform_admin` asks the platform, only when it matters."""
        info = await self._store.turn_info(turn_id)
        configured = self.policy.is_admin(platform, user)
        allowed = turns.may_delete(info, user, configured_admin=configured)
        if not allowed and platform_admin is not None and await platform_admin():
            allowed = turns.may_delete(info, replace(user, is_admin=True), configured_admin=configured)
        return Permission(allowed, info.user_id if info is not None else None)

    def withdraw(self, ticket: str, user: User, platform: str) -> Withdrawal:
        """The requester's Cancel: withdraw a request still waiting in line. Who asked is the queue's own record of
        the ticket, never what the button says."""
        owner = self.queue.owner(ticket) or self.tickets.owner(ticket)  # a waiting call, or a running set or story
        if owner is None:
            return Withdrawal.STARTED
        where, _, requester_id = owner.partition(":")
        if where != platform or not turns.may_cancel(requester_id, user):
            return Withdrawal.NOT_YOURS
        return Withdrawal.CANCELLED if self.cancel(ticket) else Withdrawal.STARTED

    async def take_interrupted(self, platform: str) -> list[tuple[TurnInfo, Reply]]:
        """The turns of `platform` that the last process left unanswered (killed mid-turn), once each: a Reply
        saying so, with its Try again, for the adapter to post where it had said it was working."""
        replies, kept = [], []
        for turn_id in self._store.interrupted:
            info = await self._store.turn_info(turn_id)
            if info is None:
                continue
            if info.key.platform != platform:
                kept.append(turn_id)
                continue
            failure = Interrupted(INTERRUPTED_BY_CRASH)
            replies.append((info, Reply(key=info.key, turn_id=turn_id, options=info.options, failure=failure)))
        self._store.interrupted = kept
        return replies

    async def record_files(self, turn_id: int, file_ids: list[str]) -> None:
        """The files a result was uploaded as, kept for Delete (a button's value names only the turn)."""
        await self.backlog.write(f"files of turn {turn_id}", partial(self._store.record_files, turn_id, file_ids))

    async def turn_files(self, turn_id: int) -> list[str]:
        return await self._store.turn_files(turn_id)

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
            return _told(await self._one_or_set(thread, event.user, event.prompt, composed, event.workflow, request),
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
            return _told(reply, notice)

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
                return _told(reply, notice)
            chosen, notice = self.lineup.check(turn.options)  # its model may be gone since: the replacement runs
            chosen = self.controls.allowed(chosen)
            again = Composed(turn.request, chosen, None, guidance)
            reply = await self._run(turn.thread, event.user, turn.prompt, again, request, turn.id)
            return _told(reply, notice)

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

    async def admit(self, event: Event) -> Failure | None:
        """Why `event` would be refused before its images are downloaded (an allow-list, a limit, a spent budget);
        None when it may go on. Adapters ask this before fetching a byte; `handle` asks again."""
        key, user = getattr(event, "key", None), getattr(event, "user", None)
        if key is None or user is None:
            return None
        if refusal := self.policy.refusal(key):
            return Forbidden(refusal)
        if busy := self.queue.busy():
            return busy
        try:
            base = await self.thread_options(key) if isinstance(event, NextTurn) else None
            chosen, _ = self.lineup.check(getattr(event, "options", Options()).over(base or Options()))
            count = event.panels if isinstance(event, StartStory) else getattr(event, "workflow", Workflow()).n
            await self._admit(key, user, chosen, len(getattr(event, "images", ())), count)
        except Failure as failure:
            return failure
        return None

    async def _admit(self, key: ThreadKey, user: User, chosen: Options, inputs: int, count: int = 1) -> None:
        """Refused now (`count` images: a set, a story) before anything is decoded: LimitReached says why."""
        assert chosen.model is not None
        exempt = self.policy.is_admin(key.platform, user)
        await self.accountant.check(key, user, chosen.model, chosen.image_size, inputs, exempt, count)

    # the turn itself ---------------------------------------------------------------------------------

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
            budget = self._config.raw_budget - _content_size(message)
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

    async def _record(self, key: ThreadKey, user: User, chosen: Options, result: Generation, now: float) -> None:
        """The turn's usage and cost: tokens, and search queries past Google's free monthly allowance."""
        assert chosen.model is not None
        prices = self.accountant.prices
        cost = prices.cost(chosen.model, chosen.image_size, result.prompt_tokens, result.output_tokens,
                           result.thought_tokens)
        queries = result.grounding.billed_queries if result.grounding else 0
        if queries:
            cost += prices.search_cost(queries, await self._store.search_queries_since(month_start(now)))
        await self._store.record_usage(
            Usage(key, user.id, chosen.model, chosen.image_size, result.prompt_tokens, result.output_tokens,
                  result.total_tokens, len(result.images), cost, now, queries)
        )
        self.observer.produced(chosen.model, chosen.image_size, len(result.images), cost)

    async def _model_gone(self, thread: ThreadRecord, chosen: Options, gone: ModelGone) -> Failure:
        """A 404 for the model mid-run (retired since start): the thread moves on to the replacement."""
        assert chosen.model is not None
        successor = self.lineup.withdraw(chosen.model)
        log.warning("Gemini says %s is gone (%s): threads move to %s", chosen.model, gone.reason, successor.id)
        moved, _ = self.lineup.check(chosen)  # on the successor, keeping the ratio and size where it can
        await self._store.save_thread(thread.key, moved, thread.created_by)
        return ModelRetired(
            f"Gemini no longer offers `{chosen.model}` (it was retired since the bot started). It is replaced by "
            f"{successor.id} ({successor.label}): this conversation continues on it from your next message. "
            "Press Try again, or send the message again.",
            reason=gone.reason, model=chosen.model,
        )

    async def _chain(self, thread_id: int, before: int, model: str) -> str | None:
        """Gemini's stored interaction to continue from: that of the turn just before, if the same model made it."""
        point = await self._store.chain_point(thread_id, before)
        return point[0] if point is not None and point[1] == model else None

    async def _window(self, thread_id: int, before: int, model: str, budget: int) -> list[Content]:
        """Our bounded window, in a form `model` accepts (Gemini refuses the signatures of another model)."""
        history = await self._store.history(thread_id, before, self._config.history_turns, budget)
        models = await self._store.turn_models(thread_id, before, self._config.history_turns)
        return for_model(history, models, model)

    async def _generate(self, call: GenerateRequest, owner: str, request: Request) -> Generation:
        """The model call, in the fair queue; a 429 pauses the whole queue and the request goes again first."""
        reporter = Reporter(request.progress, self._config.progress_interval)
        async with reporter.running():
            for attempt in range(self._config.quota_attempts):
                async with self.queue.slot(owner, ticket=request.ticket, notify=reporter.queued, front=attempt > 0):
                    if self._interrupting:
                        raise Interrupted(INTERRUPTED)
                    await self._fleet_pause()
                    reporter.generating()
                    started = time.monotonic()
                    task = asyncio.create_task(self._model.generate(call))
                    self._calls.add(task)
                    task.add_done_callback(self._calls.discard)
                    try:
                        await asyncio.wait({task})
                    except asyncio.CancelledError:
                        task.cancel()
                        raise
                    if task.cancelled():
                        raise Interrupted(INTERRUPTED)
                    try:
                        generation = task.result()
                    except QuotaExhausted as quota:
                        if attempt == self._config.quota_attempts - 1:
                            raise
                        delay = min(quota.retry_after or self._config.quota_delay_s * 2**attempt, 60.0)
                        log.warning("Gemini 429: pausing every process's queue for %.1f s", delay)
                        self.queue.pause(delay)
                        await self._store.pause_until(time.time() + delay)  # the fleet backs off as one client
                        continue
                    self.observer.generated(call.model, time.monotonic() - started)
                    return generation
        raise AssertionError("unreachable")

    async def _fleet_pause(self) -> None:
        """Wait out a 429 pause another process set (this process's own queue pauses with it). The shared value is
        read at most every PAUSE_POLL_S: a pause reaches every process within that, at one read per interval."""
        now = time.monotonic()
        if now - self._pause_read[0] >= PAUSE_POLL_S:
            self._pause_read = (now, await self._store.paused_until())
        left = min(self._pause_read[1] - time.time(), 60.0)
        if left > 0:
            self.queue.pause(left)
            await asyncio.sleep(left)

    async def _prepare(self, image: ImageInput, max_edge: int, max_bytes: int) -> tuple[bytes, str]:
        pixels = await asyncio.to_thread(images.decoded_pixels, image.data, image.name, max_edge)
        async with self.pixels.hold(pixels):
            return await asyncio.to_thread(images.prepare, image.data, image.name, max_edge, max_bytes)

    @asynccontextmanager
    async def thread_lock(self, key: ThreadKey) -> AsyncIterator[None]:
        """One turn at a time per thread: in this process an asyncio lock, across processes the store's lease."""
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock, self._store.lease(lock_name(key)):  # LeaseTimeout is a Busy failure
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:  # no one waits: drop it so the dict does not grow with every thread ever seen
                del self._locks[key]


def _told(reply: Reply, notice: str | None) -> Reply:
    """The reply with the notice naming the model that actually ran, ahead of any other notice."""
    return replace(reply, notices=(notice, *reply.notices)) if notice else reply


def _content_size(content: Content) -> int:
    size = 0
    for part in content.get("parts") or ():
        inline = part.get("inline_data")
        size += len(inline["data"]) if inline and isinstance(inline.get("data"), bytes) else len(str(part))
    return size
