"""The store contract, on SQLite and on PostgreSQL alike: schema, lossless Content round-trip, blobs stored once,
bounded history in one query."""

import aiosqlite
import pytest
from google.genai import types

from core.events import Options, ThreadKey
from core.store import MIGRATIONS, DatabaseUrlError, Store, Usage, database_url, dehydrate, describe, hydrate, lock_name
from tests import pictures

KEY = ThreadKey("console", "local", "console", "t1")
OPTS = Options(model="gemini-3-pro-image", aspect_ratio="16:9")


@pytest.fixture
async def store(database_url):
    opened = await Store.open(database_url)
    yield opened
    await opened.close()


async def count(store, table):
    return (await store._one(f"SELECT COUNT(*) FROM {table}"))[0]


def user(text, image=None):
    parts = [{"text": text}]
    if image is not None:
        parts.append({"inline_data": {"mime_type": "image/png", "data": image}})
    return {"role": "user", "parts": parts}


def answer(image, signature=b"sig-bytes-\xff\x00"):
    return {"role": "model", "parts": [
        {"text": "thinking", "thought": True},
        {"inline_data": {"mime_type": "image/png", "data": image}, "thought_signature": signature},
    ]}


async def add_exchange(store, thread, text, image):
    turn = await store.add_turn(thread, "u1", text, OPTS, user(text))
    await store.complete_turn(turn, answer(image))
    return turn


def test_content_round_trips_losslessly_through_genai_types():
    original = types.Content.model_validate(answer(pictures.png()))
    text, blobs = dehydrate(original.model_dump(exclude_none=True))
    assert "sig-bytes" not in text and len(blobs) == 1
    restored = types.Content.model_validate(hydrate(text, blobs))
    assert restored.model_dump(mode="json") == original.model_dump(mode="json")
    assert restored.parts[1].thought_signature == b"sig-bytes-\xff\x00"


async def test_schema_is_versioned_and_uses_wal(tmp_path):
    store = await Store.open(tmp_path / "a" / "bot.db")
    assert await store.schema_version() == len(MIGRATIONS)
    await store.close()
    async with aiosqlite.connect(tmp_path / "a" / "bot.db") as db:
        assert (await (await db.execute("PRAGMA journal_mode")).fetchone())[0] == "wal"
    reopened = await Store.open(tmp_path / "a" / "bot.db")  # migrations do not run twice
    assert await reopened.schema_version() == len(MIGRATIONS)
    await reopened.close()


async def test_an_image_is_stored_once_however_often_it_is_used(store):
    thread = await store.save_thread(KEY, OPTS, "u1")
    image = pictures.png(300, 300)
    for i in range(3):
        await add_exchange(store, thread, f"turn {i}", image)
    assert await count(store, "blobs") == 1


async def test_history_keeps_whole_turns_oldest_first_within_the_turn_window(store):
    thread = await store.save_thread(KEY, OPTS, "u1")
    turns = [await add_exchange(store, thread, f"turn {i}", pictures.png(10, 10, (i, 0, 0))) for i in range(5)]
    history = await store.history(thread.id, turns[-1] + 1, max_turns=3, max_bytes=10**9)
    assert [c["role"] for c in history] == ["user", "model"] * 3
    assert [history[i]["parts"][0]["text"] for i in (0, 2, 4)] == ["turn 2", "turn 3", "turn 4"]
    assert history[1]["parts"][1]["thought_signature"]  # signatures stay on their part
    assert history[5]["parts"][1]["inline_data"]["data"] == pictures.png(10, 10, (4, 0, 0))


async def test_history_drops_oldest_whole_turns_to_stay_within_the_byte_budget(store):
    thread = await store.save_thread(KEY, OPTS, "u1")
    image_size = len(pictures.noise_png(100, 100, 1))
    for i in range(5):
        await add_exchange(store, thread, f"t{i}", pictures.noise_png(100, 100, i + 1))
    history = await store.history(thread.id, 10**9, max_turns=10, max_bytes=int(image_size * 2.5))
    assert [history[i]["parts"][0]["text"] for i in range(0, len(history), 2)] == ["t3", "t4"]


