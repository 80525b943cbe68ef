"""The rules every platform follows, written once in core: what a message means, who may delete or cancel, which
sizes an Upscale offers, what results are called; and what the engine answers adapters without loading images."""

from __future__ import annotations

import asyncio

import pytest

import core.store
from core.engine import Engine, EngineConfig
from core.events import EditImages, ImageInput, NextTurn, Options, StartThread, ThreadKey, User
from core.failures import Cancelled
from core.policy import Policy
from core.turns import (
    TurnInfo,
    Withdrawal,
    may_cancel,
    may_delete,
    next_event,
    size_rank,
    upload_name,
    upscale_sizes,
)
from tests import pictures
from tests.support import until

KEY = ThreadKey("slack", "T1", "C1", "1.0")
ANN, BOB = User("ann"), User("bob")
PHOTO = (ImageInput(pictures.png(), "cat.png"),)
PRO = "gemini-3-pro-image"


def test_a_stored_conversation_goes_on_else_images_make_an_edit_else_a_new_picture() -> None:
    flags = Options(aspect_ratio="16:9")
    assert next_event(KEY, ANN, "night", PHOTO, flags, stored=True) == NextTurn(KEY, ANN, "night", PHOTO, flags)
    assert next_event(KEY, ANN, "blue", PHOTO, flags, stored=False) == EditImages(KEY, ANN, "blue", PHOTO, flags)
    assert next_event(KEY, ANN, "a fox", (), flags, stored=False) == StartThread(KEY, ANN, "a fox", (), flags)


def test_the_requester_or_an_admin_may_delete_and_nobody_else() -> None:
    turn = TurnInfo(7, KEY, "ann", Options(), Options(), True)
    assert may_delete(turn, ANN, configured_admin=False)
    assert not may_delete(turn, BOB, configured_admin=False)
    assert may_delete(turn, User("bob", is_admin=True), configured_admin=False)  # the platform says so
    assert may_delete(turn, BOB, configured_admin=True)  # BOT_ADMINS says so
    assert not may_delete(None, ANN, configured_admin=False) and may_delete(None, BOB, configured_admin=True)


def test_only_the_requester_may_cancel_even_an_admin_may_not() -> None:
    assert may_cancel("ann", ANN) and not may_cancel("ann", User("bob", is_admin=True))


@pytest.mark.parametrize(
    ("options", "offered"),
    [
        (Options(PRO), ("2K", "4K")),
        (Options(PRO, image_size="2K"), ("4K",)),
        (Options(PRO, image_size="4K"), ()),
        (Options("gemini-2.5-flash-image"), ()),
        (Options("no-such-model"), ()),
        (Options(None), ()),
    ],
)
def test_upscale_offers_larger_sizes_the_model_renders(options: Options, offered: tuple[str, ...]) -> None:
    assert upscale_sizes(options) == offered


def test_sizes_rank_by_the_pixels_rendered_and_results_are_named_by_turn() -> None:
    assert sorted(["4K", "512px", None, "2K"], key=size_rank) == ["512px", None, "2K", "4K"]
    assert upload_name(3, 0, "image/jpeg") == "gemini-3-1.jpg" and upload_name(None, 1, "x/y") == "gemini-0-2.png"


async def test_turn_info_names_the_conversation_and_the_newest_turn_without_reading_images(
    engine: Engine, gemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await engine.handle(StartThread(KEY, ANN, "a fox", PHOTO, Options(model="pro")))
    second = await engine.handle(NextTurn(KEY, BOB, "at night", options=Options(image_size="2K")))
    assert first.turn_id is not None and second.turn_id is not None

    def no_images(*_: object) -> None:
        raise AssertionError("turn_info decoded a stored turn")

    monkeypatch.setattr(core.store, "hydrate", no_images)
    older, newer = await engine.turn_info(first.turn_id), await engine.turn_info(second.turn_id)
    assert older == TurnInfo(first.turn_id, KEY, "ann", Options(PRO), Options(PRO, image_size="2K"), False)
    assert newer is not None and newer.user_id == "bob" and newer.is_latest
    assert await engine.turn_info(10**6) is None
    assert await engine.thread_options(KEY) == Options(PRO, image_size="2K")
    assert await engine.thread_options(ThreadKey("slack", "T1", "C1", "2.0")) is None


async def test_may_delete_asks_the_platform_only_when_nothing_else_allows_it(store, model, gemini) -> None:
    engine = Engine(store, model, EngineConfig(), policy=Policy(admins=frozenset({"slack:ops"})))
    reply = await engine.handle(StartThread(KEY, ANN, "a fox"))
    assert reply.turn_id is not None
    asked: list[str] = []

    def platform_says(answer: bool):
        async def ask() -> bool:
            asked.append("asked")
            return answer
        return ask

    mine = await engine.may_delete(reply.turn_id, ANN, "slack", platform_says(False))
    ops = await engine.may_delete(reply.turn_id, User("ops"), "slack", platform_says(False))
    assert mine.allowed and ops.allowed and asked == []
    refused = await engine.may_delete(reply.turn_id, BOB, "slack", platform_says(False))
    assert not refused.allowed and refused.requester == "ann" and asked == ["asked"]
    assert (await engine.may_delete(reply.turn_id, BOB, "slack", platform_says(True))).allowed
    assert (await engine.may_delete(reply.turn_id, User("ops"), "discord")).allowed is False  # slack's admin only


async def test_withdraw_asks_the_queues_record_of_the_requester_and_is_too_late_once_started(engine: Engine) -> None:
    assert engine.withdraw("unknown-ticket", ANN, "slack") is Withdrawal.STARTED
    engine.queue.capacity = 0  # nothing runs: the request waits in line
    waiting = asyncio.create_task(engine.queue.slot("slack:ann", ticket="t1").__aenter__())
    await until(lambda: engine.queue.owner("t1") == "slack:ann", what="the request in line")
    assert engine.withdraw("t1", BOB, "slack") is Withdrawal.NOT_YOURS  # whatever a button value would claim
    assert engine.withdraw("t1", ANN, "discord") is Withdrawal.NOT_YOURS  # the same id on another platform
    assert engine.withdraw("t1", ANN, "slack") is Withdrawal.CANCELLED
    with pytest.raises(Cancelled):
        await waiting
