"""The model call and what surrounds it: in the fair queue (a 429 pauses every process and the request goes again
first), the history window sent when Gemini's own chain cannot be used, the usage recorded, and a model Gemini says
is gone. `Engine` has these through this mixin."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core import images
from core.budget import Accountant, month_start
from core.engine_config import EngineConfig
from core.events import ImageInput, Options, ThreadKey, User
from core.failures import Failure, Interrupted, ModelGone, ModelRetired, QuotaExhausted
from core.generation import Content, GenerateRequest, Generation, ImageModel
from core.history import for_model
from core.lineup import Lineup
from core.observe import Observer
from core.pixels import PixelBudget
from core.progress import Reporter
from core.queue import FairQueue
from core.runner import Request
from core.store import Store, ThreadRecord, Usage, lock_name

log = logging.getLogger(__name__)

INTERRUPTED = "The bot restarted before this image was finished. Press Try again, or send it again."
PAUSE_POLL_S = 0.5


class ModelCalls:
    _store: Store
    _model: ImageModel
    _config: EngineConfig
    _calls: set[asyncio.Task[Generation]]
    _interrupting: bool
    _pause_read: tuple[float, float]
    accountant: Accountant
    lineup: Lineup
    observer: Observer
    queue: FairQueue
    pixels: PixelBudget
    _locks: dict[ThreadKey, tuple[asyncio.Lock, list[int]]]

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
