"""Scenarios: an installation moves from SQLite to PostgreSQL with `copy-db` and goes on serving its threads;
`migrate` brings a database up to date; `/metrics` speaks Prometheus' format."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.scenarios.console.harness import ROOT, RunConsole, StartConsole, environment, gemini_env
from tests.support import free_port

pytestmark = pytest.mark.scenario


async def bot_command(tmp_path, *args: str, env: dict[str, str] | None = None) -> tuple[str, str, int | None]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=ROOT, env=environment(tmp_path, env),
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return stdout.decode(), stderr.decode(), process.returncode


async def test_copy_db_moves_threads_to_postgresql_once_and_the_bot_serves_them(
    tmp_path, gemini, postgres_url, console: RunConsole
):
    lines, stderr, code = await console(tmp_path, ["/imagine a red fox"], env=gemini_env(gemini))
    assert code == 0, stderr
    thread = lines[0].removeprefix("thread: ")

    sqlite = f"sqlite:///{tmp_path}/bot.db"
    out, err, code = await bot_command(tmp_path, "copy-db", sqlite, postgres_url)
    assert code == 0, err
    assert "threads: 1 copied, 0 already there" in out and "turns: 1 copied" in out and "blobs: 1 copied" in out
    out, err, code = await bot_command(tmp_path, "copy-db", sqlite, postgres_url)  # re-run: nothing twice
    assert code == 0, err
    assert "turns: 0 copied, 1 already there" in out and "usage: 0 copied, 1 already there" in out

    on_postgres = {**gemini_env(gemini), "BOT_DATABASE_URL": postgres_url, "BOT_DB_PATH": str(tmp_path / "unused.db")}
    lines, stderr, code = await console(tmp_path, [f"/thread {thread}", "make it night"], env=on_postgres)
    assert code == 0, stderr
    assert any(line.startswith("image: ") for line in lines)
    night = gemini.requests[-1]
    assert len(night.contents) == 3 and night.contents[0]["parts"][0]["text"] == "a red fox"
    assert not (tmp_path / "unused.db").exists()  # BOT_DATABASE_URL wins over BOT_DB_PATH

    out, err, code = await bot_command(tmp_path, "migrate", env={"BOT_DATABASE_URL": postgres_url})
    assert code == 0 and "up to date" in out, err


async def test_migrate_creates_a_new_sqlite_database_from_a_url(tmp_path):
    target = tmp_path / "fresh" / "bot.db"
    out, err, code = await bot_command(tmp_path, "migrate", f"sqlite:///{target}")
    assert code == 0, err
    assert "schema 0 -> " in out and target.is_file()
    out, err, code = await bot_command(tmp_path, "copy-db", f"sqlite:///{target}")
    assert code == 2 and "usage: python -m bot copy-db" in err


async def test_metrics_count_images_latency_and_the_queue(tmp_path, gemini, start_console: StartConsole):
    port = free_port()
    process = await start_console(tmp_path, gemini, HEALTH_PORT=str(port), HEALTH_HOST="127.0.0.1")
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b"/imagine a fox\n")
    await process.stdin.drain()
    for _ in range(2):  # thread:, image:
        await asyncio.wait_for(process.stdout.readline(), 20)
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200 and response.content_type == "text/plain"
        families = {f.name: f for f in text_string_to_metric_families(await response.text())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples}
    model = gemini.requests[0].model
    assert samples[("bot_images_total", (("model", model), ("size", "default")))] == 1
    assert samples[("bot_generation_seconds_count", (("model", model),))] == 1
    assert samples[("bot_spend_usd_total", (("model", model), ("size", "default")))] > 0
    assert samples[("bot_queue_depth", ())] == 0 and samples[("bot_calls_in_flight", ())] == 0
    process.stdin.close()
    await asyncio.wait_for(process.wait(), 20)
