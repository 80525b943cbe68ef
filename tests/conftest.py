"""Shared fixtures: the Gemini emulator, a real store on a temp path, the real Gemini model against the emulator, and
the Slack emulator (the Slack scenarios and the adapter's file tests both use it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.engine import Engine, EngineConfig
from core.model import GeminiModel
from core.store import Store
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.support import gemini_config


@pytest.fixture(autouse=True)
def _offline_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach Google, use Vertex mode or pick up a real key from the environment."""
    for name in ("GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def gemini():
    emulator = GeminiEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def slack_emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
async def store(tmp_path):
    opened = await Store.open(tmp_path / "bot.db")
    yield opened
    await opened.close()


@pytest.fixture
def gemini_api() -> str:
    """The API path the `model` fixture takes; a test module may parametrize it over both."""
    return "interactions"


@pytest.fixture
async def model(gemini, gemini_api):
    real = GeminiModel(gemini_config(gemini, api=gemini_api))
    yield real
    await real.aclose()


@pytest.fixture
def engine(store, model) -> Engine:
    return Engine(store, model, EngineConfig(quota_delay_s=0.01))
