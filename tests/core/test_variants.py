"""Variant sets: N calls at once through the fair queue and one reply; "Use k" continues from variant k alone;
"Reroll all"; the whole set reserved up front and refused whole when it does not fit."""

import asyncio
import itertools

import pytest

from core.budget import Limits
from core.events import NextTurn, Options, RerollSet, StartStory, StartThread, User, UseVariant, Workflow
from core.failures import LimitReached
from core.runner import Tickets
from tests import pictures
from tests.core.test_limits import FLASH, key, make_engine
from tests.emulators.gemini import Block, unique_png
from tests.support import history_images, until

ALICE = User("alice")


@pytest.fixture(params=["interactions", "generate_content"])
def gemini_api(request) -> str:
    return request.param


@pytest.fixture(autouse=True)
def distinct_pictures(gemini):
    """Every answer a different picture, so that which variant a history holds can be told apart."""
    base, drawn = pictures.png(64, 64), itertools.count()
    gemini.image = lambda wire: unique_png(base, next(drawn))



async def test_n_variants_are_parallel_calls_and_one_reply(store, model, gemini):
    engine = make_engine(store, model, max_concurrency=4)
    gemini.hold()
    running = asyncio.create_task(engine.handle(StartThread(key(1), ALICE, "a red fox", workflow=Workflow(n=4))))
    await until(lambda: gemini.held == 4, what="all four variants in flight at once")
    gemini.release()
    reply = await running
    assert reply.ok and len(reply.images) == 4 and len(set(reply.variants)) == 4
    assert len({image.data for image in reply.images}) == 4
    assert gemini.calls == 4 and gemini.max_in_flight == 4
    assert all(r.prompt == "a red fox" for r in gemini.requests)
    assert "Use 2…4" in reply.notices[-1]


async def test_use_k_continues_from_variant_k_and_no_other(store, model, gemini, gemini_api):
    engine = make_engine(store, model, default_model="pro")
    made = await engine.handle(StartThread(key(1), ALICE, "a red fox", workflow=Workflow(n=3)))
    assert made.ok and len(made.variants) == 3
    chosen = await engine.handle(UseVariant(made.variants[2], User("bob")))
    assert chosen.ok and "picture 3" in chosen.notices[0]
    await engine.handle(NextTurn(key(1), ALICE, "make it night"))
    wire = gemini.requests[-1]
    if gemini_api == "interactions":  # Gemini's chain continues from variant 3's own interaction
        assert wire.previous_interaction_id is not None and wire.sent == 1
    assert history_images(wire) == [made.images[2].data]  # the emulator also checked its signature


async def test_without_a_choice_the_thread_goes_on_from_picture_1(store, model, gemini):
    engine = make_engine(store, model)
    made = await engine.handle(StartThread(key(1), ALICE, "a fox", workflow=Workflow(n=2)))
    await engine.handle(NextTurn(key(1), ALICE, "make it night"))
    assert history_images(gemini.requests[-1]) == [made.images[0].data]


async def test_use_is_refused_once_the_thread_moved_on(store, model, gemini):
    engine = make_engine(store, model)
    made = await engine.handle(StartThread(key(1), ALICE, "a fox", workflow=Workflow(n=2)))
    await engine.handle(NextTurn(key(1), ALICE, "make it night"))
    late = await engine.handle(UseVariant(made.variants[1], ALICE))
    assert "moved on" in late.failure.message


async def test_reroll_all_makes_a_new_set_seeing_the_same_history(store, model, gemini):
    engine = make_engine(store, model)
    await engine.handle(StartThread(key(1), ALICE, "a fox"))
    first = await engine.handle(NextTurn(key(1), ALICE, "as a set", workflow=Workflow(n=2)))
    again = await engine.handle(RerollSet(first.variants[1], ALICE))
    assert again.ok and len(again.variants) == 2 and set(again.variants).isdisjoint(first.variants)
    assert gemini.calls == 5 and all(len(history_images(w)) == 1 for w in gemini.requests[-2:])
    await engine.handle(NextTurn(key(1), ALICE, "night"))
    assert history_images(gemini.requests[-1])[-1] == again.images[0].data  # the old set left the history


