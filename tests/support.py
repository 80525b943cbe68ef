"""Helpers the tests share (not fixtures): the one bounded wait, a Gemini config for the emulator, a free port."""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.discovery import discover
from core.lineup import Lineup
from core.model import GeminiConfig, GeminiModel
from tests.emulators.gemini import GeminiEmulator

T = TypeVar("T")


async def until(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 5.0,  # a plain deadline reads better in tests than asyncio.timeout
    *,
    what: str = "the condition",
    interval: float = 0.005,
) -> T:
    """Wait, bounded, for a state another task (or process) will bring about, instead of guessing with a sleep.

    Re-checks `predicate` (sync or async) every `interval` seconds and returns its first truthy result; after
    `timeout` seconds raises TimeoutError naming `what`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() >= deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def gemini_config(emulator: GeminiEmulator, **overrides) -> GeminiConfig:
    values = dict(api_key="test-key", base_url=emulator.base_url, attempts=4, initial_delay_s=0.01, max_delay_s=0.05,
                  timeout_s=10)
    values.update(overrides)
    return GeminiConfig(**values)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def history_images(wire) -> list[bytes]:
    """The pictures the model made earlier that a request re-sends: its history's (or Gemini's chain's) images."""
    return [part["inline_data"]["data"] for content in wire.contents[:-1] if content["role"] == "model"
            for part in content["parts"] if "inline_data" in part]


async def discovered(emulator: GeminiEmulator, default: str) -> Lineup:
    """What discovery makes of the emulator's models.list, as `bot/app.py` does at start-up."""
    lister = GeminiModel(gemini_config(emulator))
    try:
        return await discover(lister, default)
    finally:
        await lister.aclose()