async def test_pending_and_failed_turns_are_not_history_but_are_kept(store):
    thread = await store.save_thread(KEY, OPTS, "u1")
    ok = await add_exchange(store, thread, "good", pictures.png())
    failed = await store.add_turn(thread, "u1", "blocked one", OPTS, user("blocked one", pictures.png(5, 5)))
    await store.fail_turn(failed, "blocked")
    history = await store.history(thread.id, 10**9, 6, 10**9)
    assert len(history) == 2
    record = await store.get_turn(failed)
    assert record.status == "failed" and record.request["parts"][1]["inline_data"]["data"] == pictures.png(5, 5)
    assert (await store.get_turn(ok)).thread.key == KEY


async def test_a_turn_cut_off_by_a_restart_is_marked_failed(database_url):
    store = await Store.open(database_url)
    thread = await store.save_thread(KEY, OPTS, "u1")
    turn = await store.add_turn(thread, "u1", "in flight", OPTS, user("in flight"))
    await store.close()
    store = await Store.open(database_url)
    record = await store.get_turn(turn)
    assert record.status == "failed" and record.prompt == "in flight"
    await store.close()


async def test_a_turn_in_progress_on_another_process_is_left_alone_by_a_starting_one(postgres_url):
    running = await Store.open(postgres_url)
    thread = await running.save_thread(KEY, OPTS, "u1")
    async with running.lease(lock_name(KEY)):
        turn = await running.add_turn(thread, "u1", "in flight", OPTS, user("in flight"))
        starting = await Store.open(postgres_url)
        assert (await starting.get_turn(turn)).status == "pending" and starting.interrupted == []
        await starting.close()
    await running.close()


async def test_forget_removes_turns_and_unused_images(store):
    thread = await store.save_thread(KEY, OPTS, "u1")
    other = await store.save_thread(ThreadKey("console", "local", "console", "t2"), OPTS, "u1")
    shared = pictures.png(20, 20)
    await add_exchange(store, thread, "a", shared)
    await add_exchange(store, thread, "b", pictures.png(30, 30))
    await add_exchange(store, other, "c", shared)
    assert await store.forget(thread.id) == 2
    assert await store.history(thread.id, 10**9, 6, 10**9) == []
    assert await count(store, "blobs") == 1  # the image the other thread still uses stays
    assert len(await store.history(other.id, 10**9, 6, 10**9)) == 2


async def test_thread_options_are_updated_in_place(store):
    first = await store.save_thread(KEY, OPTS, "creator")
    second = await store.save_thread(KEY, Options(model="gemini-3-pro-image", image_size="2K"), "someone")
    assert first.id == second.id and second.created_by == "creator"
    assert (await store.get_thread(KEY)).options.image_size == "2K"


async def test_usage_rows(store):
    await store.record_usage(Usage(KEY, "u1", "gemini-2.5-flash-image", None, 10, 1290, 1300, 1))
    rows = await store.usage_rows("console", "local")
    assert rows[0][:7] == ("u1", "gemini-2.5-flash-image", None, 10, 1290, 1300, 1)


async def test_a_conversation_moves_to_a_new_key_with_its_history(store):
    thread = await store.save_thread(KEY, OPTS, "u1")
    await add_exchange(store, thread, "a", pictures.png())
    moved = ThreadKey("console", "local", "elsewhere", "t9")
    assert await store.move_thread(KEY, moved)
    assert await store.get_thread(KEY) is None
    assert len(await store.history((await store.get_thread(moved)).id, 10**9, 6, 10**9)) == 2
    assert not await store.move_thread(KEY, moved)


async def test_the_schema_is_versioned_on_either_database_and_migrating_again_changes_nothing(database_url):
    first, second = await Store.open(database_url), await Store.open(database_url)
    assert await first.schema_version() == await second.schema_version() == len(MIGRATIONS)
    assert await first.migrate() == (len(MIGRATIONS), len(MIGRATIONS))
    await first.close()
    await second.close()


def test_database_urls_take_sqlalchemys_forms(tmp_path):
    assert database_url("sqlite:///data/bot.db").database == "data/bot.db"
    assert database_url("sqlite:////srv/bot.db").database == "/srv/bot.db"
    assert database_url(tmp_path / "bot.db").drivername == "sqlite+aiosqlite"
    assert database_url("postgresql://bot:secret@db/bot").drivername == "postgresql+asyncpg"
    assert database_url("postgres://bot@db/bot").drivername == "postgresql+asyncpg"
    assert "secret" not in describe(database_url("postgresql://bot:secret@db/bot"))
    with pytest.raises(DatabaseUrlError):
        database_url("mysql://db/bot")
