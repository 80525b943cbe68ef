"""Stories: panels as turns of one conversation, each posted when done, reserved up front, Cancel and Try again."""

import asyncio

import pytest

from core.budget import Limits
from core.events import NextTurn, Progress, Reroll, StartStory, User
from core.failures import LimitReached, UnsupportedOption
from core.turns import Withdrawal
from tests.core.test_limits import key, make_engine
from tests.emulators.gemini import Block
from tests.support import until

ALICE = User("alice")


@pytest.fixture(params=["interactions", "generate_content"])
def gemini_api(request) -> str:
    return request.param


def models_turns(wire) -> int:
    return sum(1 for content in wire.contents[:-1] if content["role"] == "model")


async def test_panel_k_sees_panels_1_to_k_minus_1_and_each_is_posted_as_done(store, model, gemini):
    engine = make_engine(store, model, default_model="pro")
    posted = []

    async def on_part(reply):
        posted.append((reply.caption, gemini.calls))

    reply = await engine.handle(StartStory(key(1), ALICE, "a fox finds a key", 4), on_part=on_part)
    assert reply.ok and "4 of 4 panels" in reply.notices[0]
    assert posted == [("1/4", 1), ("2/4", 2), ("3/4", 3), ("4/4", 4)]  # each handed on before the next call
    assert [models_turns(w) for w in gemini.requests] == [0, 1, 2, 3]
    assert "a fox finds a key" in gemini.requests[0].prompt and "panel 1 of 4" in gemini.requests[0].prompt
    assert "panel 4 of 4: the ending" in gemini.requests[3].prompt
    await engine.handle(NextTurn(key(1), ALICE, "make panel 2 at night"))  # afterwards an ordinary thread
    assert models_turns(gemini.requests[-1]) == 4


async def test_a_story_is_reserved_whole(store, model, gemini):
    engine = make_engine(store, model, Limits(user_daily_images=5))
    refused = await engine.handle(StartStory(key(1), ALICE, "x", 6))
    assert isinstance(refused.failure, LimitReached) and "These 6 images" in refused.failure.message
    assert gemini.calls == 0


async def test_progress_names_the_panel(store, model, gemini):
    engine = make_engine(store, model, progress_interval=0.01)
    heard: list[Progress] = []

    async def progress(update):
        heard.append(update)

    gemini.hold()
    running = asyncio.create_task(engine.handle(StartStory(key(1), ALICE, "x", 2), progress=progress))
    await until(lambda: gemini.held == 1 and heard, what="panel 1 generating")
    assert heard[-1].panel == (1, 2) and heard[-1].describe().startswith("panel 1 of 2: ")
    gemini.release()
    await running
    assert heard[-1].panel == (2, 2)


async def test_cancel_stops_the_rest_of_the_story(store, model, gemini):
    engine = make_engine(store, model)
    posted = []

    async def on_part(reply):
        posted.append(reply.caption)

    gemini.hold()
    running = asyncio.create_task(engine.handle(StartStory(key(1), ALICE, "x", 5), ticket="s1", on_part=on_part))
    await until(lambda: gemini.held == 1, what="panel 1 at the gate")
    assert engine.withdraw("s1", User("mallory"), "discord") is Withdrawal.NOT_YOURS  # running: still only theirs
    assert engine.withdraw("s1", ALICE, "discord") is Withdrawal.CANCELLED
    gemini.release()
    reply = await running
    assert posted == ["1/5"] and gemini.calls == 1
    assert any("Stopped after panel 1 of 5" in n for n in reply.notices)


async def test_a_failed_panel_gets_try_again_without_redoing_the_others(store, model, gemini):
    engine = make_engine(store, model)
    panels = []

    async def on_part(reply):
        panels.append(reply)
        if reply.caption == "1/3":
            gemini.push(Block("SAFETY"))  # panel 2 is blocked (panel 2 is sent only after panel 1 was handed on)

    reply = await engine.handle(StartStory(key(1), ALICE, "x", 3), on_part=on_part)
    assert [p.ok for p in panels] == [True, False, True] and panels[1].offers_retry
    assert any("Panel 2/3 failed" in n for n in reply.notices)
    assert models_turns(gemini.requests[2]) == 1  # panel 3 saw panel 1 (panel 2 failed)
    retried = await engine.handle(Reroll(panels[1].turn_id, ALICE))
    assert retried.ok and gemini.calls == 4  # one call: the others are not redone
    assert models_turns(gemini.requests[-1]) == 1 and "panel 2 of 3" in gemini.requests[-1].prompt


async def test_panels_are_checked(store, model, gemini):
    engine = make_engine(store, model)
    reply = await engine.handle(StartStory(key(1), ALICE, "x", 9))
    assert isinstance(reply.failure, UnsupportedOption) and "2 to 8 panels" in reply.failure.message
