"""What the workflows that make several pictures per request (variant sets, stories) need of the engine: one turn
run without its own reservation, a reservation of several images, the thread lock, and tickets grouped so that one
Cancel reaches every request of the group. `Engine` implements it; `core.variants` and `core.story` use it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from core.budget import Accountant
from core.events import ImageInput, Options, ProgressCallback, Reply, ThreadKey, User, Workflow
from core.generation import Content
from core.lineup import Lineup
from core.policy import Policy
from core.store import Store, ThreadRecord


@dataclass(frozen=True)
class Request:
    """Who hears progress, and the ticket a Cancel names."""

    progress: ProgressCallback | None = None
    ticket: str | None = None


@dataclass(frozen=True)
class Composed:
    """A user's turn ready to send: the Content, the options it runs with (an extension may change the ratio), and
    the canvas size an extension asked for (to report a result far from its shape)."""

    message: Content
    chosen: Options
    canvas: tuple[int, int] | None = None
    guidance: str | None = None  # the system instruction in force (the server's and channel's settings)


@dataclass
class Tickets:
    """Tickets of requests that are several model calls: a set's calls share one Cancel, a story can be stopped."""

    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stories: set[str] = field(default_factory=set)
    stopped: set[str] = field(default_factory=set)
    owners: dict[str, str] = field(default_factory=dict)  # ticket -> whose request (turns.owner), while it runs

    def owner(self, ticket: str) -> str | None:
        """Who asked for the set or story `ticket` names, while it runs (who may cancel it); None otherwise."""
        return self.owners.get(ticket)

    @contextmanager
    def group(self, ticket: str | None, count: int, owner: str) -> Iterator[tuple[str | None, ...]]:
        """`count` sub-tickets (each call's in the queue), all withdrawn by a Cancel of `ticket`."""
        if ticket is None:
            yield (None,) * count
            return
        members = tuple(f"{ticket}.{i}" for i in range(count))
        self.groups[ticket], self.owners[ticket] = members, owner
        try:
            yield members
        finally:
            self.groups.pop(ticket, None)
            self.owners.pop(ticket, None)

    @contextmanager
    def story(self, ticket: str | None, owner: str) -> Iterator[None]:
        if ticket is not None:
            self.stories.add(ticket)
            self.owners[ticket] = owner
        try:
            yield
        finally:
            if ticket is not None:
                self.stories.discard(ticket)
                self.stopped.discard(ticket)
                self.owners.pop(ticket, None)

    def stop(self, ticket: str) -> bool:
        """A running story takes no further panel; False when `ticket` names no running story."""
        if ticket in self.stories:
            self.stopped.add(ticket)
            return True
        return False

    def is_stopped(self, ticket: str | None) -> bool:
        return ticket is not None and ticket in self.stopped


class Runner(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def lineup(self) -> Lineup: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def accountant(self) -> Accountant: ...

    @property
    def tickets(self) -> Tickets: ...

    def thread_lock(self, key: ThreadKey) -> AbstractAsyncContextManager[None]: ...

    def reserve(self, key: ThreadKey, user: User, chosen: Options, message: Content,
                count: int) -> AbstractAsyncContextManager[None]: ...

    async def starting(self, key: ThreadKey, user: User, prompt: str, chosen: Options, inputs: tuple[ImageInput, ...],
                       workflow: Workflow, count: int) -> tuple[Composed, str | None]: ...

    async def guidance(self, key: ThreadKey) -> str | None: ...

    async def attempt(self, thread: ThreadRecord, user: User, turn_id: int, prompt: str, composed: Composed,
                      request: Request, before: int) -> Reply: ...
