"""What several processes share through the store, on SQLite and PostgreSQL: each claim is won once, a thread's
lease is held by one store at a time, budget reservations are checked and taken whole, the fleet's pause.
Two `Store` objects on one database stand for two processes (each has its own connections)."""

import asyncio
import time

import aiosqlite
import pytest

from core.events import Options, ThreadKey
from core.failures import Busy
from core.store import MIGRATIONS, Hold, Store, Totals, Usage
from core.store import shared as shared_module
from core.store.copy import copy_store

KEY = ThreadKey("slack", "T1", "C1", "1.0")


@pytest.fixture
async def two(database_url):
    a, b = await Store.open(database_url), await Store.open(database_url)
    yield a, b
    await a.close()
    await b.close()


async def test_an_event_is_claimed_once_whichever_process_asks(two):
    a, b = two
    results = await asyncio.gather(*(store.claim("slack-event", "Ev1") for store in (a, b, a, b)))
    assert sorted(results) == [False, False, False, True]
    assert await a.claim("slack-event", "Ev2") and await b.claim("button", "Ev2")  # kinds are separate


async def test_a_lease_is_held_by_one_process_at_a_time(two):
    a, b = two
    inside, most = 0, 0

    async def turn(store):
        nonlocal inside, most
        async with store.lease("slack|T1|C1|1.0"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.05)
            inside -= 1

    await asyncio.gather(*(turn(store) for store in (a, b) * 3))
    assert most == 1


async def test_a_waiting_turn_gives_up_with_a_busy_failure(two, monkeypatch):
    a, b = two
    async with a.lease("x"):
        with pytest.raises(Busy):
            async with b.lease("x", wait_s=0.1):
                pass
    async with b.lease("x", wait_s=0.1):  # released: free again
        pass


async def test_a_crashed_holders_lease_lapses(two, monkeypatch):
    a, b = two
    monkeypatch.setattr(shared_module, "LEASE_S", 0.2)
    assert await a._take_lease("y", "dead-process")
    started = time.monotonic()
    async with b.lease("y", wait_s=5):
        assert time.monotonic() - started >= 0.1


def _refuse_over(limit):
    return lambda totals: "over" if totals.space_usd_today + 1.0 > limit else None


async def test_reservations_on_two_processes_never_overshoot_a_budget(two):
    a, b = two
    now = time.time()
    hold = Hold("slack", "T1", "U1", 1.0, now - 10, now - 10)
    taken = await asyncio.gather(*(store.reserve(hold, _refuse_over(5.5)) for store in (a, b) * 10))
    granted = [t for t in taken if isinstance(t, int)]
    assert len(granted) == 5 and taken.count("over") == 15
    await a.release(granted[0])
    assert isinstance(await b.reserve(hold, _refuse_over(5.5)), int)


async def test_a_reservation_counts_recorded_usage_and_others_holds(two):
    a, b = two
    now = time.time()
    await a.record_usage(Usage(KEY, "U1", "m", None, 0, 0, 0, 2, 1.5, now))
    seen: list[Totals] = []
    hold = Hold("slack", "T1", "U1", 0.5, now - 10, now - 10)
    await b.reserve(hold, lambda totals: seen.append(totals))
    await a.reserve(hold, lambda totals: seen.append(totals))
    assert seen == [Totals(2, 1.5, 1.5), Totals(3, 2.0, 2.0)]


async def test_a_pause_is_seen_by_every_process_and_the_later_one_wins(two):
    a, b = two
    assert await b.paused_until() == 0.0
    await a.pause_until(2000.0)
    await b.pause_until(1000.0)
    assert await b.paused_until() == 2000.0


async def test_an_existing_sqlite_file_from_before_keeps_its_data(tmp_path):
    path = tmp_path / "old.db"
    async with aiosqlite.connect(path) as db:  # a database as the bot left it at schema 3
        for number, script in enumerate(MIGRATIONS[:3], start=1):
            script = script.replace("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT").replace("{real}", "REAL")
            await db.executescript(script.replace("{blob}", "BLOB") + f"; PRAGMA user_version = {number};")
        await db.execute("INSERT INTO threads VALUES (7, 'console', 'local', 'c', 't', 'm', NULL, NULL, 'u', 1, 1)")
        await db.commit()
    store = await Store.open(f"sqlite:///{path}")
    assert await store.schema_version() == len(MIGRATIONS)
    assert (await store.get_thread(ThreadKey("console", "local", "c", "t"))).options == Options(model="m")
    assert await store.claim("k", "n")
    await store.close()


async def _dump(store):
    tables = {}
    for table in ("threads", "turns", "blobs", "turn_blobs", "turn_files", "usage", "defaults", "claims"):
        rows = await store._rows(f"SELECT * FROM {table}")
        tables[table] = sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows)
    return tables


async def test_copy_is_lossless_and_a_second_run_copies_nothing_twice(tmp_path, postgres_url):
    source = await Store.open(tmp_path / "bot.db")
    thread = await source.save_thread(KEY, Options(model="m", aspect_ratio="16:9"), "U1")
    turn = await source.add_turn(thread, "U1", "a fox", Options(model="m"), {"role": "user", "parts": [
        {"text": "a fox"}, {"inline_data": {"mime_type": "image/png", "data": b"\x89PNG\x00\xff"}}]})
    await source.complete_turn(turn, {"role": "model", "parts": [
        {"inline_data": {"mime_type": "image/png", "data": b"out"}, "thought_signature": b"\xff\x00sig"}]}, "int-1")
    await source.record_usage(Usage(KEY, "U1", "m", "2K", 10, 20, 30, 1, 0.134, 1234.5678))
    await source.claim("slack-message", "T1:C1:1.0")
    await source.set_default("slack", "T1", "", "style", "watercolour", "U1")
    await source.record_files(turn, ["F2", "F1"])
    target = await Store.open(postgres_url)
    first = await copy_store(source, target)
    second = await copy_store(source, target)
    assert await _dump(target) == await _dump(source)
    assert await target.turn_files(turn) == ["F2", "F1"]  # in upload order
    assert {c.table: c.added for c in first}["turns"] == 1 and all(c.added == 0 for c in second)
    moved = await target.save_thread(ThreadKey("slack", "T1", "C1", "2.0"), Options(model="m"), "U2")
    assert moved.id == thread.id + 1  # new rows are numbered after the copied ones
    await source.close()
    await target.close()
