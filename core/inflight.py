"""Work in flight in an adapter: counted while it runs, so that shutdown lets it finish (for BOT_SHUTDOWN_GRACE at
the most) before the connections close, and whatever escapes a background task is logged, never lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class InFlight:
    """The handlers and background tasks an adapter is running."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def tracked(self) -> AsyncIterator[None]:
        """Count the block's work (a handler the platform library runs) until it ends."""
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    def track(self) -> None:
        """Count the running task (a listener the platform library started) until it ends."""
        task = asyncio.current_task()
        if task is not None and task not in self._tasks:
            self._add(task)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` in the background, counted until it ends."""
        task = asyncio.create_task(work)
        self._add(task)
        return task

    async def drain(self, grace: float) -> bool:  # noqa: ASYNC109 - a bounded drain reads best this way
        """Wait up to `grace` seconds for the work in flight (the caller's own task aside); then cancel what is
        left and wait for it to stop. True when everything finished in time."""
        current = asyncio.current_task()
        try:
            async with asyncio.timeout(grace):
                await self._idle.wait()
                while pending := self._others(current):
                    await asyncio.wait(pending)
            return True
        except TimeoutError:
            left = self._others(current)
            log.warning("%d handlers still running after %.0f s; stopping them", len(left) + self._count, grace)
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
            return False

    def _others(self, current: asyncio.Task[Any] | None) -> list[asyncio.Future[Any]]:
        return [task for task in self._tasks if task is not current and not task.done()]

    def _add(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
