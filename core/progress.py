"""Reports where a request stands to the adapter's callback: its place in line, then "generating", with time.

One reporter task per request coalesces changes (a place in line may change many times a second) and re-sends the
current state every `interval` seconds so the elapsed time stays fresh. A failing callback never fails the turn.
Callbacks run one at a time, and a callback still on the wire when the request ends is waited for, never cut off:
so an adapter may post the result as soon as the engine answers, and no late update can overwrite it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from core.events import Progress, ProgressCallback

log = logging.getLogger(__name__)


class Reporter:
    def __init__(
        self, callback: ProgressCallback | None, interval: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._callback = callback
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._state: tuple[str, int | None] = ("queued", None)
        self._changed = asyncio.Event()

    def queued(self, position: int) -> None:
        self._set(("queued", position))

    def generating(self) -> None:
        self._set(("generating", None))

    def _set(self, state: tuple[str, int | None]) -> None:
        self._state = state
        self._changed.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Reporter]:
        if self._callback is None:
            yield self
            return
        task = asyncio.create_task(self._pump(), name="progress")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _pump(self) -> None:
        assert self._callback is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._interval)
            self._changed.clear()
            stage, position = self._state
            if stage == "queued" and position is None:
                continue  # not yet placed: nothing worth showing
            call = asyncio.ensure_future(self._callback(Progress(stage, self._clock() - self._started, position)))
            try:
                await asyncio.shield(call)
            except asyncio.CancelledError:
                await _finished(call)  # the request ended during this update: let it land first
                raise
            except Exception:
                log.warning("progress update failed", exc_info=True)


async def _finished(call: asyncio.Future[None]) -> None:
    try:
        await call
    except Exception:
        log.warning("progress update failed", exc_info=True)
