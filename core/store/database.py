"""Which database: a URL (SQLAlchemy's forms: `sqlite:///relative.db`, `sqlite:////absolute.db`,
`postgresql://user:pass@host/db`) or a SQLite path, made into an async SQLAlchemy engine on aiosqlite or asyncpg.

SQLite gets one connection (as before: one writer, and no "database is locked" between our own connections), WAL
and foreign keys, and explicit BEGINs so that every transaction, DDL included, is whole.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


class DatabaseUrlError(ValueError):
    pass


def database_url(target: str | Path) -> URL:
    """`target` as a SQLAlchemy URL with an async driver; a path (no `://`) is a SQLite file."""
    raw = str(target)
    if "://" not in raw:
        return URL.create("sqlite+aiosqlite", database=raw)
    try:
        url = make_url(raw)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the reason
        raise DatabaseUrlError(f"{raw!r} is not a database URL: {exc}") from None
    backend = url.drivername.split("+")[0]
    if backend not in DRIVERS:
        raise DatabaseUrlError(f"{url.drivername!r}: use sqlite:///path.db or postgresql://user@host/db")
    return url.set(drivername=DRIVERS[backend])


def describe(url: URL) -> str:
    """The URL for logs: the password hidden."""
    return url.render_as_string(hide_password=True)


def make_engine(url: URL, pool_size: int = 10, busy_timeout_s: float = 10.0) -> AsyncEngine:
    if url.get_backend_name() == "postgresql":
        return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    database = url.database or ":memory:"
    if database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    one: dict[str, Any] = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 300}
    pool: dict[str, Any] = {"poolclass": StaticPool} if database == ":memory:" else one
    engine = create_async_engine(url, connect_args={"timeout": busy_timeout_s}, **pool)
    event.listen(engine.sync_engine, "connect", partial(_sqlite_connected, busy_ms=int(busy_timeout_s * 1000)))
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connected(dbapi_connection: Any, _record: Any, busy_ms: int) -> None:
    dbapi_connection.isolation_level = None  # the driver's own implicit BEGINs off: ours are explicit
    cursor = dbapi_connection.cursor()
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", f"busy_timeout={busy_ms}"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE where a transaction reads and then writes (a reservation: the `immediate` option): it takes the write
    # lock first, so another connection's writer is waited out (busy_timeout) instead of failing the upgrade with
    # "database is locked". Everything else begins deferred: in WAL mode reads go on while another connection writes.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")
