"""Scenarios: "Try again" under a Slack failure that may pass on a second go, through the real Bolt app against the
Slack and Gemini emulators (the harness in harness.py), before and after a restart on the same database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.slack.app import SlackBot
from adapters.slack.translate import ACTION_REROLL
from core.budget import Limits
from core.engine import Engine
from tests import pictures
from tests.emulators.gemini import Block, GeminiEmulator
from tests.emulators.slack import DEFAULT_USER, SlackEmulator
from tests.scenarios.slack.harness import CH, button, engine_on, imagine, serving
from tests.support import until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]


def failures(emu: SlackEmulator, thread_ts: str) -> list[dict[str, Any]]:
    """The bot's messages in the thread that say something went wrong."""
    return [m for m in emu.thread(CH, thread_ts) if m.get("bot_id") and m["text"].startswith(":warning:")]


async def test_a_blocked_edit_offers_try_again_which_reruns_it_even_after_a_restart(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, tmp_path: Path
) -> None:
    db = tmp_path / "slack.db"
    photo = pictures.png(30, 30, (0, 0, 255))
    file = slack_emu.register_file(photo, "dog.png")
    posted = slack_emu.user_message(CH, f"<@{slack_emu.bot_user_id}> make it a watercolor --ar 3:2", files=[file])
    async with engine_on(db, gemini) as engine, serving(engine, slack_emu):
        gemini.push(Block("SAFETY"))
        await slack_emu.send_event(posted)
        [told] = await until(lambda: failures(slack_emu, posted["ts"]), what="the explanation")
        assert told["text"].startswith(f":warning: <@{DEFAULT_USER}>") and "SAFETY" in told["text"]
        retry = button(told, ACTION_REROLL)
        assert retry["text"]["text"] == "Try again" and retry.get("style") == "primary"
        await slack_emu.send_block_action(ACTION_REROLL, retry["value"], message_ts=told["ts"], user_id="U0OTHER")
        await until(lambda: len(slack_emu.uploads) == 1, what="the retried image")

    async with engine_on(db, gemini) as engine, serving(engine, slack_emu) as bot:
        await slack_emu.send_block_action(ACTION_REROLL, retry["value"], message_ts=told["ts"])
        await until(lambda: len(slack_emu.uploads) == 2, what="an image after the restart")
        await bot.drain()

    sent = [(w.prompt, w.input_images, w.aspect_ratio, len(w.contents)) for w in gemini.requests]
    assert sent == [("make it a watercolor", [photo], "3:2", 1)] * 3
    assert [u.thread_ts for u in slack_emu.uploads] == [posted["ts"]] * 2
    assert len(slack_emu.file_fetches) == 1  # the stored request went again: the file was not fetched again


async def test_failures_that_would_fail_again_have_no_button(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator, engine: Engine
) -> None:
    root_ts, _ = await imagine(slack_emu, "a kettle --model flash-2.5")
    engine.accountant.limits = Limits(user_daily_images=1)
    await slack_emu.send_event(slack_emu.user_message(CH, "make it whistle", thread_ts=root_ts))
    await until(lambda: failures(slack_emu, root_ts), what="the limit message")
    await slack_emu.send_event(slack_emu.user_message(CH, "bigger --size 4K", thread_ts=root_ts))  # no sizes on 2.5
    told = await until(lambda: (found := failures(slack_emu, root_ts)) and len(found) == 2 and found)
    await slack_bot.drain()

    assert "daily limit" in told[0]["text"] and "size" in told[1]["text"]
    assert [m.get("blocks") or [] for m in told] == [[], []]
    assert len(gemini.requests) == 1
