"""Broken, unusual and oversized images through the engine and the Gemini emulator: refused or converted before
anything is sent, budgets asked before any decode, and the next request served."""

import asyncio

from core.budget import Limits
from core.engine import EngineConfig
from core.events import ImageInput, NextTurn, StartThread, ThreadKey, User
from core.failures import BadInput, LimitReached
from tests import corpus, pictures
from tests.core.test_limits import make_engine


def key(n: str) -> ThreadKey:
    return ThreadKey("console", "local", "c", n)


async def test_every_broken_image_is_refused_before_gemini_and_the_next_request_is_served(store, model, gemini):
    engine = make_engine(store, model)
    for number, sample in enumerate(corpus.corpus()):
        event = StartThread(key(str(number)), User("u"), "edit this", (ImageInput(sample.data, sample.name),))
        reply = await engine.handle(event)
        if sample.readable:
            assert reply.ok, (sample.name, reply.failure)
        else:
            assert isinstance(reply.failure, BadInput), sample.name
            assert sample.name in reply.failure.message
    readable = sum(s.readable for s in corpus.corpus())
    assert gemini.calls == readable  # nothing unreadable reached Gemini, not even once
    assert (await engine.handle(StartThread(key("after"), User("u"), "a fox"))).ok


async def test_a_spent_budget_is_told_before_any_image_is_decoded(store, model, gemini):
    engine = make_engine(store, model, Limits(space_daily_usd=0.0))
    bomb = ImageInput(pictures.bomb_png(), "bomb.png")  # decoding it would say "too many pixels"
    reply = await engine.handle(StartThread(key("spent"), User("u"), "edit", (bomb,)))
    assert isinstance(reply.failure, LimitReached)
    assert isinstance(await engine.admit(StartThread(key("s2"), User("u"), "x", ())), LimitReached)
    assert gemini.calls == 0


async def test_a_next_turn_with_a_damaged_image_keeps_the_thread_going(store, model, gemini):
    engine = make_engine(store, model)
    assert (await engine.handle(StartThread(key("t"), User("u"), "a fox"))).ok
    cut = ImageInput(corpus.truncated(pictures.encoded("JPEG", 64, 48)), "cut.jpg")
    refused = await engine.handle(NextTurn(key("t"), User("u"), "add this", (cut,)))
    assert isinstance(refused.failure, BadInput) and "could not be read as an image" in refused.failure.message
    assert (await engine.handle(NextTurn(key("t"), User("u"), "make it night"))).ok
    assert gemini.calls == 2


async def test_images_wait_for_the_pixel_budget_and_all_are_answered(store, model, gemini):
    engine = make_engine(store, model, pixel_budget=64 * 48)  # one small image decoded at a time
    assert engine.pixels.total == 64 * 48 and EngineConfig().pixel_budget == 16_000_000
    photos = [ImageInput(pictures.encoded("BMP"), f"p{i}.bmp") for i in range(6)]
    events = [StartThread(key(f"p{i}"), User(f"u{i}"), "edit", (photo,)) for i, photo in enumerate(photos)]
    replies = await asyncio.gather(*(engine.handle(event) for event in events))
    assert all(reply.ok for reply in replies)
    assert engine.pixels.in_use == 0
