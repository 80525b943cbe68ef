"""Variant sets (issue 12): a set's turns share `variant_set` (the first one's id); `hidden` turns stay stored (a button
may still name them) but leave the history: the variants not chosen, a set rerolled as a whole."""

from __future__ import annotations

from sqlalchemy import bindparam, text

from core.store.base import StoreBase


class Variants(StoreBase):
    async def set_variants(self, turn_ids: list[int]) -> None:
        """These turns are one variant set, hidden from the history until one is shown (`show_variant`)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                text("UPDATE turns SET variant_set=:first, hidden=1 WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)),
                {"first": turn_ids[0], "ids": list(turn_ids)},
            )

    async def variant_set(self, turn_id: int) -> list[tuple[int, str]]:
        """(turn id, status) of every turn in the set `turn_id` belongs to, in order; empty if it is in none."""
        rows = await self._rows(
            "SELECT id, status FROM turns WHERE variant_set=(SELECT variant_set FROM turns WHERE id=:id) ORDER BY id",
            {"id": turn_id},
        )
        return [(row[0], row[1]) for row in rows]

    async def show_variant(self, thread_id: int, since: int, turn_id: int | None) -> bool:
        """The history holds `turn_id` (None: none) of the variant turns from `since` on, and no other of them.

        False (and nothing changed) when an ordinary turn came after them: the conversation moved on from the set.
        """
        async with self._engine.connect() as conn:
            conn = await conn.execution_options(immediate=True)  # SQLite: read, then write, under one lock
            async with conn.begin():
                later = (await conn.execute(text(
                    "SELECT 1 FROM turns WHERE thread_id=:thread AND id>:since AND variant_set IS NULL "
                    "AND status='ok' LIMIT 1"), {"thread": thread_id, "since": since})).first()
                if later is not None:
                    return False
                await conn.execute(text(
                    "UPDATE turns SET hidden=CASE WHEN id=:shown THEN 0 ELSE 1 END "
                    "WHERE thread_id=:thread AND variant_set IS NOT NULL AND id>=:since"),
                    {"shown": turn_id if turn_id is not None else -1, "thread": thread_id, "since": since},
                )
        return True
