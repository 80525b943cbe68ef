"""The community side of the Slack adapter: live queue progress with a Cancel button, `/usage`, limits and
allow-lists, through the real Bolt app against the Slack and Gemini emulators (plus the pure pieces, unit-tested).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.slack.status import (
    ACTION_CANCEL,
    Throttle,
    cancel_value,
    parse_cancel_value,
    progress_message,
)
from adapters.slack.translate import usage_text
from core.budget import Accountant, Limits
from core.costs import Prices
from core.engine import Engine, EngineConfig
from core.events import Progress
from core.model import GeminiModel
from core.policy import Policy
from core.store import Store
from tests import pictures
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import DEFAULT_CHANNEL, DEFAULT_USER, ApiCall, SlackEmulator
from tests.scenarios.slack.harness import serving
from tests.support import until

pytestmark = pytest.mark.timeout(30)

CH = DEFAULT_CHANNEL
STRANGER = "U0STRANGER"
scenario = pytest.mark.scenario

# ---- the pure pieces ------------------------------------------------------------------------------------


def test_the_cancel_value_names_the_ticket_and_the_requester() -> None:
    assert parse_cancel_value(cancel_value("3f2a9c", "U0USER")) == ("3f2a9c", "U0USER")
    assert [parse_cancel_value(v) for v in (None, "", "3f2a9c", ":U0USER", "3f2a9c:")] == [None] * 5


def test_the_cancel_button_shows_only_while_queued() -> None:
    text, blocks = progress_message(Progress("queued", 12.2, 3), "T1", "U0USER")
    assert text == ":hourglass_flowing_sand: Queued: #3 in line (12 s)"
    [button] = blocks[-1]["elements"]
    assert (button["action_id"], button["value"]) == (ACTION_CANCEL, "T1:U0USER")
    text, blocks = progress_message(Progress("generating", 14.0), "T1", "U0USER")
    assert text.endswith("Generating… (14 s)") and blocks == []  # an empty list is how chat.update drops blocks


def test_the_throttle_lets_a_burst_through_then_refills_at_its_rate() -> None:
    now = [0.0]
    throttle = Throttle(per_minute=60, burst=2, clock=lambda: now[0])
    assert [throttle.take() for _ in range(3)] == [True, True, False]
    now[0] = 1.0
    assert [throttle.take(), throttle.take()] == [True, False]


def test_the_usage_report_shows_user_ids_as_names_and_escapes_the_rest() -> None:
    lines = ("You: 2 images today ($0.08), 2 this month ($0.08).", "Top users this month: U0USER 2 images $0.08 <b>")
    assert usage_text(lines).splitlines() == [
        "You: 2 images today ($0.08), 2 this month ($0.08).",
        "Top users this month: <@U0USER> 2 images $0.08 &lt;b&gt;",
    ]


# ---- scenarios --------------------------------------------------------------------------------------------


def one_at_a_time(store: Store, model: GeminiModel) -> Engine:
    return Engine(store, model, EngineConfig(max_concurrency=1))


def updates_of(emu: SlackEmulator, ts: str) -> list[ApiCall]:
    """The status reply `ts` as it was posted (once its request had to wait), then each update of it."""
    posted = [c for c in emu.calls_to("chat.postMessage", ok_only=True) if (c.response or {}).get("ts") == ts]
    return posted + [c for c in emu.calls_to("chat.update", ok_only=True) if c.args["ts"] == ts]


def cancel_button(call: ApiCall) -> dict[str, Any] | None:
    for block in call.args.get("blocks") or ():
        for element in block.get("elements") or ():
            if element.get("action_id") == ACTION_CANCEL:
                return element
    return None


async def second_request_queued(emu: SlackEmulator, gemini: GeminiEmulator) -> tuple[str, dict[str, Any]]:
    """Start one request, and once Gemini's gate holds it a second: return the second's status reply ts and its Cancel
    button, as the update that put it in line showed them."""
    await emu.send_slash_command("/imagine", "first")
    await until(lambda: gemini.held == 1, what="the first request to reach Gemini")
    await emu.send_slash_command("/imagine", "second")
    [queued] = await until(lambda: [c for c in emu.calls_to("chat.postMessage", ok_only=True) if cancel_button(c)],
                           what="a status reply showing a place in line")
    assert "Queued: #1 in line" in queued.args["text"]
    button = cancel_button(queued)
    assert button is not None and queued.response is not None
    return queued.response["ts"], button


@scenario
async def test_a_queued_request_shows_its_place_then_generating_then_its_image(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, store: Store, model: GeminiModel
) -> None:
    gemini.hold()
    async with serving(one_at_a_time(store, model), slack_emu) as bot:
        status_ts, button = await second_request_queued(slack_emu, gemini)
        assert parse_cancel_value(button["value"]) is not None and button["value"].endswith(f":{DEFAULT_USER}")
        gemini.release()  # the first request gives up the only slot: the second moves from the line to Gemini
        await until(lambda: any("Generating" in c.args["text"] for c in updates_of(slack_emu, status_ts)))
        await until(lambda: len(slack_emu.uploads) == 2, what="the queued request's answer")
        await bot.drain()
    texts = [c.args["text"] for c in updates_of(slack_emu, status_ts)]
    assert "Queued: #1 in line" in texts[0] and "Generating" in texts[-1]
    assert updates_of(slack_emu, status_ts)[-1].args["blocks"] == []  # running: the Cancel button went
    assert status_ts in {c.args["ts"] for c in slack_emu.calls_to("chat.delete", ok_only=True)}  # then the image came
    assert [w.prompt for w in gemini.requests] == ["first", "second"] and gemini.max_in_flight == 1


@scenario
async def test_the_requester_cancels_a_queued_request_and_gemini_never_sees_it(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, store: Store, model: GeminiModel
) -> None:
    gemini.hold()
    engine = one_at_a_time(store, model)
    async with serving(engine, slack_emu) as bot:
        status_ts, button = await second_request_queued(slack_emu, gemini)
        pressed = await slack_emu.send_block_action(ACTION_CANCEL, button["value"], message_ts=status_ts)
        assert pressed.status == 200 and pressed.elapsed < 3
        await until(lambda: any("cancelled" in c.args["text"] for c in updates_of(slack_emu, status_ts)))
        assert engine.queue.waiting == 0
        gemini.release()  # the first request may finish now
        await until(lambda: slack_emu.uploads, what="the first request's answer")
        await bot.drain()
    said = updates_of(slack_emu, status_ts)[-1].args
    assert said["text"].startswith(f":heavy_multiplication_x: <@{DEFAULT_USER}> cancelled") and said["blocks"] == []
    assert [w.prompt for w in gemini.requests] == ["first"] and len(slack_emu.uploads) == 1
    root = slack_emu.find_message(CH, slack_emu.find_message(CH, status_ts)["thread_ts"])  # type: ignore[index]
    assert root is not None and ":warning:" not in json.dumps(slack_emu.thread(CH, root["ts"]))  # no error spam
    assert slack_emu.reactions.get((CH, root["ts"]), []) == [] and slack_emu.ephemerals == []  # hourglass gone, no tick


@scenario
async def test_only_the_requester_may_cancel_and_a_started_request_cannot_be(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, store: Store, model: GeminiModel
) -> None:
    gemini.hold()
    engine = one_at_a_time(store, model)
    async with serving(engine, slack_emu) as bot:
        status_ts, button = await second_request_queued(slack_emu, gemini)
        await slack_emu.send_block_action(ACTION_CANCEL, button["value"], message_ts=status_ts, user_id=STRANGER)
        [refused] = await until(lambda: slack_emu.ephemerals)
        assert refused["user"] == STRANGER and refused["text"] == (
            "Only the person who asked for this request can cancel it."
        )
        assert engine.queue.waiting == 1  # still in line

        gemini.release()
        await until(lambda: any("Generating" in c.args["text"] for c in updates_of(slack_emu, status_ts)))
        await slack_emu.send_block_action(ACTION_CANCEL, button["value"], message_ts=status_ts)  # too late now
        await until(lambda: len(slack_emu.ephemerals) == 2)
        assert slack_emu.ephemerals[1]["user"] == DEFAULT_USER and "already started" in slack_emu.ephemerals[1]["text"]
        await until(lambda: len(slack_emu.uploads) == 2, what="the second request's answer")
        await bot.drain()
    assert [w.prompt for w in gemini.requests] == ["first", "second"]


@scenario
async def test_usage_answers_privately_with_the_recorded_images_and_cost(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, store: Store, model: GeminiModel
) -> None:
    engine = Engine(store, model, EngineConfig(), policy=Policy(admins=frozenset({"slack:U0BOSS"})))
    async with serving(engine, slack_emu) as bot:
        for n, prompt in enumerate(("a fox", "a hare"), start=1):
            await slack_emu.send_slash_command("/imagine", prompt)
            await until(lambda n=n: len(slack_emu.uploads) == n)
        asked = await slack_emu.send_slash_command("/usage")
        assert asked.status == 200 and asked.body == "" and asked.elapsed < 3
        [mine] = await until(lambda: slack_emu.hook_posts)
        await slack_emu.send_slash_command("/usage", user_id="U0BOSS")
        await until(lambda: len(slack_emu.hook_posts) == 2)
        await bot.drain()
    rows = await store.usage_rows("slack", slack_emu.team_id)
    images, cost = sum(r[6] for r in rows), sum(r[7] for r in rows)
    assert images == 2 and cost > 0
    assert mine.body["response_type"] == "ephemeral"
    assert mine.body["text"].splitlines() == [
        f"You: 2 images today (${cost:.2f}), 2 this month (${cost:.2f}).",
        f"This server/workspace: ${cost:.2f} today, ${cost:.2f} this month.",
    ]
    admin = slack_emu.hook_posts[1].body["text"]
    assert admin.startswith("You: 0 images today") and admin.splitlines()[-1] == (
        f"Top users this month: <@{DEFAULT_USER}> 2 images ${cost:.2f}"
    )
    assert len(gemini.requests) == 2 and slack_emu.calls_to("chat.postEphemeral") == []


@scenario
async def test_a_daily_limit_hit_is_explained_privately_before_anything_is_posted(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, store: Store, model: GeminiModel
) -> None:
    limits = Accountant(store, Limits(user_daily_images=1), Prices())
    async with serving(Engine(store, model, EngineConfig(), accountant=limits), slack_emu) as bot:
        await slack_emu.send_slash_command("/imagine", "a fox")
        await until(lambda: slack_emu.uploads)
        roots = len(slack_emu.calls_to("chat.postMessage", ok_only=True))
        await slack_emu.send_slash_command("/imagine", "a hare")
        [told] = await until(lambda: slack_emu.hook_posts)
        await slack_emu.send_slash_command("/imagine", "a badger", user_id="U0OTHER")  # a per-user limit: others go on
        await until(lambda: len(slack_emu.uploads) == 2)
        await bot.drain()
    text = told.body["text"]
    assert text.startswith(":warning: You have reached your daily limit of 1 images.")
    assert "It resets at" in text and " UTC (in " in text and told.body["response_type"] == "ephemeral"
    posted = [c.args["text"] for c in slack_emu.calls_to("chat.postMessage", ok_only=True)][roots:]
    assert not any("a hare" in text for text in posted)  # no root left in the channel for a refused request
    assert [w.prompt for w in gemini.requests] == ["a fox", "a badger"]


@scenario
async def test_a_channel_off_the_allow_list_gets_a_short_refusal_never_silence(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, store: Store, model: GeminiModel
) -> None:
    policy = Policy(allowed_channels=frozenset({"slack:C0ART"}))
    async with serving(Engine(store, model, EngineConfig(), policy=policy), slack_emu) as bot:
        refused = await slack_emu.send_slash_command("/imagine", "a fox")
        answer = json.loads(refused.body)
        assert refused.elapsed < 3 and answer["response_type"] == "ephemeral"
        assert "not enabled in this channel" in answer["text"]
        assert slack_emu.calls_to("chat.postMessage") == []  # no root message where the bot does not serve

        photo = slack_emu.register_file(pictures.png(), "cat.png")
        await slack_emu.send_event(
            slack_emu.user_message(CH, f"<@{slack_emu.bot_user_id}> make it blue", files=[photo])
        )
        [told] = await until(lambda: [c for c in slack_emu.calls_to("chat.postMessage", ok_only=True)
                                      if "not enabled in this channel" in c.args["text"]])
        assert told.args["text"].startswith(f":warning: <@{DEFAULT_USER}>")

        await slack_emu.send_slash_command("/usage")
        [usage] = await until(lambda: slack_emu.hook_posts)
        assert usage.body["response_type"] == "ephemeral" and "not enabled in this channel" in usage.body["text"]

        await slack_emu.send_slash_command("/imagine", "a fox", channel_id="C0ART")
        [upload] = await until(lambda: slack_emu.uploads)
        await bot.drain()
    assert upload.channel == "C0ART" and [w.prompt for w in gemini.requests] == ["a fox"]
