"""The engine: conversations, bounded history, locks, the call cap, and nothing lost when a step fails."""

import asyncio

import pytest

from core.engine import Engine, EngineConfig
from core.events import EditImages, Forget, ImageInput, NextTurn, Options, Reroll, StartThread, ThreadKey, User
from core.failures import Blocked, NotFound, UnsupportedOption
from core.model import GeminiModel
from tests import pictures
from tests.emulators.gemini import Block, TextOnly
from tests.support import gemini_config, until

KEY = ThreadKey("discord", "g1", "c1", "t1")
ALICE = User("alice")
MiB = 2**20


@pytest.fixture(params=["interactions", "generate_content"])
def gemini_api(request) -> str:
    """Every test here runs on both API paths."""
    return request.param


async def test_start_then_refine_sends_the_earlier_turns_with_signatures(engine, gemini):
    first = await engine.handle(StartThread(KEY, ALICE, "a red fox", options=Options(model="pro", aspect_ratio="16:9")))
    assert first.ok and len(first.images) == 1 and first.options.aspect_ratio == "16:9"
    second = await engine.handle(NextTurn(KEY, ALICE, "make it night"))
    assert second.ok and second.turn_id > first.turn_id
    wire = gemini.requests[-1]
    assert [c["role"] for c in wire.contents] == ["user", "model", "user"]
    assert any("thought_signature" in p for p in wire.contents[1]["parts"])  # else the emulator would have said 400
    assert wire.aspect_ratio == "16:9" and wire.model == "gemini-3-pro-image"


async def test_attached_images_are_the_edit_input(engine, gemini):
    photo = pictures.png(50, 50)
    reply = await engine.handle(EditImages(KEY, ALICE, "make it blue", (ImageInput(photo, "cat.png"),)))
    assert reply.ok
    assert gemini.requests[-1].input_images == [photo]


async def test_later_flags_change_the_thread_from_that_turn_on(engine, gemini):
    await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model="pro")))
    await engine.handle(NextTurn(KEY, ALICE, "wider", options=Options(aspect_ratio="21:9")))
    await engine.handle(NextTurn(KEY, ALICE, "and again"))
    assert [r.aspect_ratio for r in gemini.requests] == [None, "21:9", "21:9"]


async def test_bad_input_is_refused_before_anything_is_stored(engine, gemini):
    empty = await engine.handle(StartThread(KEY, ALICE, "   "))
    assert "prompt is empty" in empty.failure.message
    ratio = await engine.handle(StartThread(KEY, ALICE, "x", options=Options(aspect_ratio="8:1", model="flash-2.5")))
    assert isinstance(ratio.failure, UnsupportedOption)
    many = await engine.handle(
        StartThread(KEY, ALICE, "x", tuple(ImageInput(pictures.png()) for _ in range(4)), Options(model="flash-2.5"))
    )
    assert "at most 3" in many.failure.message
    pdf = await engine.handle(StartThread(KEY, ALICE, "x", (ImageInput(b"%PDF-1.4", "doc.pdf"),)))
    assert "PDF" in pdf.failure.message
    assert gemini.calls == 0 and not await engine.has_thread(KEY)


async def test_next_turn_in_an_unknown_thread_says_how_to_start(engine):
    reply = await engine.handle(NextTurn(KEY, ALICE, "hello"))
    assert isinstance(reply.failure, NotFound) and "/imagine" in reply.failure.message


async def test_a_blocked_turn_keeps_the_request_and_can_be_rerolled(engine, gemini, store):
    await engine.handle(StartThread(KEY, ALICE, "a fox"))
    gemini.push(Block("SAFETY"))
    blocked = await engine.handle(NextTurn(KEY, ALICE, "something edgy", (ImageInput(pictures.png(7, 7)),)))
    assert isinstance(blocked.failure, Blocked) and "SAFETY" in blocked.failure.message
    record = await store.get_turn(blocked.turn_id)
    assert record.status == "failed" and record.prompt == "something edgy"
    retried = await engine.handle(Reroll(blocked.turn_id, ALICE))
    assert retried.ok
    assert gemini.requests[-1].input_images == [pictures.png(7, 7)]
    assert len(gemini.requests[-1].contents) == 3  # the blocked turn itself is not history


async def test_text_only_answer_comes_with_a_hint(engine, gemini):
    gemini.push(TextOnly("Which fox do you mean?"))
    reply = await engine.handle(StartThread(KEY, ALICE, "a fox"))
    assert reply.ok and reply.images == () and reply.text == "Which fox do you mean?"
    assert "Ask for a picture" in reply.notices[0]


