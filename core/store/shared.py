"""What several bot processes share through the database: claims (each event answered once), leases (a thread's
turns one at a time, whichever process runs them), budget reservations, and the fleet's "paused until".

All of it is plain rows, so SQLite (one process) and PostgreSQL (many) run the same SQL. Leases are rows with an
expiry rather than session advisory locks, so a waiting turn holds no database connection; a crashed process's
lease lapses after `LEASE_S`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.failures import Busy
from core.store.base import STORE_ERRORS, StoreBase
from core.store.records import Hold, Totals

log = logging.getLogger(__name__)

R = TypeVar("R")
LEASE_S = 30.0  # a lease outlives its holder's last renewal by this much
CLAIM_KEEP_S = 2 * 86_400  # Slack retries within minutes; claims older than this are pruned
RESERVATION_S = 3600.0  # a crashed process's reservations stop counting after this
PAUSED_UNTIL = "gemini_paused_until"


class LeaseTimeout(Busy):
    """The thread stayed busy (another process's turn) for longer than the wait allowed: a failure the user reads."""

    def __init__(self, name: str) -> None:
        super().__init__("This conversation is busy with another request. Try again in a minute.", reason=name)


class SharedState(StoreBase):
    _holder = uuid.uuid4().hex  # replaced per store in Store.__init__
    _leases = itertools.count()
    _claims = itertools.count()

    # claims --------------------------------------------------------------------------------------------

    async def claim(self, kind: str, name: str) -> bool:
        """True for the first caller (in any process) to claim `name` of `kind`; False for every later one."""
        now = time.time()
        claimed = await self._rows(
            "INSERT INTO claims (kind, name, at) VALUES (:k, :n, :at) ON CONFLICT DO NOTHING RETURNING 1",
            {"k": kind, "n": name, "at": now},
        )
        if next(self._claims) % 1000 == 999:
            await self._run("DELETE FROM claims WHERE at < :old", {"old": now - CLAIM_KEEP_S})
        return bool(claimed)

    async def unclaim(self, kind: str, name: str) -> None:
        await self._run("DELETE FROM claims WHERE kind=:k AND name=:n", {"k": kind, "n": name})

    # leases --------------------------------------------------------------------------------------------

    async def _take_lease(self, name: str, holder: str) -> bool:
        now = time.time()
        taken = await self._rows(
            "INSERT INTO leases (name, holder, expires_at) VALUES (:n, :h, :exp) ON CONFLICT (name) DO UPDATE "
            "SET holder=excluded.holder, expires_at=excluded.expires_at WHERE leases.expires_at < :now "
            "RETURNING holder",
            {"n": name, "h": holder, "exp": now + LEASE_S, "now": now},
        )
        return bool(taken)

    async def _renew(self, name: str, holder: str) -> None:
        while True:
            await asyncio.sleep(LEASE_S / 3)
            try:
                await self._run("UPDATE leases SET expires_at=:exp WHERE name=:n AND holder=:h",
                                {"exp": time.time() + LEASE_S, "n": name, "h": holder})
            except STORE_ERRORS:  # the database is away for a moment: the next renewal tries again
                log.warning("could not renew the lease on %s", name, exc_info=True)

    @asynccontextmanager
    async def lease(self, name: str, wait_s: float = 600.0) -> AsyncIterator[None]:
        """Hold `name` against every process; wait (polling, backing off to 0.5 s) up to `wait_s`."""
        holder = f"{self._holder}:{next(self._leases)}"
        deadline, delay = time.monotonic() + wait_s, 0.02
        while not await self._take_lease(name, holder):
            if time.monotonic() >= deadline:
                raise LeaseTimeout(name)
            await asyncio.sleep(delay)
            delay = min(0.5, delay * 2)
        renewer = asyncio.create_task(self._renew(name, holder))
        try:
            yield
        finally:
            renewer.cancel()
            with suppress(asyncio.CancelledError):
                await renewer
            await asyncio.shield(self._drop_lease(name, holder))

    async def _drop_lease(self, name: str, holder: str) -> None:
        try:
            await self._run("DELETE FROM leases WHERE name=:n AND holder=:h", {"n": name, "h": holder})
        except STORE_ERRORS as error:  # the turn is done: the lease lapses by itself within LEASE_S
            log.error("could not release the lease on %s (%s); it lapses within %.0f s", name, error, LEASE_S)

    # reservations ----------------------------------------------------------------------------------------

    async def reserve(self, hold: Hold, refuse: Callable[[Totals], R | None]) -> int | R:
        """Read the totals, ask `refuse`, and take the reservation, in one transaction serialised per user and per
        space across processes: the reservation's id, or what `refuse` said."""
        now = time.time()
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(immediate=True)  # SQLite: read, then write, under one lock
            async with conn.begin():
                await self._lock(conn, f"user:{hold.platform}:{hold.user_id}", f"space:{hold.platform}:{hold.space}")
                refusal = refuse(await _totals(conn, hold, now))
                if refusal is not None:
                    return refusal
                taken = (await conn.execute(text(
                    "INSERT INTO reservations (platform, space, user_id, usd, images, expires_at) "
                    "VALUES (:p,:s,:u,:usd,:images,:exp) RETURNING id"),
                    {"p": hold.platform, "s": hold.space, "u": hold.user_id, "usd": float(hold.usd),
                     "images": hold.images, "exp": now + RESERVATION_S})).scalar_one()
        return int(taken)

    async def totals(self, hold: Hold) -> Totals:
        """What `reserve` would check, without taking anything (a quick refusal before any download)."""
        async with self._engine.connect() as conn:
            found = await _totals(conn, hold, time.time())
            await conn.commit()
        return found

    async def release(self, reservation: int) -> None:
        """Give a reservation back; if the store cannot now, it lapses by itself after RESERVATION_S."""
        try:
            await self._run("DELETE FROM reservations WHERE id=:id", {"id": reservation})
        except STORE_ERRORS as error:
            log.error("could not release reservation %d (%s); it lapses within %.0f s", reservation, error,
                      RESERVATION_S)

    # the fleet's pause ---------------------------------------------------------------------------------

    async def pause_until(self, until: float) -> None:
        """Every process holds its Gemini calls until `until` (epoch seconds); a later pause wins."""
        await self._run(
            "INSERT INTO shared_values (name, value) VALUES (:n, :v) ON CONFLICT (name) DO UPDATE SET value = "
            "CASE WHEN excluded.value > shared_values.value THEN excluded.value ELSE shared_values.value END",
            {"n": PAUSED_UNTIL, "v": float(until)},
        )

    async def paused_until(self) -> float:
        row = await self._one("SELECT value FROM shared_values WHERE name=:n", {"n": PAUSED_UNTIL})
        return float(row[0]) if row else 0.0


async def _totals(conn: AsyncConnection, hold: Hold, now: float) -> Totals:
    row = (await conn.execute(text(
        "SELECT "
        "(SELECT COALESCE(SUM(images), 0) FROM usage WHERE platform=:p AND user_id=:u AND created_at>=:day)"
        " + (SELECT COALESCE(SUM(images), 0) FROM reservations WHERE platform=:p AND user_id=:u AND expires_at>:now), "
        "(SELECT COALESCE(SUM(usd), 0) FROM reservations WHERE platform=:p AND space=:s AND expires_at>:now), "
        "(SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE platform=:p AND space=:s AND created_at>=:day), "
        "(SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE platform=:p AND space=:s AND created_at>=:month)"),
        {"p": hold.platform, "s": hold.space, "u": hold.user_id, "day": hold.day_start, "month": hold.month_start,
         "now": now})).one()
    held = float(row[1])
    return Totals(int(row[0]), float(row[2]) + held, float(row[3]) + held)
