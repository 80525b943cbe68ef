"""One schema for SQLite and PostgreSQL: numbered migrations, run in order at start-up and by `python -m bot migrate`.

A migration is plain SQL, statements separated by `;`. The few types the two databases spell differently are
written as tokens: `{id}` (an integer primary key that is never reused), `{real}` (a double: PostgreSQL's REAL is
only four bytes, too coarse for epoch seconds), `{blob}` (bytes). Everything else (ALTER TABLE ... ADD COLUMN,
CREATE TABLE/INDEX, TEXT, INTEGER, CHECK) is the same in both. The version lives in SQLite's `PRAGMA
user_version` (as before this package existed) and in PostgreSQL's `schema_version` table, where the migrations
run in one transaction under an advisory lock, so processes starting together migrate once.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE threads (
        id {id},
        platform TEXT NOT NULL, space TEXT NOT NULL, channel TEXT NOT NULL, thread TEXT NOT NULL,
        model TEXT NOT NULL, aspect_ratio TEXT, image_size TEXT,
        created_by TEXT NOT NULL, created_at {real} NOT NULL, updated_at {real} NOT NULL,
        UNIQUE (platform, space, channel, thread)
    );
    CREATE TABLE turns (
        id {id},  -- never reused: buttons name turns by id
        thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'ok', 'failed')),
        prompt TEXT NOT NULL,
        model TEXT NOT NULL, aspect_ratio TEXT, image_size TEXT,
        request TEXT NOT NULL,
        response TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        created_at {real} NOT NULL
    );
    CREATE INDEX turns_by_thread ON turns (thread_id, id);
    CREATE TABLE blobs (hash TEXT PRIMARY KEY, data {blob} NOT NULL);
    CREATE TABLE turn_blobs (
        turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
        hash TEXT NOT NULL REFERENCES blobs(hash),
        PRIMARY KEY (turn_id, hash)
    );
    CREATE INDEX turn_blobs_by_hash ON turn_blobs (hash);
    CREATE TABLE usage (
        id {id},
        platform TEXT NOT NULL, space TEXT NOT NULL, user_id TEXT NOT NULL,
        model TEXT NOT NULL, image_size TEXT,
        prompt_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0, images INTEGER NOT NULL DEFAULT 0,
        created_at {real} NOT NULL
    );
    CREATE INDEX usage_by_space ON usage (platform, space, created_at);
    CREATE INDEX usage_by_user ON usage (platform, user_id, created_at);
    """,
    """
    ALTER TABLE usage ADD COLUMN cost_usd {real} NOT NULL DEFAULT 0;
    """,
    """
    ALTER TABLE turns ADD COLUMN interaction_id TEXT;  -- Gemini's stored interaction for this turn, if any
    """,
    """
    ALTER TABLE threads ADD COLUMN controls TEXT;  -- JSON: style, exclude, think, thoughts, search
    ALTER TABLE turns ADD COLUMN controls TEXT;
    ALTER TABLE usage ADD COLUMN search_queries INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE defaults (  -- /settings: a server's (channel '') or a channel's defaults, one row per key
        platform TEXT NOT NULL, space TEXT NOT NULL, channel TEXT NOT NULL, name TEXT NOT NULL,
        value TEXT NOT NULL, set_by TEXT NOT NULL, updated_at {real} NOT NULL,
        PRIMARY KEY (platform, space, channel, name)
    );
    """,
    """
    CREATE TABLE turn_files (  -- the platform files a turn's result was uploaded as: what Delete removes
        turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
        file_id TEXT NOT NULL,
        PRIMARY KEY (turn_id, file_id)
    );
    """,
    # 6 (issue 12): a variant set's turns share `variant_set` (the first one's id); `hidden` turns stay stored (a button
    # may still name them) but leave the history: the variants not chosen, a set rerolled as a whole.
    """
    ALTER TABLE turns ADD COLUMN variant_set INTEGER;
    ALTER TABLE turns ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX turns_by_variant_set ON turns (variant_set) WHERE variant_set IS NOT NULL;
    """,
    """
    -- several processes, one state: claims answer an event once, leases run a thread's turns one at a time,
    -- reservations hold budget, shared values carry the fleet's "paused until" after a 429
    CREATE TABLE claims (kind TEXT NOT NULL, name TEXT NOT NULL, at {real} NOT NULL, PRIMARY KEY (kind, name));
    CREATE INDEX claims_by_age ON claims (at);
    CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at {real} NOT NULL);
    CREATE TABLE reservations (
        id {id},
        platform TEXT NOT NULL, space TEXT NOT NULL, user_id TEXT NOT NULL,
        usd {real} NOT NULL, images INTEGER NOT NULL DEFAULT 1, expires_at {real} NOT NULL
    );
    CREATE INDEX reservations_by_space ON reservations (platform, space);
    CREATE TABLE shared_values (name TEXT PRIMARY KEY, value {real} NOT NULL);
    ALTER TABLE turn_files ADD COLUMN position INTEGER NOT NULL DEFAULT 0;  -- upload order (PostgreSQL has no rowid)
    """,
)

TOKENS = {
    "sqlite": {"{id}": "INTEGER PRIMARY KEY AUTOINCREMENT", "{real}": "REAL", "{blob}": "BLOB"},
    "postgresql": {
        "{id}": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "{real}": "DOUBLE PRECISION", "{blob}": "BYTEA",
    },
}
MIGRATE_LOCK = 0x6E616E6F  # the advisory lock PostgreSQL migrations run under


def statements(script: str, dialect: str) -> list[str]:
    """The migration's statements for one database: comments out, tokens spelled, split on `;`."""
    for token, spelling in TOKENS[dialect].items():
        script = script.replace(token, spelling)
    script = re.sub(r"--[^\n]*", "", script)
    return [s.strip() for s in script.split(";") if s.strip()]


async def version(conn: AsyncConnection) -> int:
    if conn.dialect.name == "sqlite":
        return int((await conn.exec_driver_sql("PRAGMA user_version")).scalar_one())
    await conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
    found = (await conn.execute(text("SELECT MAX(version) FROM schema_version"))).scalar_one()
    return int(found or 0)


async def _set_version(conn: AsyncConnection, number: int) -> None:
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql(f"PRAGMA user_version = {int(number)}")
    else:
        await conn.execute(text("DELETE FROM schema_version"))
        await conn.execute(text("INSERT INTO schema_version (version) VALUES (:v)"), {"v": number})


async def migrate(conn: AsyncConnection) -> tuple[int, int]:
    """Bring the schema up to date inside the caller's transaction; (version before, version after)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK})
    before = await version(conn)
    if before > len(MIGRATIONS):
        raise RuntimeError(f"database schema {before} is newer than this bot ({len(MIGRATIONS)}); upgrade the bot")
    for number, script in enumerate(MIGRATIONS[before:], start=before + 1):
        for statement in statements(script, conn.dialect.name):
            await conn.exec_driver_sql(statement)
        await _set_version(conn, number)
    return before, len(MIGRATIONS)