async def test_reroll_repeats_the_request_and_upscale_rerenders_bigger(engine, gemini):
    first = await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model="pro", aspect_ratio="3:2")))
    await engine.handle(Reroll(first.turn_id, ALICE))
    assert gemini.requests[-1].prompt == "a fox" and len(gemini.requests[-1].contents) == 1
    upscaled = await engine.handle(Reroll(first.turn_id, ALICE, image_size="4K"))
    assert upscaled.ok and upscaled.options.image_size == "4K"
    wire = gemini.requests[-1]
    assert wire.image_size == "4K" and wire.aspect_ratio == "3:2" and "higher resolution" in wire.prompt
    assert len(wire.contents) == 3  # the image being upscaled is in the history


async def test_upscale_on_a_model_without_sizes_is_refused(engine):
    first = await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model="flash-2.5")))
    reply = await engine.handle(Reroll(first.turn_id, ALICE, image_size="2K"))
    assert isinstance(reply.failure, UnsupportedOption)


async def test_forget_empties_the_history(engine, gemini):
    await engine.handle(StartThread(KEY, ALICE, "a fox"))
    await engine.handle(NextTurn(KEY, ALICE, "night"))
    forgot = await engine.handle(Forget(KEY, ALICE))
    assert "2 turns" in forgot.notices[0]
    await engine.handle(NextTurn(KEY, ALICE, "fresh"))
    assert len(gemini.requests[-1].contents) == 1
    gone = await engine.handle(Reroll(1, ALICE))
    assert isinstance(gone.failure, NotFound)


async def test_turns_in_one_thread_run_one_at_a_time(engine, gemini):
    await engine.handle(StartThread(KEY, ALICE, "a fox"))
    gemini.hold()
    both = asyncio.gather(engine.handle(NextTurn(KEY, ALICE, "one")), engine.handle(NextTurn(KEY, ALICE, "two")))
    await until(lambda: gemini.held == 1)
    gemini.release(1)  # the second may reach Gemini only once the first has its answer
    await until(lambda: gemini.held == 1, what="the second turn")
    gemini.release()
    await both
    assert gemini.max_in_flight == 1
    assert len(gemini.requests[-1].contents) == 5  # the second saw the first's answer


async def test_calls_in_flight_are_capped_across_threads(store, model, gemini):
    engine = Engine(store, model, EngineConfig(max_concurrency=2))
    gemini.hold()
    keys = [ThreadKey("slack", "T1", "C1", str(i)) for i in range(6)]
    running = asyncio.gather(*(engine.handle(StartThread(k, ALICE, f"fox {i}")) for i, k in enumerate(keys)))
    await until(lambda: gemini.held == 2 and engine.queue.waiting == 4, what="two at Gemini, four in line")
    gemini.release()
    replies = await running
    assert all(r.ok for r in replies) and gemini.max_in_flight == 2


@pytest.fixture
async def windowed(gemini, gemini_api):
    """A model that sends our own window every turn: generateContent, or the Interactions API with store=false."""
    real = GeminiModel(gemini_config(gemini, api=gemini_api, store=False))
    yield real
    await real.aclose()


async def test_long_thread_requests_stay_flat_once_the_window_is_full(store, windowed, gemini):
    gemini.image = lambda wire: pictures.noise_png(200, 200, seed=len(gemini.requests))
    engine = Engine(store, windowed, EngineConfig(default_model="pro", history_turns=6))
    await engine.handle(StartThread(KEY, ALICE, "turn 1"))
    for i in range(2, 26):
        assert (await engine.handle(NextTurn(KEY, ALICE, f"turn {i:02d}"))).ok
    sizes = [r.body_bytes for r in gemini.requests]
    assert max(sizes) < 20 * MiB
    assert sizes[24] <= sizes[14] and sizes[14] > sizes[3]
    assert len(gemini.requests[24].contents) == 13  # 6 exchanges and the new message


async def test_a_thread_of_large_images_never_reaches_the_inline_limit(store, windowed, gemini):
    gemini.image = lambda wire: pictures.noise_png(1000, 1000, seed=len(gemini.requests))  # about 3 MB each
    engine = Engine(store, windowed, EngineConfig(history_turns=6))
    photo = pictures.noise_png(1000, 1000, seed=99)
    await engine.handle(StartThread(KEY, ALICE, "start", (ImageInput(photo),)))
    for i in range(14):
        reply = await engine.handle(NextTurn(KEY, ALICE, f"turn {i}", (ImageInput(photo),)))
        assert reply.ok, reply.failure
    sizes = [r.body_bytes for r in gemini.requests]
    assert max(sizes) < 20 * MiB
    assert len(gemini.requests[-1].contents) < 13  # the byte budget, not the turn count, bounded it
