"""Database faults while running: a lock held by another connection is waited out; when the store cannot write (a
lock held too long, a full disk), an image Gemini already made still reaches the user and its turn and usage are
recorded once the store writes again, exactly once."""

import asyncio
import sqlite3

from core.engine import Engine, EngineConfig
from core.events import StartThread, ThreadKey, User
from core.failures import StoreUnavailable
from core.store import Store
from tests.support import until

KEY = ThreadKey("console", "local", "c", "t")


def config() -> EngineConfig:
    return EngineConfig(quota_delay_s=0.01, store_retry_s=0.05)


async def test_a_lock_held_for_a_while_by_another_connection_is_waited_out(tmp_path, model, gemini):
    store = await Store.open(tmp_path / "bot.db", busy_timeout_s=5)
    other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process writing
        asyncio.get_running_loop().call_later(0.5, other.execute, "COMMIT")
        reply = await Engine(store, model, config()).handle(StartThread(KEY, User("u"), "a fox"))
        assert reply.ok and reply.images
        assert len(await store.usage_rows("console", "local")) == 1
    finally:
        other.close()
        await store.close()


async def test_a_lock_held_past_the_busy_timeout_loses_nothing_paid_for(tmp_path, model, gemini):
    store = await Store.open(tmp_path / "bot.db", busy_timeout_s=0.1)
    engine = Engine(store, model, config())
    other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        gemini.hold()
        running = asyncio.create_task(engine.handle(StartThread(KEY, User("u"), "a fox")))
        await until(lambda: gemini.held == 1, what="the request at Gemini")
        other.execute("BEGIN IMMEDIATE")  # the store is locked when Gemini's image comes back
        gemini.release()
        reply = await running
        assert reply.ok and reply.images  # the user has the image
        assert engine.backlog.pending == 2 and await store.usage_rows("console", "local") == []
        other.execute("COMMIT")
        await until(lambda: engine.backlog.pending == 0, what="the kept writes made")
        assert len(await store.usage_rows("console", "local")) == 1
        assert (await store.get_turn(reply.turn_id)).status == "ok"
    finally:
        other.close()
        await store.close()


class FullDisk(Store):
    """The real store on a disk that fills up: while `full`, every write fails as SQLite reports it."""

    full = False

    async def _refuse(self) -> None:
        if self.full:
            raise sqlite3.OperationalError("database or disk is full")

    async def add_turn(self, *args, **kwargs):
        await self._refuse()
        return await super().add_turn(*args, **kwargs)

    async def complete_turn(self, *args, **kwargs):
        await self._refuse()
        return await super().complete_turn(*args, **kwargs)

    async def record_usage(self, *args, **kwargs):
        await self._refuse()
        return await super().record_usage(*args, **kwargs)


async def test_a_full_disk_still_delivers_the_image_and_records_its_usage_once_it_can(tmp_path, model, gemini):
    store = await FullDisk.open(tmp_path / "bot.db")
    engine = Engine(store, model, config())
    try:
        gemini.hold()
        running = asyncio.create_task(engine.handle(StartThread(KEY, User("u"), "a fox")))
        await until(lambda: gemini.held == 1, what="the request at Gemini")
        store.full = True
        gemini.release()
        reply = await running
        assert reply.ok and reply.images
        refused = await engine.handle(StartThread(ThreadKey("console", "local", "c", "t2"), User("u"), "more"))
        assert isinstance(refused.failure, StoreUnavailable) and "Try again" in refused.failure.message
        assert gemini.calls == 1  # nothing was sent (or paid for) that could not be stored
        store.full = False
        await until(lambda: engine.backlog.pending == 0, what="the kept writes made")
        await asyncio.sleep(0.2)  # a second recording would come in this time
        rows = await store.usage_rows("console", "local")
        assert len(rows) == 1 and rows[0][6] == len(reply.images)
    finally:
        await store.close()


async def test_shutdown_makes_one_last_try(tmp_path, model, gemini):
    store = await FullDisk.open(tmp_path / "bot.db")
    engine = Engine(store, model, EngineConfig(quota_delay_s=0.01, store_retry_s=3600))
    try:
        gemini.hold()
        running = asyncio.create_task(engine.handle(StartThread(KEY, User("u"), "a fox")))
        await until(lambda: gemini.held == 1, what="the request at Gemini")
        store.full = True
        gemini.release()
        assert (await running).ok and engine.backlog.pending == 2
        store.full = False
        await engine.shutdown(1)
        assert engine.backlog.pending == 0 and len(await store.usage_rows("console", "local")) == 1
    finally:
        await store.close()
