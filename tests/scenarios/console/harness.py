"""The console scenarios' harness: `python -m bot console` in its own process, in a clean environment (no key or
setting of the machine running the tests leaks in). Fixtures live in conftest.py."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.emulators.gemini import GeminiEmulator

ROOT = Path(__file__).resolve().parents[3]

Process = asyncio.subprocess.Process
RunConsole = Callable[..., Awaitable[tuple[list[str], str, int | None]]]  # (tmp_path, lines, *args, env=)
StartConsole = Callable[..., Awaitable[Process]]  # (tmp_path, gemini, **env)


def environment(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without Gemini, Google or bot settings; the database under `tmp_path`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_", "BOT_"))}
    clean.update({"BOT_DB_PATH": str(tmp_path / "bot.db"), "GEMINI_RETRY_DELAY": "0.01", "PYTHONPATH": str(ROOT)})
    clean.update(env or {})
    return clean


async def spawn(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Process:
    """`python -m bot console --out tmp_path/out ARGS` with pipes on stdin, stdout and stderr."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", "--out", str(tmp_path / "out"), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path, env=environment(tmp_path, env),
    )


def gemini_env(gemini: GeminiEmulator) -> dict[str, str]:
    return {"GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": gemini.base_url}


def kinds(lines: list[str]) -> list[str]:
    return [line.split(":", 1)[0] for line in lines]
