"""The pixel budget: how many image pixels may be decoded at once, shared by every request in the process.

A 139 KiB PNG can decode to 49 megapixels (147 MB): eight at once took the bot to 1.9 GiB. Requests over the budget
wait their turn (first come, first served) rather than fail; one image larger than the whole budget runs alone.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Pillow holds a pixel in 4 bytes: 16 MP is about 64 MB decoded at once. An image larger than the whole budget (up to
# core.images.MAX_PIXELS) still runs, alone; JPEGs are drafted and large PNGs shrunk in bands before they count.
DEFAULT_BUDGET = 16_000_000


class PixelBudget:
    def __init__(self, total: int = DEFAULT_BUDGET) -> None:
        if total <= 0:
            raise ValueError("the pixel budget must be positive")
        self.total = total
        self._free = total
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def in_use(self) -> int:
        return self.total - self._free

    @asynccontextmanager
    async def hold(self, pixels: int) -> AsyncIterator[None]:
        """Hold `pixels` (at most the whole budget) while the block runs, waiting in line until they are free."""
        want = max(0, min(pixels, self.total))
        if self._waiting or self._free < want:
            ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append((want, ticket))
            try:
                await ticket
            except asyncio.CancelledError:
                if ticket.done() and not ticket.cancelled():
                    self._release(want)  # granted just as we were cancelled: hand the pixels on
                else:
                    self._waiting.remove((want, ticket))
                    self._wake()
                raise
        else:
            self._free -= want
        try:
            yield
        finally:
            self._release(want)

    def _release(self, pixels: int) -> None:
        self._free += pixels
        self._wake()

    def _wake(self) -> None:
        # in order: the head of the line is served first, so a large image is never starved by small ones
        while self._waiting and self._waiting[0][0] <= self._free:
            want, ticket = self._waiting.popleft()
            self._free -= want
            ticket.set_result(None)
