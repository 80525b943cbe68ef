"""Scenario: SIGTERM during in-flight work loses nothing; the health endpoint reports the queue."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.scenarios.console.harness import StartConsole
from tests.support import free_port, until

pytestmark = pytest.mark.scenario


def turns(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "bot.db") as db:
        return db.execute("SELECT status, prompt FROM turns ORDER BY id").fetchall()


async def test_sigterm_lets_the_request_in_flight_finish(tmp_path, gemini, start_console: StartConsole):
    gemini.hold()
    port = free_port()
    process = await start_console(tmp_path, gemini, HEALTH_PORT=str(port), HEALTH_HOST="127.0.0.1")
    process.stdin.write(b"/imagine a slow fox\n")
    await process.stdin.drain()
    await until(lambda: gemini.held == 1, timeout=10)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
            health = await response.json()
        assert response.status == 200 and health["status"] == "ok" and health["in_flight"] == 1
        assert health["queue_depth"] == 0 and health["failures_last_hour"] == {}
        process.send_signal(signal.SIGTERM)

        async def stopping() -> bool:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                return (await response.json())["status"] == "stopping"

        await until(stopping, timeout=10, what="the bot to take the signal")
    gemini.release()  # only now may the request in flight finish
    stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    lines = stdout.decode().splitlines()
    assert process.returncode == 0, stderr.decode()
    assert lines[0].startswith("thread: ") and lines[1].startswith("image: ") and Path(lines[1][7:]).is_file()
    assert turns(tmp_path) == [("ok", "a slow fox")]


async def test_sigterm_past_the_grace_interrupts_but_keeps_the_request(tmp_path, gemini, start_console: StartConsole):
    gemini.hold()  # Gemini does not answer within the grace
    process = await start_console(tmp_path, gemini, BOT_SHUTDOWN_GRACE="0.3")
    process.stdin.write(b"/imagine an endless fox\n")
    await process.stdin.drain()
    await until(lambda: gemini.held == 1, timeout=10)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr.decode()
    lines = stdout.decode().splitlines()
    assert lines[-1].startswith("error: The bot restarted before this image was finished")
    assert turns(tmp_path) == [("failed", "an endless fox")]
