"""The conversation store: threads, turns as lossless Gemini `Content` JSON, content-addressed image blobs, usage.

SQLite through aiosqlite (WAL, versioned schema). Image bytes live once in `blobs`, keyed by their SHA-256;
turns refer to them, so a thread's history never copies an image. The SQL is plain so that a PostgreSQL store
can implement the same methods later.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from core.events import Options, ThreadKey
from core.turns import TurnInfo

BUSY_TIMEOUT_S = 10.0
Content = dict[str, Any]  # a Gemini Content in python mode: {"role": ..., "parts": [...]}, bytes as bytes

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE threads (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL, space TEXT NOT NULL, channel TEXT NOT NULL, thread TEXT NOT NULL,
        model TEXT NOT NULL, aspect_ratio TEXT, image_size TEXT,
        created_by TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
        UNIQUE (platform, space, channel, thread)
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: buttons name turns by id
        thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'ok', 'failed')),
        prompt TEXT NOT NULL,
        model TEXT NOT NULL, aspect_ratio TEXT, image_size TEXT,
        request TEXT NOT NULL,
        response TEXT,
        size INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        created_at REAL NOT NULL
    );
    CREATE INDEX turns_by_thread ON turns (thread_id, id);
    CREATE TABLE blobs (hash TEXT PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE turn_blobs (
        turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
        hash TEXT NOT NULL REFERENCES blobs(hash),
        PRIMARY KEY (turn_id, hash)
    );
    CREATE INDEX turn_blobs_by_hash ON turn_blobs (hash);
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL, space TEXT NOT NULL, user_id TEXT NOT NULL,
        model TEXT NOT NULL, image_size TEXT,
        prompt_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0, images INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE INDEX usage_by_space ON usage (platform, space, created_at);
    CREATE INDEX usage_by_user ON usage (platform, user_id, created_at);
    """,
    """
    ALTER TABLE usage ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
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
        value TEXT NOT NULL, set_by TEXT NOT NULL, updated_at REAL NOT NULL,
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
)
CONTROLS = ("style", "exclude", "think", "thoughts", "search")


@dataclass(frozen=True)
class ThreadRecord:
    id: int
    key: ThreadKey
    options: Options
    created_by: str


@dataclass(frozen=True)
class TurnRecord:
    id: int
    thread: ThreadRecord
    user_id: str
    status: str
    prompt: str
    options: Options
    request: Content


@dataclass(frozen=True)
class Usage:
    key: ThreadKey
    user_id: str
    model: str
    image_size: str | None
    prompt_tokens: int
    output_tokens: int
    total_tokens: int
    images: int
    cost_usd: float = 0.0
    at: float = 0.0  # epoch seconds; 0 means now
    search_queries: int = 0  # Google Search queries run for this turn (billed past a free monthly allowance)


def _json_default(value: object) -> str:
    if isinstance(value, bytes):  # thought signatures: pydantic reads URL-safe base64 back into bytes
        return base64.urlsafe_b64encode(value).decode()
    raise TypeError(f"cannot store {type(value).__name__}")


def dehydrate(content: Content) -> tuple[str, dict[str, bytes]]:
    """Content JSON with each inline image replaced by `{"blob": sha256}`, and the blobs by hash."""
    blobs: dict[str, bytes] = {}
    parts = []
    for part in content.get("parts") or ():
        inline = part.get("inline_data")
        if inline and isinstance(inline.get("data"), bytes):
            digest = hashlib.sha256(inline["data"]).hexdigest()
            blobs[digest] = inline["data"]
            part = {**part, "inline_data": {"mime_type": inline.get("mime_type"), "blob": digest}}
        parts.append(part)
    return json.dumps({**content, "parts": parts}, default=_json_default, separators=(",", ":")), blobs


def hydrate(text: str, blobs: dict[str, bytes]) -> Content:
    content = json.loads(text)
    for part in content.get("parts") or ():
        inline = part.get("inline_data")
        if inline and "blob" in inline:
            inline["data"] = blobs[inline.pop("blob")]
    return content


def _options(row: aiosqlite.Row, offset: int, controls: str | None = None) -> Options:
    return Options(model=row[offset], aspect_ratio=row[offset + 1], image_size=row[offset + 2],
                   **(json.loads(controls) if controls else {}))


def _controls(options: Options) -> str | None:
    """The options beyond model, ratio and size, as the JSON the `controls` columns keep (None when none is set)."""
    found = {name: getattr(options, name) for name in CONTROLS if getattr(options, name) is not None}
    return json.dumps(found, separators=(",", ":")) if found else None


class Store:
    """aiosqlite implementation of the conversation store. Use `await Store.open(path)`; `await close()`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self._write = asyncio.Lock()  # one connection: keep each multi-statement write whole
        self.interrupted: list[int] = []  # turns left pending by the last process (a crash): found by `open`

    @classmethod
    async def open(cls, path: str | Path, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Store:
        """`busy_timeout_s`: how long SQLite waits out another connection's lock before a write fails (the engine
        then keeps a paid-for result's writes and retries them: core.backlog)."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), timeout=busy_timeout_s)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            store = cls(db)
            await store._migrate()
            await store._interrupted_turns_failed()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """One write at a time; a write that fails (locked past the busy timeout, disk full) is rolled back whole,
        so the connection is clean for the next one."""
        async with self._write:
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self._db.rollback()
                raise

    async def _rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return list(await self._db.execute_fetchall(sql, params))

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cur:
            (version,) = await cur.fetchone()  # type: ignore[misc]
        if version > len(MIGRATIONS):
            raise RuntimeError(f"database schema {version} is newer than this bot ({len(MIGRATIONS)}); upgrade the bot")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await self._db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")

    async def _interrupted_turns_failed(self) -> None:
        # A turn still pending at start-up was cut off by a crash or restart; its request stays for a reroll, and
        # `interrupted` names them so that the adapters can tell their users.
        rows = await self._rows("SELECT id FROM turns WHERE status='pending' ORDER BY id", ())
        self.interrupted = [row[0] for row in rows]
        await self._db.execute("UPDATE turns SET status='failed', error='interrupted' WHERE status='pending'")
        await self._db.commit()

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cur:
            (version,) = await cur.fetchone()  # type: ignore[misc]
        return version

    # threads -----------------------------------------------------------------------------------------

    async def get_thread(self, key: ThreadKey) -> ThreadRecord | None:
        async with self._db.execute(
            "SELECT id, model, aspect_ratio, image_size, created_by, controls FROM threads "
            "WHERE platform=? AND space=? AND channel=? AND thread=?",
            (key.platform, key.space, key.channel, key.thread),
        ) as cur:
            row = await cur.fetchone()
        return ThreadRecord(row[0], key, _options(row, 1, row[5]), row[4]) if row else None

    async def save_thread(self, key: ThreadKey, options: Options, user_id: str) -> ThreadRecord:
        """Create the thread, or set its options when it exists (the creator stays)."""
        now = time.time()
        async with self._writing():
            await self._db.execute(
                "INSERT INTO threads (platform, space, channel, thread, model, aspect_ratio, image_size, "
                "created_by, created_at, updated_at, controls) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (platform, space, channel, thread) DO UPDATE SET model=excluded.model, "
                "aspect_ratio=excluded.aspect_ratio, image_size=excluded.image_size, updated_at=excluded.updated_at, "
                "controls=excluded.controls",
                (key.platform, key.space, key.channel, key.thread, options.model, options.aspect_ratio,
                 options.image_size, user_id, now, now, _controls(options)),
            )
            await self._db.commit()
        record = await self.get_thread(key)
        assert record is not None
        return record

    async def move_thread(self, old: ThreadKey, new: ThreadKey) -> bool:
        """Name a conversation by a new key (its platform thread had to be made anew); False if `old` is unknown."""
        async with self._writing():
            cur = await self._db.execute(
                "UPDATE threads SET channel=?, thread=?, updated_at=? "
                "WHERE platform=? AND space=? AND channel=? AND thread=?",
                (new.channel, new.thread, time.time(), old.platform, old.space, old.channel, old.thread),
            )
            await self._db.commit()
        return cur.rowcount == 1

    # turns -------------------------------------------------------------------------------------------

    async def add_turn(
        self, thread: ThreadRecord, user_id: str, prompt: str, options: Options, request: Content
    ) -> int:
        """Keep the user's request before anything can fail; it is `pending` until the model answers."""
        text, blobs = await asyncio.to_thread(dehydrate, request)  # hashing megabytes: off the event loop
        async with self._writing():
            cur = await self._db.execute(
                "INSERT INTO turns (thread_id, user_id, status, prompt, model, aspect_ratio, image_size, request, "
                "size, created_at, controls) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (thread.id, user_id, "pending", prompt, options.model, options.aspect_ratio, options.image_size, text,
                 len(text) + sum(map(len, blobs.values())), time.time(), _controls(options)),
            )
            turn_id = cur.lastrowid
            assert turn_id is not None
            await self._put_blobs(turn_id, blobs)
            await self._db.commit()
        return turn_id

    async def complete_turn(self, turn_id: int, response: Content, interaction_id: str | None = None) -> None:
        text, blobs = await asyncio.to_thread(dehydrate, response)
        async with self._writing():
            await self._db.execute(
                "UPDATE turns SET status='ok', response=?, size=size+?, error=NULL, interaction_id=? WHERE id=?",
                (text, len(text) + sum(map(len, blobs.values())), interaction_id, turn_id),
            )
            await self._put_blobs(turn_id, blobs)
            await self._db.commit()

    async def fail_turn(self, turn_id: int, error: str) -> None:
        async with self._writing():
            await self._db.execute("UPDATE turns SET status='failed', error=? WHERE id=?", (error, turn_id))
            await self._db.commit()

    async def _put_blobs(self, turn_id: int, blobs: dict[str, bytes]) -> None:
        if blobs:
            await self._db.executemany("INSERT OR IGNORE INTO blobs (hash, data) VALUES (?, ?)", blobs.items())
            await self._db.executemany(
                "INSERT OR IGNORE INTO turn_blobs (turn_id, hash) VALUES (?, ?)", [(turn_id, h) for h in blobs]
            )

    async def history(self, thread_id: int, before_turn: int, max_turns: int, max_bytes: int) -> list[Content]:
        """The newest completed turns before `before_turn`, at most `max_turns` and `max_bytes`, oldest first.

        One query: whole turns only (a user message and the model's answer together), so no thought signature
        is ever orphaned.
        """
        rows = await self._rows(
            "WITH w AS (SELECT id, request, response, "
            "  SUM(size) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS running, "
            "  ROW_NUMBER() OVER (ORDER BY id DESC) AS n "
            "  FROM turns WHERE thread_id=? AND status='ok' AND id<?) "
            "SELECT w.id, w.request, w.response, b.hash, b.data FROM w "
            "LEFT JOIN turn_blobs tb ON tb.turn_id=w.id LEFT JOIN blobs b ON b.hash=tb.hash "
            "WHERE w.n<=? AND w.running<=? ORDER BY w.id",
            (thread_id, before_turn, max_turns, max_bytes),
        )
        turns: dict[int, tuple[str, str, dict[str, bytes]]] = {}
        for turn_id, request, response, digest, data in rows:
            entry = turns.setdefault(turn_id, (request, response, {}))
            if digest is not None:
                entry[2][digest] = data
        history: list[Content] = []
        for request, response, blobs in turns.values():
            history += [hydrate(request, blobs), hydrate(response, blobs)]
        return history

    async def turn_models(self, thread_id: int, before_turn: int, max_turns: int) -> list[str]:
        """The model of each of the newest completed turns before `before_turn`, oldest first: the window that
        `history` returns is the newest of these turns."""
        rows = await self._rows(
            "SELECT model FROM (SELECT id, model FROM turns WHERE thread_id=? AND status='ok' AND id<? "
            "ORDER BY id DESC LIMIT ?) ORDER BY id",
            (thread_id, before_turn, max_turns),
        )
        return [row[0] for row in rows]

    async def chain_point(self, thread_id: int, before_turn: int) -> tuple[str | None, str] | None:
        """(interaction id, model) of the newest completed turn before `before_turn`: where Gemini's chain ends."""
        async with self._db.execute(
            "SELECT interaction_id, model FROM turns WHERE thread_id=? AND status='ok' AND id<? "
            "ORDER BY id DESC LIMIT 1",
            (thread_id, before_turn),
        ) as cur:
            row = await cur.fetchone()
        return (row[0], row[1]) if row else None

    async def get_turn(self, turn_id: int) -> TurnRecord | None:
        rows = await self._rows(
            "SELECT t.id, t.user_id, t.status, t.prompt, t.model, t.aspect_ratio, t.image_size, t.request, "
            "th.id, th.platform, th.space, th.channel, th.thread, th.model, th.aspect_ratio, th.image_size, "
            "th.created_by, b.hash, b.data, t.controls, th.controls FROM turns t JOIN threads th ON th.id=t.thread_id "
            "LEFT JOIN turn_blobs tb ON tb.turn_id=t.id LEFT JOIN blobs b ON b.hash=tb.hash WHERE t.id=?",
            (turn_id,),
        )
        if not rows:
            return None
        row = rows[0]
        thread = ThreadRecord(row[8], ThreadKey(*row[9:13]), _options(row, 13, row[20]), row[16])
        blobs = {r[17]: r[18] for r in rows if r[17] is not None}
        return TurnRecord(row[0], thread, row[1], row[2], row[3], _options(row, 4, row[19]), hydrate(row[7], blobs))

    async def turn_info(self, turn_id: int) -> TurnInfo | None:
        """Who asked for a turn, where and with what, and whether it is its thread's newest: one query, no blobs."""
        async with self._db.execute(
            "SELECT th.platform, th.space, th.channel, th.thread, t.user_id, t.model, t.aspect_ratio, t.image_size, "
            "th.model, th.aspect_ratio, th.image_size, "
            "(SELECT MAX(id) FROM turns WHERE thread_id=t.thread_id AND status='ok'), t.controls, th.controls "
            "FROM turns t JOIN threads th ON th.id=t.thread_id WHERE t.id=?",
            (turn_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        latest = row[11]
        return TurnInfo(turn_id, ThreadKey(*row[0:4]), row[4], _options(row, 5, row[12]),
                        _options(row, 8, row[13]), latest is None or latest == turn_id)

    async def record_files(self, turn_id: int, file_ids: list[str]) -> None:
        """The platform's ids of the files a turn's result was uploaded as (Delete removes these, and only these)."""
        async with self._writing():
            await self._db.executemany(
                "INSERT OR IGNORE INTO turn_files (turn_id, file_id) VALUES (?, ?)", [(turn_id, f) for f in file_ids]
            )
            await self._db.commit()

    async def turn_files(self, turn_id: int) -> list[str]:
        rows = await self._rows("SELECT file_id FROM turn_files WHERE turn_id=? ORDER BY rowid", (turn_id,))
        return [row[0] for row in rows]

    async def forget(self, thread_id: int) -> int:
        """Delete the thread's turns and any image no other turn uses; the number of turns removed."""
        async with self._writing():
            cur = await self._db.execute("DELETE FROM turns WHERE thread_id=?", (thread_id,))
            removed = cur.rowcount
            await self._db.execute("DELETE FROM blobs WHERE hash NOT IN (SELECT hash FROM turn_blobs)")
            await self._db.commit()
        return removed

    # usage -------------------------------------------------------------------------------------------

    async def record_usage(self, usage: Usage) -> None:
        async with self._writing():
            await self._db.execute(
                "INSERT INTO usage (platform, space, user_id, model, image_size, prompt_tokens, output_tokens, "
                "total_tokens, images, cost_usd, created_at, search_queries) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (usage.key.platform, usage.key.space, usage.user_id, usage.model, usage.image_size,
                 usage.prompt_tokens, usage.output_tokens, usage.total_tokens, usage.images, usage.cost_usd,
                 usage.at or time.time(), usage.search_queries),
            )
            await self._db.commit()

    async def space_spend(self, platform: str, space: str, since: float) -> float:
        rows = await self._rows(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE platform=? AND space=? AND created_at>=?",
            (platform, space, since),
        )
        return float(rows[0][0])

    async def user_totals(self, platform: str, user_id: str, since: float) -> tuple[int, float]:
        """Images and cost of one user (in every space of the platform) since a time."""
        rows = await self._rows(
            "SELECT COALESCE(SUM(images), 0), COALESCE(SUM(cost_usd), 0) FROM usage "
            "WHERE platform=? AND user_id=? AND created_at>=?",
            (platform, user_id, since),
        )
        return int(rows[0][0]), float(rows[0][1])

    async def top_users(self, platform: str, space: str, since: float, limit: int = 5) -> list[tuple[str, int, float]]:
        rows = await self._rows(
            "SELECT user_id, SUM(images), SUM(cost_usd) FROM usage WHERE platform=? AND space=? AND created_at>=? "
            "GROUP BY user_id ORDER BY SUM(cost_usd) DESC, SUM(images) DESC LIMIT ?",
            (platform, space, since, limit),
        )
        return [(r[0], int(r[1]), float(r[2])) for r in rows]

    async def usage_rows(self, platform: str, space: str) -> list[tuple[Any, ...]]:
        return (
            await self._rows(
                "SELECT user_id, model, image_size, prompt_tokens, output_tokens, total_tokens, images, cost_usd, "
                "created_at "
                "FROM usage WHERE platform=? AND space=? ORDER BY id",
                (platform, space),
            )
        )

    async def search_queries_since(self, since: float) -> int:
        """Search queries the whole bot ran since a time: Google's free allowance is per project, not per space."""
        rows = await self._rows("SELECT COALESCE(SUM(search_queries), 0) FROM usage WHERE created_at>=?", (since,))
        return int(rows[0][0])

    # controls: the stored answer's thoughts, and /settings ---------------------------------------------

    async def turn_response(self, turn_id: int) -> Content | None:
        """The model's stored answer to a turn (thought parts included, as Gemini sent them); None if unanswered."""
        rows = await self._rows(
            "SELECT t.response, b.hash, b.data FROM turns t LEFT JOIN turn_blobs tb ON tb.turn_id=t.id "
            "LEFT JOIN blobs b ON b.hash=tb.hash WHERE t.id=? AND t.response IS NOT NULL",
            (turn_id,),
        )
        return hydrate(rows[0][0], {r[1]: r[2] for r in rows if r[1] is not None}) if rows else None

    async def defaults(self, platform: str, space: str, channel: str) -> dict[str, str]:
        """The /settings values of a server (channel "") or of one channel, by key."""
        rows = await self._rows(
            "SELECT name, value FROM defaults WHERE platform=? AND space=? AND channel=?", (platform, space, channel)
        )
        return {name: value for name, value in rows}

    async def set_default(self, platform: str, space: str, channel: str, name: str, value: str | None,
                          user_id: str) -> None:
        """Set one /settings key (None clears it)."""
        async with self._writing():
            if value is None:
                await self._db.execute(
                    "DELETE FROM defaults WHERE platform=? AND space=? AND channel=? AND name=?",
                    (platform, space, channel, name),
                )
            else:
                await self._db.execute(
                    "INSERT INTO defaults (platform, space, channel, name, value, set_by, updated_at) "
                    "VALUES (?,?,?,?,?,?,?) ON CONFLICT (platform, space, channel, name) DO UPDATE SET "
                    "value=excluded.value, set_by=excluded.set_by, updated_at=excluded.updated_at",
                    (platform, space, channel, name, value, user_id, time.time()),
                )
            await self._db.commit()
