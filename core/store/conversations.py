"""Threads and their turns: saved, completed, failed, read back as a bounded history, forgotten."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from core.events import Options, ThreadKey
from core.store.base import StoreBase
from core.store.records import Content, ThreadRecord, TurnRecord, controls_json, dehydrate, hydrate, options_at
from core.turns import TurnInfo

THREAD_WHERE = "platform=:platform AND space=:space AND channel=:channel AND thread=:thread"


def _key(key: ThreadKey) -> dict[str, str]:
    return {"platform": key.platform, "space": key.space, "channel": key.channel, "thread": key.thread}


class Conversations(StoreBase):
    # threads -----------------------------------------------------------------------------------------

    async def get_thread(self, key: ThreadKey) -> ThreadRecord | None:
        row = await self._one(
            f"SELECT id, model, aspect_ratio, image_size, created_by, controls FROM threads WHERE {THREAD_WHERE}",
            _key(key),
        )
        return ThreadRecord(row[0], key, options_at(row, 1, row[5]), row[4]) if row else None

    async def save_thread(self, key: ThreadKey, options: Options, user_id: str) -> ThreadRecord:
        """Create the thread, or set its options when it exists (the creator stays)."""
        now = time.time()
        row = await self._one(
            "INSERT INTO threads (platform, space, channel, thread, model, aspect_ratio, image_size, "
            "created_by, created_at, updated_at, controls) VALUES (:platform,:space,:channel,:thread,:model,:ar,"
            ":size,:user,:now,:now,:controls) "
            "ON CONFLICT (platform, space, channel, thread) DO UPDATE SET model=excluded.model, "
            "aspect_ratio=excluded.aspect_ratio, image_size=excluded.image_size, updated_at=excluded.updated_at, "
            "controls=excluded.controls RETURNING id, model, aspect_ratio, image_size, created_by, controls",
            {**_key(key), "model": options.model, "ar": options.aspect_ratio, "size": options.image_size,
             "user": user_id, "now": now, "controls": controls_json(options)},
        )
        return ThreadRecord(row[0], key, options_at(row, 1, row[5]), row[4])

    async def move_thread(self, old: ThreadKey, new: ThreadKey) -> bool:
        """Name a conversation by a new key (its platform thread had to be made anew); False if `old` is unknown."""
        touched = await self._run(
            f"UPDATE threads SET channel=:new_channel, thread=:new_thread, updated_at=:now WHERE {THREAD_WHERE}",
            {**_key(old), "new_channel": new.channel, "new_thread": new.thread, "now": time.time()},
        )
        return touched == 1

    # turns -------------------------------------------------------------------------------------------

    async def add_turn(
        self, thread: ThreadRecord, user_id: str, prompt: str, options: Options, request: Content
    ) -> int:
        """Keep the user's request before anything can fail; it is `pending` until the model answers."""
        body, blobs = await asyncio.to_thread(dehydrate, request)  # hashing megabytes: off the event loop
        async with self._engine.begin() as conn:
            turn_id = (await conn.execute(text(
                "INSERT INTO turns (thread_id, user_id, status, prompt, model, aspect_ratio, image_size, request, "
                "size, created_at, controls) VALUES (:thread,:user,'pending',:prompt,:model,:ar,:size,:request,"
                ":bytes,:now,:controls) RETURNING id"),
                {"thread": thread.id, "user": user_id, "prompt": prompt, "model": options.model,
                 "ar": options.aspect_ratio, "size": options.image_size, "request": body,
                 "bytes": len(body) + sum(map(len, blobs.values())), "now": time.time(),
                 "controls": controls_json(options)},
            )).scalar_one()
            await _put_blobs(conn, turn_id, blobs)
        return int(turn_id)

    async def complete_turn(self, turn_id: int, response: Content, interaction_id: str | None = None) -> None:
        body, blobs = await asyncio.to_thread(dehydrate, response)
        async with self._engine.begin() as conn:
            await conn.execute(text(
                "UPDATE turns SET status='ok', response=:response, size=size+:bytes, error=NULL, "
                "interaction_id=:interaction WHERE id=:id"),
                {"response": body, "bytes": len(body) + sum(map(len, blobs.values())),
                 "interaction": interaction_id, "id": turn_id},
            )
            await _put_blobs(conn, turn_id, blobs)

    async def fail_turn(self, turn_id: int, error: str) -> None:
        await self._run("UPDATE turns SET status='failed', error=:error WHERE id=:id", {"error": error, "id": turn_id})

    async def history(self, thread_id: int, before_turn: int, max_turns: int, max_bytes: int) -> list[Content]:
        """The newest completed turns before `before_turn`, at most `max_turns` and `max_bytes`, oldest first.

        One query: whole turns only (a user message and the model's answer together), so no thought signature
        is ever orphaned.
        """
        rows = await self._rows(
            "WITH w AS (SELECT id, request, response, "
            "  SUM(size) OVER (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS running, "
            "  ROW_NUMBER() OVER (ORDER BY id DESC) AS n "
            "  FROM turns WHERE thread_id=:thread AND status='ok' AND hidden=0 AND id<:before) "
            "SELECT w.id, w.request, w.response, b.hash, b.data FROM w "
            "LEFT JOIN turn_blobs tb ON tb.turn_id=w.id LEFT JOIN blobs b ON b.hash=tb.hash "
            "WHERE w.n<=:turns AND w.running<=:bytes ORDER BY w.id",
            {"thread": thread_id, "before": before_turn, "turns": max_turns, "bytes": max_bytes},
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
            "SELECT model FROM (SELECT id, model FROM turns WHERE thread_id=:thread AND status='ok' AND hidden=0 "
            "AND id<:before ORDER BY id DESC LIMIT :turns) AS newest ORDER BY id",
            {"thread": thread_id, "before": before_turn, "turns": max_turns},
        )
        return [row[0] for row in rows]

    async def chain_point(self, thread_id: int, before_turn: int) -> tuple[str | None, str] | None:
        """(interaction id, model) of the newest completed turn before `before_turn`: where Gemini's chain ends."""
        row = await self._one(
            "SELECT interaction_id, model FROM turns WHERE thread_id=:thread AND status='ok' AND hidden=0 "
            "AND id<:before ORDER BY id DESC LIMIT 1",
            {"thread": thread_id, "before": before_turn},
        )
        return (row[0], row[1]) if row else None

    async def get_turn(self, turn_id: int) -> TurnRecord | None:
        rows = await self._rows(
            "SELECT t.id, t.user_id, t.status, t.prompt, t.model, t.aspect_ratio, t.image_size, t.request, "
            "th.id, th.platform, th.space, th.channel, th.thread, th.model, th.aspect_ratio, th.image_size, "
            "th.created_by, b.hash, b.data, t.controls, th.controls FROM turns t JOIN threads th ON th.id=t.thread_id "
            "LEFT JOIN turn_blobs tb ON tb.turn_id=t.id LEFT JOIN blobs b ON b.hash=tb.hash WHERE t.id=:id",
            {"id": turn_id},
        )
        if not rows:
            return None
        row = rows[0]
        thread = ThreadRecord(row[8], ThreadKey(*row[9:13]), options_at(row, 13, row[20]), row[16])
        blobs = {r[17]: r[18] for r in rows if r[17] is not None}
        return TurnRecord(row[0], thread, row[1], row[2], row[3], options_at(row, 4, row[19]), hydrate(row[7], blobs))

    async def turn_info(self, turn_id: int) -> TurnInfo | None:
        """Who asked for a turn, where and with what, and whether it is its thread's newest: one query, no blobs."""
        row = await self._one(
            "SELECT th.platform, th.space, th.channel, th.thread, t.user_id, t.model, t.aspect_ratio, t.image_size, "
            "th.model, th.aspect_ratio, th.image_size, "
            "(SELECT MAX(id) FROM turns WHERE thread_id=t.thread_id AND status='ok' AND hidden=0), t.controls, "
            "th.controls "
            "FROM turns t JOIN threads th ON th.id=t.thread_id WHERE t.id=:id",
            {"id": turn_id},
        )
        if row is None:
            return None
        latest = row[11]
        return TurnInfo(turn_id, ThreadKey(*row[0:4]), row[4], options_at(row, 5, row[12]),
                        options_at(row, 8, row[13]), latest is None or latest == turn_id)

    async def turn_response(self, turn_id: int) -> Content | None:
        """The model's stored answer to a turn (thought parts included, as Gemini sent them); None if unanswered."""
        rows = await self._rows(
            "SELECT t.response, b.hash, b.data FROM turns t LEFT JOIN turn_blobs tb ON tb.turn_id=t.id "
            "LEFT JOIN blobs b ON b.hash=tb.hash WHERE t.id=:id AND t.response IS NOT NULL",
            {"id": turn_id},
        )
        return hydrate(rows[0][0], {r[1]: r[2] for r in rows if r[1] is not None}) if rows else None

    async def record_files(self, turn_id: int, file_ids: list[str]) -> None:
        """The platform's ids of the files a turn's result was uploaded as (Delete removes these, and only these)."""
        if file_ids:
            await self._run(
                "INSERT INTO turn_files (turn_id, file_id, position) VALUES (:turn, :file, :at) ON CONFLICT DO NOTHING",
                [{"turn": turn_id, "file": file_id, "at": n} for n, file_id in enumerate(file_ids)],
            )

    async def turn_files(self, turn_id: int) -> list[str]:
        rows = await self._rows("SELECT file_id FROM turn_files WHERE turn_id=:turn ORDER BY position, file_id",
                                {"turn": turn_id})
        return [row[0] for row in rows]

    async def forget(self, thread_id: int) -> int:
        """Delete the thread's turns and any image no other turn uses; the number of turns removed."""
        async with self._engine.begin() as conn:
            removed = (await conn.execute(text("DELETE FROM turns WHERE thread_id=:id"), {"id": thread_id})).rowcount
            await conn.execute(text("DELETE FROM blobs WHERE hash NOT IN (SELECT hash FROM turn_blobs)"))
        return removed

    async def _interrupted_turns_failed(self, now: float) -> list[int]:
        """A pending turn no live process is running was cut off by a crash or restart: failed, its request kept
        for a reroll; the ids, so that the adapters can tell their users.

        SQLite serves one process, so at start-up every pending turn is one the last process left. On PostgreSQL
        another process may be running a turn right now: a turn whose thread is still leased is left alone (a
        crashed process's lease lapses within LEASE_S, and the next process to start recovers its turns)."""
        if self.dialect == "sqlite":  # the last process's leases died with it
            await self._run("DELETE FROM leases")
        live = (
            "" if self.dialect == "sqlite" else
            " AND thread_id NOT IN (SELECT th.id FROM threads th JOIN leases l ON l.name = th.platform || '|' || "
            "th.space || '|' || th.channel || '|' || th.thread WHERE l.expires_at > :now)"
        )
        rows = await self._rows(
            f"UPDATE turns SET status='failed', error='interrupted' WHERE status='pending'{live} RETURNING id",
            {"now": now},
        )
        return sorted(row[0] for row in rows)


async def _put_blobs(conn: AsyncConnection, turn_id: Any, blobs: dict[str, bytes]) -> None:
    if blobs:
        await conn.execute(
            text("INSERT INTO blobs (hash, data) VALUES (:hash, :data) ON CONFLICT DO NOTHING"),
            [{"hash": h, "data": d} for h, d in blobs.items()],
        )
        await conn.execute(
            text("INSERT INTO turn_blobs (turn_id, hash) VALUES (:turn, :hash) ON CONFLICT DO NOTHING"),
            [{"turn": turn_id, "hash": h} for h in blobs],
        )
