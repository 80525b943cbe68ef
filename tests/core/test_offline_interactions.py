"""`--offline`: the built-in stand-in serves the Interactions API too, so the default settings work without a key."""

from bot.app import gemini_config
from bot.offline import GeminiStandIn
from bot.settings import Settings
from core.engine import Engine, EngineConfig
from core.events import NextTurn, Options, StartThread, ThreadKey, User
from core.model import GeminiModel
from tests import pictures

KEY = ThreadKey("console", "local", "local", "1")
ALICE = User("alice")


async def test_the_stand_in_keeps_the_chain_and_draws_over_the_picture_it_refines(store):
    stand_in = GeminiStandIn()
    url = await stand_in.start()
    settings = Settings.from_env({"GOOGLE_GENAI_USE_VERTEXAI": "true"})  # ignored offline: the stand-in's paths
    model = GeminiModel(gemini_config(settings, url, "offline", offline=True))
    try:
        engine = Engine(store, model, EngineConfig())
        first = await engine.handle(StartThread(KEY, ALICE, "a banana", options=Options(model="pro",
                                                                                        aspect_ratio="4:3")))
        second = await engine.handle(NextTurn(KEY, ALICE, "peel it"))
    finally:
        await model.aclose()
        await stand_in.stop()
    assert first.ok and second.ok and pictures.size_of(second.images[0].data) == (1200, 896)
    assert list(stand_in.interactions) == ["interaction-1", "interaction-2"]
    _, chain = stand_in.interactions["interaction-2"]
    assert [c["role"] for c in chain] == ["user", "model", "user", "model"]  # continued from interaction-1
    assert first.images[0].data != second.images[0].data
