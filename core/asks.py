"""What adapters ask the engine before they build an event, answered without loading an image: is a conversation
stored here, with what options, who asked for a turn, may this user delete or cancel it, will these options or this
video be accepted, which turns a crash left unanswered. `Engine` has these through this mixin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial

from core import turns, video
from core.backlog import Backlog
from core.budget import Accountant
from core.controls import Controls
from core.events import Event, NextTurn, Options, Reply, StartStory, ThreadKey, User, Workflow
from core.failures import Failure, Forbidden, Interrupted
from core.lineup import Lineup
from core.observe import Observer
from core.policy import Policy
from core.queue import FairQueue
from core.runner import Tickets
from core.store import Store
from core.turns import Permission, TurnInfo, Withdrawal

INTERRUPTED_BY_CRASH = (
    "This request was interrupted: the bot stopped unexpectedly before the image was finished. Press Try again, "
    "or send it again."
)


class AdapterAsks:
    _store: Store
    lineup: Lineup
    policy: Policy
    controls: Controls
    queue: FairQueue
    tickets: Tickets
    backlog: Backlog
    accountant: Accountant
    observer: Observer

    def cancel(self, ticket: str) -> bool:
        """Withdraw a request that is still waiting in the queue (every call of a variant set), or stop a story
        before its next panel; False once it has started (or is unknown)."""
        stopped = self.tickets.stop(ticket)
        withdrawn = self.queue.cancel(ticket)
        for member in self.tickets.groups.get(ticket, ()):
            withdrawn = self.queue.cancel(member) or withdrawn
        return withdrawn or stopped

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

    async def claim(self, kind: str, name: str) -> bool:
        """True for the first delivery of an event (in any process sharing the store); False for a repeat."""
        if await self._store.claim(kind, name):
            return True
        self.observer.deduplicated(kind)
        return False

    async def unclaim(self, kind: str, name: str) -> None:
        """Give a claim back (what claimed it turned out not to be the event: a forged copy)."""
        await self._store.unclaim(kind, name)

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
