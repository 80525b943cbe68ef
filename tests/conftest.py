"""Shared fixtures: the Gemini emulator, a real store on a temp path, a throwaway PostgreSQL server (and a database
URL parametrized over both backends), the real Gemini model against the emulator, and the Slack emulator (the Slack
scenarios and the adapter's file tests both use it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from core.engine import Engine, EngineConfig
from core.model import GeminiModel
from core.store import Store
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.postgres import Cluster, start_cluster
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


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One throwaway PostgreSQL server for the session (a fresh database per test that asks for one)."""
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
async def postgres_url(postgres: Cluster) -> str:
    return await postgres.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The store contract runs against both databases: a SQLite file, and a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/bot.db"
    return await request.getfixturevalue("postgres").new_database()


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
