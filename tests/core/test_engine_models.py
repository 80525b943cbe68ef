"""The engine against the strict emulator: retired names, a model change mid-thread, a 404 mid-run, `/models`."""

import pytest

from core.catalogue import MODELS
from core.costs import Prices
from core.discovery import discover
from core.engine import Engine, EngineConfig
from core.events import ListModels, NextTurn, Options, Reroll, StartThread, ThreadKey, User
from core.failures import BadInput, ModelGone, ModelRetired
from core.generation import GenerateRequest
from tests.emulators.gemini import Status

KEY, KEY2 = ThreadKey("discord", "g1", "c1", "t1"), ThreadKey("discord", "g1", "c1", "t2")
ALICE = User("alice")
FLASH, PRO, OLD = "gemini-nano-banana-2.1", "gemini-3-pro-image", "gemini-3.1-flash-image"
FLAT = "gemini-2.5-flash-image"  # a model that does not think: no signatures, no thinking tokens


def signed(content) -> bool:
    return any("thought_signature" in part for part in content["parts"])


@pytest.mark.parametrize("name,ran", [("gemini-3-pro-image-preview", PRO), ("imagen-4.0-fast-generate-001", FLASH),
                                        ("imagen-ultra", PRO), ("gemini-2.5-flash-image-preview", FLASH)])
async def test_a_retired_name_runs_on_its_replacement_and_says_so_once(engine, gemini, name, ran):
    first = await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model=name)))
    assert first.ok and first.options.model == ran and gemini.requests[-1].model == ran
    assert len(first.notices) == 1 and name in first.notices[0] and ran in first.notices[0]
    second = await engine.handle(NextTurn(KEY, ALICE, "at night"))
    assert second.ok and second.notices == () and gemini.requests[-1].model == ran


async def test_the_default_and_every_short_name_reach_a_current_model(engine, gemini):
    for short in (None, "flash", "pro", "lite"):
        reply = await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model=short)))
        assert reply.ok and reply.notices == () and MODELS[gemini.requests[-1].model].status == "GA"


async def test_a_model_change_mid_thread_resends_the_old_turns_unsigned_and_builds_on_the_last_picture(engine, gemini):
    first = await engine.handle(StartThread(KEY, ALICE, "a lighthouse", options=Options(model="pro")))
    second = await engine.handle(NextTurn(KEY, ALICE, "add a storm", options=Options(model="flash")))
    assert second.ok and second.options.model == FLASH
    wire = gemini.requests[-1]
    assert wire.model == FLASH and wire.previous_image == first.images[0].data  # the pro picture is built on
    assert not signed(wire.contents[1]) and not any(p.get("thought") for p in wire.contents[1]["parts"])
    third = await engine.handle(NextTurn(KEY, ALICE, "and a boat"))
    wire = gemini.requests[-1]
    assert third.ok and not signed(wire.contents[1]) and signed(wire.contents[3])  # flash's own turn keeps its own
    back = await engine.handle(NextTurn(KEY, ALICE, "sharper", options=Options(model="pro")))
    wire = gemini.requests[-1]
    assert back.ok and signed(wire.contents[1]) and not signed(wire.contents[3]) and not signed(wire.contents[5])


async def test_the_emulator_refuses_a_signature_another_model_issued(model, gemini):
    made = await model.generate(GenerateRequest(PRO, [], {"role": "user", "parts": [{"text": "a fox"}]}))
    history = [{"role": "user", "parts": [{"text": "a fox"}]}, made.content]
    with pytest.raises(BadInput) as info:
        await model.generate(GenerateRequest(FLASH, history, {"role": "user", "parts": [{"text": "at night"}]}))
    assert "did not issue" in info.value.message
    assert (await model.generate(GenerateRequest(PRO, history, {"role": "user", "parts": [{"text": "ok"}]}))).images


