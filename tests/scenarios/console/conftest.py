"""The console scenarios' fixtures: run a console process to the end of its input (`console`), or start one to
signal while it works (`start_console`); any process a failing test leaves running is killed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.emulators.gemini import GeminiEmulator
from tests.scenarios.console.harness import Process, RunConsole, StartConsole, gemini_env, spawn


@pytest.fixture
async def console_processes() -> AsyncIterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.wait_for(process.wait(), 10)


@pytest.fixture
def console(console_processes: list[Process]) -> RunConsole:
    async def run(tmp_path: Path, lines: list[str], *args: str, env: dict[str, str] | None = None):
        """Run the console with these stdin lines; (stdout lines, stderr, exit code)."""
        process = await spawn(tmp_path, *args, env=env)
        console_processes.append(process)
        stdout, stderr = await asyncio.wait_for(process.communicate("\n".join(lines).encode() + b"\n"), 60)
        return stdout.decode().splitlines(), stderr.decode(), process.returncode

    return run


@pytest.fixture
def start_console(console_processes: list[Process]) -> StartConsole:
    async def start(tmp_path: Path, gemini: GeminiEmulator, **env: str) -> Process:
        """A console on the Gemini emulator, its stdin left open for the test to write to."""
        process = await spawn(tmp_path, env={**gemini_env(gemini), **env})
        console_processes.append(process)
        return process

    return start
