"""The Gemini model port through the real google-genai client against the emulator: every outcome typed."""

import time

import pytest

from core.failures import AuthFailed, BadInput, Blocked, ModelUnavailable, NoImage, NotFound, QuotaExhausted
from core.generation import GenerateRequest
from core.model import GeminiModel
from tests.emulators.gemini import Block, Finish, Status, TextOnly
from tests.pictures import size_of
from tests.support import gemini_config

FLASH, PRO = "gemini-2.5-flash-image", "gemini-3-pro-image"


def ask(text="a red fox", model=FLASH, ratio=None, size=None, history=()):
    return GenerateRequest(model, list(history), {"role": "user", "parts": [{"text": text}]}, ratio, size)


@pytest.fixture(params=["interactions", "generate_content"])
def gemini_api(request) -> str:
    """Every test here runs on both API paths."""
    return request.param


async def test_an_image_with_text_usage_and_the_model_turn_verbatim(model, gemini):
    result = await model.generate(ask(model=PRO, ratio="16:9", size="2K"))
    assert len(result.images) == 1 and result.images[0].mime_type == "image/png"
    assert size_of(result.images[0].data) == (2752, 1536)
    assert result.text.startswith("Offline stand-in")
    assert result.total_tokens > 0 and result.finish_reason == "STOP"
    parts = result.content["parts"]
    assert parts[0]["thought"] is True and isinstance(parts[-1]["thought_signature"], bytes)
    wire = gemini.requests[-1]
    assert (wire.model, wire.aspect_ratio, wire.image_size) == (PRO, "16:9", "2K")
    if wire.api == "generate_content":
        assert wire.raw["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]
    else:
        assert {"type": "text"} in wire.raw["response_format"] and "input" in wire.raw


async def test_size_is_not_sent_to_a_model_without_sizes(model, gemini):
    await model.generate(ask(ratio="4:3", size="2K"))
    assert gemini.requests[-1].aspect_ratio == "4:3" and gemini.requests[-1].image_size is None


async def test_prompt_block_names_its_reason(model, gemini):
    gemini.push(Block("PROHIBITED_CONTENT"))
    with pytest.raises(Blocked) as info:
        await model.generate(ask())
    assert info.value.reason == "PROHIBITED_CONTENT" and "usage policy" in info.value.message


@pytest.mark.parametrize("reason", ["IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "PROHIBITED_CONTENT", "SAFETY",
                                    "RECITATION", "IMAGE_RECITATION", "IMAGE_OTHER"])
async def test_safety_finishes_are_explained(model, gemini, reason):
    gemini.push(Finish(reason))
    with pytest.raises(Blocked) as info:
        await model.generate(ask())
    assert info.value.reason == reason and reason in info.value.message


async def test_no_image_finish(model, gemini):
    gemini.push(Finish("NO_IMAGE"))
    with pytest.raises(NoImage) as info:
        await model.generate(ask())
    assert "NO_IMAGE" in info.value.message


async def test_text_only_answer_is_passed_on(model, gemini):
    gemini.push(TextOnly("A fox is a small canid."))
    result = await model.generate(ask())
    assert result.images == () and result.text == "A fox is a small canid."


async def test_500_and_503_are_retried_with_backoff(model, gemini):
    gemini.push(Status(500), Status(503), Status(502))
    started = time.monotonic()
    result = await model.generate(ask())
    assert len(result.images) == 1 and gemini.calls == 4
    assert time.monotonic() - started >= 0.01 + 0.02 + 0.04 - 0.005  # exponential delays between the attempts


async def test_429_is_left_to_the_engine_queue_with_the_wait_gemini_asked_for(model, gemini):
    gemini.push(Status(429, retry_after=7))
    with pytest.raises(QuotaExhausted) as info:
        await model.generate(ask())
    assert "429" in info.value.message and "quota" in info.value.message
    assert gemini.calls == 1 and info.value.retry_after == 7


async def test_server_errors_after_retries_say_unavailable(model, gemini):
    gemini.push(*[Status(503)] * 4)
    with pytest.raises(ModelUnavailable) as info:
        await model.generate(ask())
    assert "503" in info.value.message


@pytest.mark.parametrize("status,expected", [(Status(401), AuthFailed), (Status(403), AuthFailed),
                                             (Status(400, message="API key not valid."), AuthFailed),
                                             (Status(404), NotFound), (Status(400, message="bad"), BadInput)])
async def test_client_errors_are_typed_and_not_retried(model, gemini, status, expected):
    gemini.push(status)
    with pytest.raises(expected):
        await model.generate(ask())
    assert gemini.calls == 1


async def test_auth_failure_tells_the_operator_what_to_set(model, gemini):
    gemini.push(Status(403))
    with pytest.raises(AuthFailed) as info:
        await model.generate(ask())
    assert "GEMINI_API_KEY" in info.value.message


async def test_timeout_is_unavailable_not_a_crash(gemini):
    gemini.hold()  # never answers while the test runs
    slow = GeminiModel(gemini_config(gemini, timeout_s=0.2, attempts=1))
    try:
        with pytest.raises(ModelUnavailable) as info:
            await slow.generate(ask())
        assert "did not answer" in info.value.message
    finally:
        await slow.aclose()


async def test_unreachable_gemini_is_unavailable(gemini):
    await gemini.stop()
    dead = GeminiModel(gemini_config(gemini, attempts=1))
    try:
        with pytest.raises(ModelUnavailable):
            await dead.generate(ask())
    finally:
        await dead.aclose()


async def test_thought_signatures_round_trip_and_are_checked(model, gemini):
    first = await model.generate(ask(model=PRO))
    history = [{"role": "user", "parts": [{"text": "a red fox"}]}, first.content]
    second = await model.generate(ask("make it night", model=PRO, history=history))
    assert second.images
    sent = gemini.requests[-1].contents[1]["parts"]
    assert any("thought_signature" in p for p in sent)
    stripped = {**first.content, "parts": [{k: v for k, v in p.items() if k != "thought_signature"}
                                           for p in first.content["parts"]]}
    with pytest.raises(BadInput) as info:
        await model.generate(ask("again", model=PRO, history=[history[0], stripped]))
    assert "thought_signature" in info.value.message
