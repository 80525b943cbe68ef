"""A fair, bounded queue in front of the model: a cap on calls in flight, served round-robin between users.

One busy user cannot starve the others: when a slot frees, the next user in rotation gets it, not the next
request in arrival order. A full queue refuses at once (`Busy`) instead of growing. Waiters learn their place in
line as it changes, may be cancelled by ticket, and a 429 from Gemini pauses every grant until it has passed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.failures import Busy, Cancelled

Notify = Callable[[int], None]


@dataclass(eq=False)
class _Waiter:
    owner: str
    ticket: str | None
    granted: asyncio.Future[None]
    notify: Notify | None = None
    position: int = 0
    withdrawn: bool = False


class FairQueue:
    def __init__(self, capacity: int, max_waiting: int = 100, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.max_waiting = max_waiting
        self._clock = clock
        self._in_flight = 0
        self._owners: OrderedDict[str, deque[_Waiter]] = OrderedDict()  # rotation order: first is served next
        self._tickets: dict[str, _Waiter] = {}
        self._paused_until = 0.0
        self._wake: asyncio.TimerHandle | None = None

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._owners.values())

    @asynccontextmanager
    async def slot(
        self, owner: str, *, ticket: str | None = None, notify: Notify | None = None, front: bool = False
    ) -> AsyncIterator[None]:
        """Hold one of `capacity` slots; `notify(position)` hears each new place in line while waiting.

        `front`: a request going again after a 429 waits at the head of the line, not the back.
        """
        if self._in_flight < self.capacity and (front or not self._owners) and not self._paused():
            self._in_flight += 1
        else:
            await self._wait(owner, ticket, notify, front)
        try:
            yield
        finally:
            self._in_flight -= 1
            self._dispatch()

    def owner(self, ticket: str) -> str | None:
        """Whose request `ticket` is, while it waits in line; None once it has left (or was never there)."""
        waiter = self._tickets.get(ticket)
        return waiter.owner if waiter is not None and not waiter.granted.done() else None

    def cancel(self, ticket: str) -> bool:
        """Withdraw a waiting request; False when it is not waiting (already running, done or unknown)."""
        waiter = self._tickets.get(ticket)
        if waiter is None or waiter.granted.done():
            return False
        waiter.withdrawn = True
        waiter.granted.cancel()
        self._remove(waiter)
        self._renumber()
        return True

    def pause(self, seconds: float) -> None:
        """Grant nothing new for `seconds` (Gemini said 429): every request waits, instead of each retrying."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._schedule_wake()

    def _paused(self) -> bool:
        return self._clock() < self._paused_until

    def busy(self) -> Busy | None:
        """The refusal a new request would get now (the line is full), or None: asked before anything is posted."""
        if self.waiting >= self.max_waiting:
            return Busy(f"The bot is busy: {self.waiting} requests are already waiting. Try again in a minute.")
        return None

    async def _wait(self, owner: str, ticket: str | None, notify: Notify | None, front: bool) -> None:
        if not front and (refusal := self.busy()):
            raise refusal
        waiter = _Waiter(owner, ticket, asyncio.get_running_loop().create_future(), notify)
        if front:
            self._owners.setdefault(owner, deque()).appendleft(waiter)
            self._owners.move_to_end(owner, last=False)
        else:
            self._owners.setdefault(owner, deque()).append(waiter)
        if ticket is not None:
            self._tickets[ticket] = waiter
        self._renumber()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.withdrawn:
                raise Cancelled("Cancelled before it started.") from None
            if waiter.granted.done() and not waiter.granted.cancelled():
                self._in_flight -= 1  # granted just as the task was cancelled: give the slot back
                self._dispatch()
            else:
                self._remove(waiter)
                self._renumber()
            raise
        finally:
            if ticket is not None and self._tickets.get(ticket) is waiter:
                del self._tickets[ticket]

    def _remove(self, waiter: _Waiter) -> None:
        queue = self._owners.get(waiter.owner)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self._owners[waiter.owner]
        if waiter.ticket is not None and self._tickets.get(waiter.ticket) is waiter:
            del self._tickets[waiter.ticket]

    def _dispatch(self) -> None:
        if self._paused():
            self._schedule_wake()
            return
        granted_any = False
        while self._in_flight < self.capacity and self._owners:
            owner, queue = next(iter(self._owners.items()))
            waiter = queue.popleft()
            del self._owners[owner]
            if queue:  # this user's next request goes to the back of the rotation
                self._owners[owner] = queue
            if waiter.ticket is not None:
                self._tickets.pop(waiter.ticket, None)
            if waiter.granted.done():
                continue
            self._in_flight += 1
            waiter.granted.set_result(None)
            granted_any = True
        if granted_any:
            self._renumber()

    def _ordered(self) -> list[_Waiter]:
        queues = [list(q) for q in self._owners.values()]
        return [w for round_ in itertools.zip_longest(*queues) for w in round_ if w is not None]

    def _renumber(self) -> None:
        for position, waiter in enumerate(self._ordered(), start=1):
            if waiter.position != position:
                waiter.position = position
                if waiter.notify is not None:
                    waiter.notify(position)

    def _schedule_wake(self) -> None:
        if self._wake is not None:
            self._wake.cancel()
        delay = max(0.0, self._paused_until - self._clock())
        self._wake = asyncio.get_running_loop().call_later(delay, self._on_wake)

    def _on_wake(self) -> None:
        self._wake = None
        self._dispatch()
