"""The Interactions API path through the engine: Gemini's stored chain when it can be used, our window otherwise."""

import logging

from core.engine import Engine, EngineConfig
from core.events import NextTurn, Options, Reroll, StartThread, ThreadKey, User
from core.model import GeminiModel
from core.store import Store
from tests import pictures
from tests.emulators.gemini import Block, Status
from tests.support import gemini_config

KEY = ThreadKey("discord", "g1", "c1", "t1")
ALICE = User("alice")
PRO = "pro"  # a Gemini 3 model: the emulator checks the thought signatures of what it is sent


def chained(wire) -> bool:
    return wire.raw.get("previous_interaction_id") is not None


async def test_a_refinement_sends_only_the_new_message_and_the_previous_interaction(engine, gemini):
    first = await engine.handle(StartThread(KEY, ALICE, "a red fox", options=Options(model=PRO)))
    second = await engine.handle(NextTurn(KEY, ALICE, "make it night"))
    assert first.ok and second.ok
    start, refine = gemini.requests
    assert start.api == refine.api == "interactions" and not chained(start)
    assert refine.raw["previous_interaction_id"] == "interaction-1" and refine.raw["store"] is True
    assert refine.sent == 1 and [s["type"] for s in refine.raw["input"]] == ["user_input"]
    assert refine.raw["input"][0]["content"] == [{"type": "text", "text": "make it night"}]
    # Gemini continued its own copy of the conversation: the picture being refined, with its signature
    assert [c["role"] for c in refine.contents] == ["user", "model", "user"] and refine.previous_image is not None


async def test_the_request_stays_small_however_long_the_thread(engine, gemini):
    gemini.image = lambda wire: pictures.noise_png(600, 600, seed=len(gemini.requests))  # about 1 MB each
    assert (await engine.handle(StartThread(KEY, ALICE, "turn 1", options=Options(model=PRO)))).ok
    for i in range(2, 9):
        assert (await engine.handle(NextTurn(KEY, ALICE, f"turn {i}"))).ok
    assert all(chained(w) and w.sent == 1 for w in gemini.requests[1:])
    assert max(gemini.sizes[1:]) < 2048 and len(gemini.requests[-1].contents) == 15


async def test_a_forgotten_chain_falls_back_to_our_window_in_the_same_request(engine, gemini):
    assert (await engine.handle(StartThread(KEY, ALICE, "a red fox", options=Options(model=PRO)))).ok
    gemini.forget()  # expired at Google
    reply = await engine.handle(NextTurn(KEY, ALICE, "make it night"))
    assert reply.ok and reply.failure is None
    refused, window = gemini.requests[1:]
    assert chained(refused) and not chained(window)
    assert window.sent == 3 and [s["type"] for s in window.raw["input"]] == [
        "user_input", "thought", "model_output", "user_input"]
    assert (await engine.handle(NextTurn(KEY, ALICE, "add a moon"))).ok  # the new interaction chains again
    assert gemini.requests[-1].raw["previous_interaction_id"] == "interaction-2" and gemini.requests[-1].sent == 1


async def test_with_storage_off_every_turn_sends_our_window(store, gemini):
    model = GeminiModel(gemini_config(gemini, store=False))
    try:
        engine = Engine(store, model, EngineConfig())
        assert (await engine.handle(StartThread(KEY, ALICE, "a red fox", options=Options(model=PRO)))).ok
        assert (await engine.handle(NextTurn(KEY, ALICE, "make it night"))).ok
    finally:
        await model.aclose()
    assert [w.raw["store"] for w in gemini.requests] == [False, False]
    assert not any(chained(w) for w in gemini.requests) and gemini.requests[1].sent == 3
    assert gemini.interactions == {}  # nothing kept at Google


async def test_the_chain_continues_after_a_restart(tmp_path, gemini):
    for run in range(2):
        store = await Store.open(tmp_path / "bot.db")
        model = GeminiModel(gemini_config(gemini))
        try:
            engine = Engine(store, model, EngineConfig())
            event = StartThread(KEY, ALICE, "a fox", options=Options(model=PRO)) if run == 0 else NextTurn(
                KEY, ALICE, "make it night")
            assert (await engine.handle(event)).ok
        finally:
            await model.aclose()
            await store.close()
    assert gemini.requests[1].raw["previous_interaction_id"] == "interaction-1" and gemini.requests[1].sent == 1