async def test_a_set_that_does_not_fit_is_refused_whole_with_the_numbers(store, model, gemini):
    engine = make_engine(store, model, Limits(user_daily_images=5))
    assert (await engine.handle(StartThread(key(1), ALICE, "x", workflow=Workflow(n=3)))).ok
    refused = await engine.handle(StartThread(key(2), ALICE, "y", workflow=Workflow(n=3)))
    assert isinstance(refused.failure, LimitReached) and gemini.calls == 3
    assert "These 3 images need 3 of your daily limit of 5; you have 2 left" in refused.failure.message
    assert (await engine.handle(StartThread(key(3), ALICE, "z", workflow=Workflow(n=2)))).ok


async def test_a_set_reserves_all_its_images_before_any_call(store, model, gemini):
    engine = make_engine(store, model, Limits(user_daily_images=4), max_concurrency=1)
    gemini.hold()
    running = asyncio.create_task(engine.handle(StartThread(key(1), ALICE, "x", workflow=Workflow(n=4))))
    await until(lambda: gemini.held == 1, what="the first variant at the gate")
    other = await engine.handle(StartThread(key(2), ALICE, "y"))  # the other three are reserved, not yet sent
    assert isinstance(other.failure, LimitReached)
    gemini.release()
    assert (await running).ok


async def test_one_failed_variant_is_reported_and_the_rest_posted(store, model, gemini):
    engine = make_engine(store, model, max_concurrency=1)
    gemini.push(Block("SAFETY"))
    reply = await engine.handle(StartThread(key(1), ALICE, "x", workflow=Workflow(n=3)))
    assert reply.ok and len(reply.images) == 2
    assert any(n.startswith("One of the 3 failed: Gemini blocked") for n in reply.notices)
    assert "press Use 2 to continue" in reply.notices[-1]  # the buttons number the two pictures made


async def test_cancel_withdraws_every_waiting_call_of_a_set(store, model, gemini):
    engine = make_engine(store, model, max_concurrency=1)
    gemini.hold()
    running = asyncio.create_task(
        engine.handle(StartThread(key(1), ALICE, "x", workflow=Workflow(n=3)), ticket="t1")
    )
    await until(lambda: gemini.held == 1 and engine.queue.waiting == 2, what="one sent, two waiting")
    assert engine.cancel("t1")
    gemini.release()
    reply = await running
    assert len(reply.images) == 1 and gemini.calls == 1
    assert sum("Cancelled" in n for n in reply.notices) == 2


def test_tickets_group_names_each_call_and_forgets_them_after():
    tickets = Tickets()
    with tickets.group("t", 3, "discord:alice") as members:
        assert members == ("t.0", "t.1", "t.2") and tickets.groups["t"] == members
        assert tickets.owner("t") == "discord:alice"
    assert "t" not in tickets.groups and tickets.owner("t") is None
    with tickets.group(None, 2, "discord:alice") as anonymous:
        assert anonymous == (None, None)


async def test_variants_keep_the_requests_options(store, model, gemini):
    engine = make_engine(store, model)
    reply = await engine.handle(
        StartThread(key(1), ALICE, "x", options=Options(aspect_ratio="16:9"), workflow=Workflow(n=2))
    )
    assert reply.options.aspect_ratio == "16:9" and [r.aspect_ratio for r in gemini.requests] == ["16:9"] * 2
    assert reply.options.model == FLASH


async def test_a_style_reaches_every_variant_and_every_story_panel_keeps_the_thread(store, model, gemini):
    engine = make_engine(store, model)
    reply = await engine.handle(
        StartThread(key(1), ALICE, "a harbour", options=Options(style="watercolour"), workflow=Workflow(n=2))
    )
    assert reply.ok and all("watercolour painting" in w.prompt for w in gemini.requests)
    story = await engine.handle(StartStory(key(2), ALICE, "a fox finds a key", 2, options=Options(style="watercolour")))
    assert story.ok and "watercolour painting" in gemini.requests[2].prompt
    assert (await engine.thread_options(key(2))).style == "watercolour"
