"""The store: one implementation of the SQL for SQLite (aiosqlite) and PostgreSQL (asyncpg), through SQLAlchemy
Core's async engine. `await Store.open(url_or_path)`, then `await store.close()`."""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from core.store import schema
from core.store.conversations import Conversations
from core.store.database import database_url, describe, make_engine
from core.store.defaults import Defaults
from core.store.shared import SharedState
from core.store.usage import UsageLedger
from core.store.variants import Variants

log = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 10.0


class Store(Conversations, Variants, UsageLedger, Defaults, SharedState):
    def __init__(self, engine: AsyncEngine, url: URL) -> None:
        super().__init__(engine)
        self.url = url
        self._holder = uuid.uuid4().hex  # names this process's leases
        self.interrupted: list[int] = []  # turns left pending by a process that died: found by `open`

    @classmethod
    async def open(
        cls, target: str | Path | URL, *, migrate: bool = True, busy_timeout_s: float = BUSY_TIMEOUT_S
    ) -> Store:
        """Connect, bring the schema up to date and fail the turns a crash cut off (unless `migrate` is False:
        then it only connects). `busy_timeout_s`: how long SQLite waits out another connection's lock before a write
        fails (the engine then keeps a paid-for result's writes and retries them: core.backlog)."""
        url = target if isinstance(target, URL) else database_url(target)
        store = cls(make_engine(url, busy_timeout_s=busy_timeout_s), url)
        try:
            if migrate:
                before, after = await store.migrate()
                if before != after:
                    log.info("database %s: schema %d -> %d", describe(url), before, after)
                store.interrupted = await store._interrupted_turns_failed(time.time())
        except BaseException:
            await store.close()
            raise
        return store

    async def migrate(self) -> tuple[int, int]:
        async with self._engine.begin() as conn:
            return await schema.migrate(conn)

    async def close(self) -> None:
        engine, self._open_engine = self._open_engine, None
        if engine is not None:
            await engine.dispose()

    async def schema_version(self) -> int:
        async with self._engine.begin() as conn:
            return await schema.version(conn)