async def test_a_model_the_interactions_api_refuses_moves_to_generate_content_once(engine, gemini, caplog):
    gemini.refuse_interactions.add("gemini-2.5-flash-image")
    with caplog.at_level(logging.WARNING, logger="core.model"):
        first = await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model="gemini-2.5-flash-image")))
        second = await engine.handle(NextTurn(KEY, ALICE, "make it night"))
    assert first.ok and second.ok
    assert [w.api for w in gemini.requests] == ["interactions", "generate_content", "generate_content"]
    assert len(gemini.requests[2].contents) == 3  # our window: the turn made on generateContent has no chain
    assert len([r for r in caplog.records if "generateContent" in r.getMessage()]) == 1


async def test_a_model_change_does_not_use_the_chain(engine, gemini):
    assert (await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model=PRO)))).ok
    assert (await engine.handle(NextTurn(KEY, ALICE, "now in flash", options=Options(model="flash")))).ok
    assert not chained(gemini.requests[1]) and gemini.requests[1].sent == 3


async def test_reroll_and_upscale_branch_from_the_right_interaction(engine, gemini):
    turns = [await engine.handle(StartThread(KEY, ALICE, "one", options=Options(model=PRO)))]
    for text in ("two", "three"):
        turns.append(await engine.handle(NextTurn(KEY, ALICE, text)))
    assert all(t.ok for t in turns)
    assert (await engine.handle(Reroll(turns[1].turn_id, ALICE))).ok
    reroll = gemini.requests[-1]
    assert reroll.raw["previous_interaction_id"] == "interaction-1" and reroll.prompt == "two"
    assert (await engine.handle(Reroll(turns[0].turn_id, ALICE))).ok
    assert not chained(gemini.requests[-1]) and gemini.requests[-1].sent == 1  # the first turn has nothing before
    assert (await engine.handle(Reroll(turns[1].turn_id, ALICE, image_size="2K"))).ok
    upscale = gemini.requests[-1]
    assert upscale.raw["previous_interaction_id"] == "interaction-2" and upscale.image_size == "2K"


async def test_reroll_on_generate_content_sends_the_turns_before_it(store, gemini):
    model = GeminiModel(gemini_config(gemini, api="generate_content"))
    try:
        engine = Engine(store, model, EngineConfig())
        first = await engine.handle(StartThread(KEY, ALICE, "one", options=Options(model=PRO)))
        second = await engine.handle(NextTurn(KEY, ALICE, "two"))
        await engine.handle(NextTurn(KEY, ALICE, "three"))
        assert (await engine.handle(Reroll(second.turn_id, ALICE))).ok
    finally:
        await model.aclose()
    assert first.ok and [c["parts"][0]["text"] for c in gemini.requests[-1].contents[::2]] == ["one", "two"]


async def test_every_turn_keeps_its_interaction_id_in_the_store(engine, gemini, store):
    first = await engine.handle(StartThread(KEY, ALICE, "x", options=Options(model=PRO)))
    thread = await store.get_thread(KEY)
    assert await store.chain_point(thread.id, first.turn_id + 1) == ("interaction-1", "gemini-3-pro-image")
    assert await store.chain_point(thread.id, first.turn_id) is None


async def test_other_errors_on_a_chained_turn_are_not_mistaken_for_a_lost_chain(engine, gemini):
    assert (await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model=PRO)))).ok
    gemini.push(Status(400, message="The input image could not be read."))
    reply = await engine.handle(NextTurn(KEY, ALICE, "make it night"))
    assert reply.failure.kind == "bad_input" and "could not be read" in reply.failure.message
    assert len(gemini.requests) == 2 and chained(gemini.requests[1])  # no second attempt with the window


async def test_a_backend_without_the_interactions_endpoint_moves_to_generate_content(engine, gemini):
    gemini.push(Status(404, message="Not Found", interactions_code="not_found"))  # no such endpoint on this backend
    reply = await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model="gemini-2.5-flash-image")))
    assert reply.ok and [w.api for w in gemini.requests] == ["interactions", "generate_content"]


async def test_try_again_after_a_blocked_turn_continues_from_the_last_good_one(engine, gemini):
    assert (await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model=PRO)))).ok
    gemini.push(Block("SAFETY"))
    blocked = await engine.handle(NextTurn(KEY, ALICE, "something it refuses"))
    assert blocked.failure.kind == "blocked"
    again = await engine.handle(Reroll(blocked.turn_id, ALICE))
    assert again.ok and gemini.requests[-1].raw["previous_interaction_id"] == "interaction-1"
    assert gemini.requests[-1].prompt == "something it refuses"
    assert (await engine.handle(NextTurn(KEY, ALICE, "and now"))).ok  # from the retried turn's interaction
    assert gemini.requests[-1].raw["previous_interaction_id"] == "interaction-3"
