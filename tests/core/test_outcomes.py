"""Both API paths read answers into the same values: safety outcomes, errors, usage with thinking tokens."""

import pytest

from bot.offline import THOUGHT_TOKENS
from core.catalogue import MODELS
from core.failures import Failure
from core.generation import GenerateRequest
from core.model import GeminiModel
from tests.emulators.gemini import Block, Finish, Status, TextOnly
from tests.support import gemini_config

PATHS = ("interactions", "generate_content")

PRO_1K = MODELS["gemini-3-pro-image"].image_tokens["1K"]


def ask(model="gemini-2.5-flash-image"):
    return GenerateRequest(model, [], {"role": "user", "parts": [{"text": "a red fox"}]})


async def outcome(gemini, api, item=None, model="gemini-2.5-flash-image"):
    real = GeminiModel(gemini_config(gemini, api=api, attempts=1))
    if item is not None:
        gemini.push(item)
    try:
        result = await real.generate(ask(model))
    except Failure as failure:
        return type(failure).__name__, failure.message, failure.reason, getattr(failure, "retry_after", None)
    finally:
        await real.aclose()
    return result


@pytest.mark.parametrize("item", [
    Block("PROHIBITED_CONTENT"), Block("SAFETY"), Finish("IMAGE_SAFETY"), Finish("IMAGE_RECITATION"),
    Finish("NO_IMAGE"), Finish("MAX_TOKENS"), Status(429, retry_after=7), Status(401), Status(403),
    Status(404), Status(400, message="the image is unreadable"), Status(503),
], ids=repr)
async def test_each_outcome_reads_the_same_on_both_paths(gemini, item):
    first, second = [await outcome(gemini, api, item) for api in PATHS]
    assert isinstance(first, tuple) and first == second
    assert [w.api for w in gemini.requests] == list(PATHS)


async def test_a_text_only_answer_is_the_same_on_both_paths(gemini):
    first, second = [await outcome(gemini, api, TextOnly("A fox is a small canid.")) for api in PATHS]
    assert (first.images, first.text, first.total_tokens) == (second.images, second.text, second.total_tokens) == (
        (), "A fox is a small canid.", 14)


async def test_usage_thoughts_and_signatures_are_read_on_both_paths(gemini):
    results = [await outcome(gemini, api, model="gemini-3-pro-image") for api in PATHS]
    for result in results:
        assert (result.prompt_tokens, result.output_tokens, result.thought_tokens) == (12, PRO_1K, THOUGHT_TOKENS)
        assert result.total_tokens == 12 + PRO_1K + THOUGHT_TOKENS and len(result.images) == 1
        thoughts = [p for p in result.content["parts"] if p.get("thought")]
        assert thoughts and thoughts[0]["text"] == "Planning the composition."
        assert [type(p.get("thought_signature")) for p in result.content["parts"] if "inline_data" in p] == [bytes]
    interactions, generate_content = results
    assert interactions.interaction_id == "interaction-1" and generate_content.interaction_id is None
    assert interactions.text == generate_content.text == "Offline stand-in: a red fox"
