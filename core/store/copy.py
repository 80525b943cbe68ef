"""`copy-db`: every row of one store into another (SQLite to PostgreSQL, or back), losslessly and re-runnably.

Rows keep their ids (buttons name turns by id), and a row whose key is already in the target is skipped, so a
second run copies nothing twice. Leases and reservations are not copied: they belong to running processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text

from core.store.store import Store

# Parents before children (foreign keys). A new table that holds an installation's state is added here.
TABLES: tuple[str, ...] = (
    "threads", "turns", "blobs", "turn_blobs", "turn_files", "usage", "defaults", "claims", "shared_values",
)
IDENTITIES: tuple[str, ...] = ("threads", "turns", "usage", "reservations")  # tables whose `id` the database counts
BATCH = 200


@dataclass(frozen=True)
class Copied:
    table: str
    read: int
    added: int  # the rest were there already


async def copy_store(source: Store, target: Store) -> list[Copied]:
    """Copy table by table; the target's schema is already migrated (Store.open does it)."""
    report = []
    for table in TABLES:
        before = await _count(target, table)
        read = await _copy_table(source, target, table)
        report.append(Copied(table, read, await _count(target, table) - before))
    if target.dialect == "postgresql":
        async with target._engine.begin() as conn:
            for table in IDENTITIES:  # explicit ids were inserted: the next generated id comes after them
                await conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))
    return report


async def _count(store: Store, table: str) -> int:
    return int((await store._one(f"SELECT COUNT(*) FROM {table}"))[0])


async def _copy_table(source: Store, target: Store, table: str) -> int:
    read = 0
    async with source._engine.connect() as reading:
        result = await reading.stream(text(f"SELECT * FROM {table}"))
        columns = list(result.keys())
        insert = text(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
            "ON CONFLICT DO NOTHING"
        )
        async for rows in result.partitions(BATCH):
            batch = [dict(zip(columns, _plain(row), strict=True)) for row in rows]
            async with target._engine.begin() as writing:
                await writing.execute(insert, batch)
            read += len(batch)
    return read


def _plain(row: Sequence[object]) -> list[object]:
    return [bytes(v) if isinstance(v, memoryview) else v for v in row]  # a driver may hand out buffers
