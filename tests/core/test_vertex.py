"""Vertex AI as the backend: express mode (an API key) and a project with credentials, on Vertex's own paths."""

from contextlib import AsyncExitStack
from dataclasses import replace

import google.auth.credentials
import pytest

from bot.app import gemini_config as app_gemini_config
from bot.settings import Settings, SettingsError
from core.engine import Engine, EngineConfig
from core.events import NextTurn, Options, StartThread, ThreadKey, User
from core.generation import GenerateRequest
from core.model import GeminiConfig, GeminiModel
from core.store import Store

KEY = ThreadKey("slack", "T1", "C1", "1.0")
ALICE = User("alice")
FLASH = "gemini-2.5-flash-image"


class FakeCredentials(google.auth.credentials.Credentials):
    """What Application Default Credentials would hand the client, without asking Google for a token."""

    def __init__(self) -> None:
        super().__init__()
        self.token = "ya29.test-token"
        self.refreshes = 0

    def refresh(self, request) -> None:
        self.refreshes += 1
        self.token = "ya29.test-token"


def ask(model=FLASH):
    return GenerateRequest(model, [], {"role": "user", "parts": [{"text": "a red fox"}]})


def vertex(gemini, **values) -> GeminiConfig:
    base = dict(api_key="", base_url=gemini.base_url, api_version="v1beta1", attempts=1, timeout_s=10,
                vertexai=True)
    return GeminiConfig(**{**base, **values})


@pytest.mark.parametrize("api,path", [
    ("interactions", "/v1beta1/interactions"),
    ("generate_content", f"/v1beta1/publishers/google/models/{FLASH}:generateContent"),
])
async def test_express_mode_uses_the_key_on_vertex_paths(gemini, api, path):
    model = GeminiModel(vertex(gemini, api_key="vertex-express-key", api=api))
    try:
        result = await model.generate(ask())
    finally:
        await model.aclose()
    assert len(result.images) == 1
    assert (gemini.requests[0].path, gemini.requests[0].auth) == (path, "vertex-express-key")


@pytest.mark.parametrize("api,path", [
    ("interactions", "/v1beta1/projects/p1/locations/europe-west4/interactions"),
    ("generate_content",
     f"/v1beta1/projects/p1/locations/europe-west4/publishers/google/models/{FLASH}:generateContent"),
])
async def test_a_project_with_credentials_uses_the_project_paths_and_a_bearer_token(gemini, api, path):
    model = GeminiModel(vertex(gemini, project="p1", location="europe-west4", credentials=FakeCredentials(), api=api))
    try:
        result = await model.generate(ask())
    finally:
        await model.aclose()
    assert len(result.images) == 1
    assert (gemini.requests[0].path, gemini.requests[0].auth) == (path, "Bearer ya29.test-token")


async def test_settings_run_a_thread_on_vertex_with_the_chain(gemini, tmp_path):
    settings = Settings.from_env({
        "GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_CLOUD_PROJECT": "p1", "GOOGLE_CLOUD_LOCATION": "us-central1",
        "GEMINI_BASE_URL": gemini.base_url,
    })
    settings.require(offline=False, platforms=())  # a project and ADC need no API key
    config = app_gemini_config(settings, settings.gemini_base_url, settings.gemini_api_key, offline=False)
    assert (config.vertexai, config.project, config.location, config.api_version) == (
        True, "p1", "us-central1", "v1beta1")
    async with AsyncExitStack() as stack:
        store = await Store.open(tmp_path / "bot.db")
        stack.push_async_callback(store.close)
        model = GeminiModel(replace(config, credentials=FakeCredentials(), attempts=1))
        stack.push_async_callback(model.aclose)
        engine = Engine(store, model, EngineConfig())
        assert (await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model="pro")))).ok
        assert (await engine.handle(NextTurn(KEY, ALICE, "make it night"))).ok
    refine = gemini.requests[1]
    assert refine.path == "/v1beta1/projects/p1/locations/us-central1/interactions"
    assert refine.raw["previous_interaction_id"] == "interaction-1" and refine.sent == 1


def test_vertex_needs_a_project_or_an_express_key():
    settings = Settings.from_env({"GOOGLE_GENAI_USE_VERTEXAI": "1"})
    with pytest.raises(SettingsError) as info:
        settings.require(offline=False, platforms=())
    assert "GOOGLE_CLOUD_PROJECT" in str(info.value) and "express" in str(info.value)
    Settings.from_env({"GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_API_KEY": "k"}).require(
        offline=False, platforms=())
    Settings.from_env({"GOOGLE_GENAI_USE_VERTEXAI": "true"}).require(offline=True, platforms=())


def test_the_api_path_and_storage_settings():
    defaults = Settings.from_env({})
    assert (defaults.gemini_api, defaults.gemini_store, defaults.vertexai) == ("interactions", True, False)
    chosen = Settings.from_env({"GEMINI_API": "generate_content", "GEMINI_STORE": "false"})
    assert (chosen.gemini_api, chosen.gemini_store) == ("generate_content", False)
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"GEMINI_API": "chat", "GEMINI_STORE": "maybe", "GOOGLE_GENAI_USE_VERTEXAI": "yes please"})
    assert len(info.value.problems) == 3 and "interactions or generate_content" in str(info.value)
