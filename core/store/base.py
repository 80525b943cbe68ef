"""The store's plumbing shared by its parts: one async SQLAlchemy engine, and short helpers for text SQL."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# What a store call raises when the database cannot serve it now (locked past the busy timeout, disk full, server
# away, no connection free): the engine keeps a paid-for result's writes and retries them (core.backlog).
STORE_ERRORS: tuple[type[BaseException], ...] = (
    sqlite3.Error, OSError, exc.OperationalError, exc.InterfaceError, exc.TimeoutError,
)


class StoreClosed(RuntimeError):
    """The store was closed: a task outliving its process must not write (SQLAlchemy would quietly reconnect)."""


class StoreBase:
    def __init__(self, engine: AsyncEngine) -> None:
        self._open_engine: AsyncEngine | None = engine

    @property
    def _engine(self) -> AsyncEngine:
        if self._open_engine is None:
            raise StoreClosed("the store is closed")
        return self._open_engine

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self._engine.dialect.name

    async def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        async with self._engine.connect() as conn:
            result = await conn.execute(text(sql), params or {})
            rows = list(result.fetchall())
            await conn.commit()
        return rows

    async def _one(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        rows = await self._rows(sql, params)
        return rows[0] if rows else None

    async def _run(self, sql: str, params: dict[str, Any] | list[dict[str, Any]] | None = None) -> int:
        """One write in its own transaction; the number of rows it touched."""
        async with self._engine.begin() as conn:
            return (await conn.execute(text(sql), params or {})).rowcount

    async def _lock(self, conn: AsyncConnection, *names: str) -> None:
        """Serialise transactions over `names` across processes (PostgreSQL: transaction-level advisory locks,
        taken in a fixed order so two cannot deadlock). SQLite needs nothing: one connection, one writer."""
        if self.dialect == "postgresql":
            ordered = sorted(set(names))
            calls = ", ".join(f"pg_advisory_xact_lock(hashtextextended(:n{i}, 0))" for i in range(len(ordered)))
            await conn.execute(text(f"SELECT {calls}"), {f"n{i}": name for i, name in enumerate(ordered)})