async def test_a_404_mid_run_moves_the_thread_to_the_replacement(engine, gemini):
    first = await engine.handle(StartThread(KEY, ALICE, "a lighthouse", options=Options(model=OLD, image_size="512px")))
    assert first.ok
    gemini.offered.remove(OLD)  # Google retires it while the bot runs
    gone = await engine.handle(NextTurn(KEY, ALICE, "add a storm"))
    assert isinstance(gone.failure, ModelRetired) and gone.failure.retryable
    assert OLD in gone.failure.message and FLASH in gone.failure.message
    thread = await engine.store.get_thread(KEY)
    assert thread is not None and thread.options.model == FLASH and thread.options.image_size is None  # no 512px
    again = await engine.handle(Reroll(gone.turn_id, ALICE))  # Try again runs on the replacement
    assert again.ok and gemini.requests[-1].model == FLASH and not signed(gemini.requests[-1].contents[1])
    later = await engine.handle(NextTurn(KEY, ALICE, "and a boat"))
    assert later.ok and later.notices == () and gemini.requests[-1].model == FLASH
    other = await engine.handle(StartThread(KEY2, ALICE, "x", options=Options(model=OLD)))
    assert other.ok and other.options.model == FLASH and "not offered" in other.notices[0]


async def test_models_lists_what_can_be_used_now_id_first(engine, gemini):
    reply = await engine.handle(ListModels(KEY, ALICE))
    ids = [line.split(" ")[0] for line in reply.notices]
    assert set(ids) == {m.id for m in MODELS.values()} and ids[0] == FLASH
    flash = reply.notices[0]
    assert "(default)" in flash and "short: flash" in flash and "GA" in flash and "8:1" in flash and "4K" in flash
    assert "$0.067–$0.151 per image" in flash
    engine.lineup.withdraw(OLD)
    assert OLD not in " ".join((await engine.handle(ListModels(KEY, ALICE))).notices)


async def test_thinking_tokens_count_in_the_recorded_cost(store, model, gemini):
    engine = Engine(store, model, EngineConfig(quota_delay_s=0.01))
    reply = await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model="pro")))
    assert reply.ok
    rows = await store.usage_rows("discord", "g1")
    prompt, output = rows[0][3], rows[0][4]
    assert rows[0][7] == pytest.approx(Prices().cost(PRO, None, prompt, output, thought_tokens=180))
    assert rows[0][7] > Prices().cost(PRO, None, prompt, output)


async def test_a_generation_reads_thought_tokens(model, gemini):
    result = await model.generate(GenerateRequest(PRO, [], {"role": "user", "parts": [{"text": "a fox"}]}))
    assert result.thought_tokens == 180 and result.total_tokens == result.prompt_tokens + result.output_tokens + 180
    flat = await model.generate(GenerateRequest(FLAT, [], {"role": "user", "parts": [{"text": "x"}]}))
    assert flat.thought_tokens == 0


async def test_a_model_never_offered_is_a_404_with_the_name(model, gemini):
    gemini.push(Status(404))
    with pytest.raises(ModelGone) as info:
        await model.generate(GenerateRequest(FLASH, [], {"role": "user", "parts": [{"text": "x"}]}))
    assert info.value.model == FLASH and FLASH in info.value.message


async def test_an_image_model_the_catalogue_does_not_know_runs_with_conservative_settings(store, model, gemini):
    gemini.offered = [FLASH, "gemini-4-flash-image"]
    engine = Engine(store, model, EngineConfig(quota_delay_s=0.01), lineup=await discover(model, FLASH))
    reply = await engine.handle(StartThread(KEY, ALICE, "a fox", options=Options(model="gemini-4-flash-image")))
    assert reply.ok and reply.notices == () and gemini.requests[-1].model == "gemini-4-flash-image"
    sized = await engine.handle(StartThread(KEY2, ALICE, "a fox", options=Options(model="gemini-4-flash-image",
                                                                                   image_size="4K")))
    assert "no size option" in sized.failure.message
    rows = await store.usage_rows("discord", "g1")
    assert rows[0][7] >= Prices().cost(PRO, None, rows[0][3], rows[0][4])  # priced like the dearest model
