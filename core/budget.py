"""Spend limits that hold under concurrency: a request reserves its estimated cost before Gemini is called, and
the reservation is settled (by the usage row) or released afterwards.

Checks and reservations happen in one database transaction, counting what is recorded plus what is reserved (in
every process), so concurrent requests can never overshoot a budget by more than one image's estimate. Days and
months are UTC; the clock is injected so tests can cross a boundary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from core.costs import Prices
from core.events import ThreadKey, User
from core.failures import LimitReached
from core.store import Hold, Store, Totals


@dataclass(frozen=True)
class Limits:
    user_daily_images: int | None = None
    space_daily_usd: float | None = None
    space_monthly_usd: float | None = None


def day_start(now: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def month_start(now: float) -> float:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


def next_month(now: float) -> float:
    start = datetime.fromtimestamp(month_start(now), UTC)
    return (start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
            ).timestamp()


def _resets(at: float, now: float) -> str:
    left = max(0, int(at - now))
    when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"It resets at {when} (in {left // 3600} h {left % 3600 // 60} min)."


def _set_cost(count: int, estimate: float) -> str:
    return f"These {count} images would cost about ${estimate:.2f} together, so none were made. " if count > 1 else ""


class Accountant:
    def __init__(self, store: Store, limits: Limits, prices: Prices, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self.limits = limits
        self.prices = prices
        self.clock = clock

    @asynccontextmanager
    async def reserve(
        self, key: ThreadKey, user: User, model: str, size: str | None, inputs: int, exempt: bool,
        searching: bool = False, count: int = 1,
    ) -> AsyncIterator[None]:
        """Hold the estimate of `count` images (a variant set, a story: all before any call) while the request runs;
        raise LimitReached naming the limit, the numbers and when it resets: a set that does not fit is refused whole.

        The check and the reservation are one transaction in the store, serialised per user and per space across
        every process. Record the turns' usage inside the block: the hold is dropped only after the real cost is
        counted.
        """
        if not self._limited():
            yield  # nothing to hold against: no database round trip
            return
        estimate = self.prices.estimate(model, size, inputs, searching) * count
        now = self.clock()
        hold = Hold(key.platform, key.space, user.id, estimate, day_start(now), month_start(now), count)
        taken = await self._store.reserve(hold, lambda totals: self._refusal(totals, estimate, exempt, now, count))
        if isinstance(taken, LimitReached):
            raise taken
        try:
            yield
        finally:
            await asyncio.shield(self._store.release(taken))

    async def check(
        self, key: ThreadKey, user: User, model: str, size: str | None, inputs: int, exempt: bool, count: int = 1
    ) -> None:
        """Raise LimitReached when a request like this would be refused now: asked before anything is downloaded
        or decoded for it (`reserve` asks again, holding the estimate, when the request runs)."""
        if not self._limited():
            return
        estimate = self.prices.estimate(model, size, inputs) * count
        now = self.clock()
        hold = Hold(key.platform, key.space, user.id, estimate, day_start(now), month_start(now), count)
        if refusal := self._refusal(await self._store.totals(hold), estimate, exempt, now, count):
            raise refusal

    def _limited(self) -> bool:
        limits = self.limits
        return not (limits.user_daily_images is None and limits.space_daily_usd is None
                    and limits.space_monthly_usd is None)

    def _refusal(self, totals: Totals, estimate: float, exempt: bool, now: float, count: int) -> LimitReached | None:
        limits = self.limits
        if limits.user_daily_images is not None and not exempt:
            if totals.user_images_today + count > limits.user_daily_images:
                left = max(0, limits.user_daily_images - totals.user_images_today)
                whole = (f"These {count} images need {count} of your daily limit of {limits.user_daily_images}; "
                         f"you have {left} left, so none were made. ") if count > 1 else (
                         f"You have reached your daily limit of {limits.user_daily_images} images. ")
                return LimitReached(whole + _resets(day_start(now) + 86_400, now), reason="user_daily_images")
        if limits.space_daily_usd is not None and totals.space_usd_today + estimate > limits.space_daily_usd + 1e-9:
            return LimitReached(
                f"This server/workspace has used its daily image budget (${totals.space_usd_today:.2f} of "
                f"${limits.space_daily_usd:.2f}). " + _set_cost(count, estimate)
                + _resets(day_start(now) + 86_400, now),
                reason="space_daily_usd",
            )
        if limits.space_monthly_usd is not None and totals.space_usd_month + estimate > limits.space_monthly_usd + 1e-9:
            return LimitReached(
                f"This server/workspace has used its monthly image budget (${totals.space_usd_month:.2f} of "
                f"${limits.space_monthly_usd:.2f}). " + _set_cost(count, estimate) + _resets(next_month(now), now),
                reason="space_monthly_usd",
            )
        return None


@dataclass(frozen=True)
class UsageReport:
    user_images_today: int
    user_cost_today: float
    user_images_month: int
    user_cost_month: float
    space_cost_today: float
    space_cost_month: float
    limits: Limits
    top_users: tuple[tuple[str, int, float], ...] = ()

    def lines(self) -> list[str]:
        """The report in plain words; adapters format it for their platform."""
        daily = f" of {self.limits.user_daily_images}" if self.limits.user_daily_images is not None else ""
        lines = [
            f"You: {self.user_images_today}{daily} images today (${self.user_cost_today:.2f}), "
            f"{self.user_images_month} this month (${self.user_cost_month:.2f}).",
        ]
        day_cap = f" of ${self.limits.space_daily_usd:.2f}" if self.limits.space_daily_usd is not None else ""
        month_cap = f" of ${self.limits.space_monthly_usd:.2f}" if self.limits.space_monthly_usd is not None else ""
        lines.append(
            f"This server/workspace: ${self.space_cost_today:.2f}{day_cap} today, "
            f"${self.space_cost_month:.2f}{month_cap} this month."
        )
        if self.top_users:
            lines.append("Top users this month: " + ", ".join(
                f"{user} {images} images ${cost:.2f}" for user, images, cost in self.top_users
            ))
        return lines


async def usage_report(store: Store, accountant: Accountant, key: ThreadKey, user: User, admin: bool) -> UsageReport:
    now = accountant.clock()
    today, month = day_start(now), month_start(now)
    images_today, cost_today = await store.user_totals(key.platform, user.id, today)
    images_month, cost_month = await store.user_totals(key.platform, user.id, month)
    return UsageReport(
        images_today, cost_today, images_month, cost_month,
        await store.space_spend(key.platform, key.space, today),
        await store.space_spend(key.platform, key.space, month),
        accountant.limits,
        tuple(await store.top_users(key.platform, key.space, month)) if admin else (),
    )

