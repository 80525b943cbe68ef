"""Writes the store could not make yet (a database locked for long, a full disk), kept in order and retried until it
can: an image Gemini made, and that was paid for, reaches the user anyway, and its turn and usage are recorded as soon
as the store writes again (or at shutdown), not lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from core.store import STORE_ERRORS  # locked past the busy timeout, disk full, read-only, I/O error, server away

log = logging.getLogger(__name__)
Write = Callable[[], Awaitable[object]]


class Backlog:
    def __init__(self, delay_s: float = 1.0, max_delay_s: float = 60.0, max_attempts: int = 2000) -> None:
        self._delay, self._max_delay, self._max_attempts = delay_s, max_delay_s, max_attempts  # ~1 day at 60 s
        self._writes: deque[tuple[str, Write]] = deque()
        self._task: asyncio.Task[None] | None = None
        self.lost = 0

    @property
    def pending(self) -> int:
        return len(self._writes)

    async def write(self, what: str, write: Write) -> bool:
        """Make `write` now; when the store cannot, keep it for later (behind any earlier one, so order holds).
        True when it was written now."""
        if not self._writes:
            try:
                await write()
                return True
            except STORE_ERRORS as error:
                log.error("could not store %s (%s); it is kept and retried", what, error)
        self._writes.append((what, write))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._retry())
        return False

    async def _retry(self) -> None:
        delay = self._delay
        for _ in range(self._max_attempts):
            await asyncio.sleep(delay)
            if await self.flush():
                return
            delay = min(delay * 2, self._max_delay)
        log.critical("the store has refused writes for too long: %d writes lost", len(self._writes))
        self.lost += len(self._writes)
        self._writes.clear()

    async def flush(self) -> bool:
        """Make the kept writes, in order, until one fails; True when none is left."""
        while self._writes:
            what, write = self._writes[0]
            try:
                await write()
            except STORE_ERRORS as error:
                log.warning("still cannot store %s: %s", what, error)
                return False
            self._writes.popleft()
            log.info("stored %s at last", what)
        return True

    async def close(self) -> None:
        """At shutdown: one last try, then stop retrying (what is still kept is logged as lost)."""
        if self._task is not None:
            self._task.cancel()
        if not await self.flush():
            log.critical("shutting down with %d writes the store refused: %s", len(self._writes),
                         ", ".join(what for what, _ in self._writes))
