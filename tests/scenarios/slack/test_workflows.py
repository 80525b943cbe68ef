"""Scenarios: variant sets and stories through the real Bolt app against the Slack and Gemini emulators."""

from __future__ import annotations

import itertools

import pytest

from adapters.slack.app import SlackBot
from adapters.slack.status import ACTION_CANCEL, ONLY_REQUESTER
from adapters.slack.translate import ACTION_DELETE, ACTION_REROLL, ACTION_REROLL_SET, ACTION_USE
from core.engine import Engine
from tests import pictures
from tests.emulators.gemini import Block, GeminiEmulator, unique_png
from tests.emulators.slack import SlackEmulator
from tests.scenarios.slack.harness import CH, button, buttons_message, imagine
from tests.support import history_images, until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(30)]



async def test_a_set_is_one_message_with_n_files_and_use_k_continues_from_k(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator, engine: Engine
) -> None:
    base, drawn = pictures.png(64, 64), itertools.count()
    gemini.image = lambda wire: unique_png(base, next(drawn))
    root_ts, buttons = await imagine(slack_emu, "a glass teapot --n 3 --model pro", uploads=3)
    assert gemini.calls == 3 and len({u.message_ts for u in slack_emu.uploads}) == 1  # one message, three files
    assert [e["action_id"] for b in buttons["blocks"] if b["type"] == "actions" for e in b["elements"]] == \
        [f"{ACTION_USE}:1", f"{ACTION_USE}:2", f"{ACTION_USE}:3", ACTION_REROLL_SET, ACTION_DELETE]
    use2 = button(buttons, f"{ACTION_USE}:2")
    await slack_emu.send_block_action(use2["action_id"], use2["value"], message_ts=buttons["ts"])
    await until(lambda: any("Continuing from picture 2" in (m.get("text") or "")
                            for m in slack_emu.thread(CH, root_ts)), what="the choice said in the thread")
    await slack_emu.send_event(slack_emu.user_message(CH, "make it night", thread_ts=root_ts))
    await until(lambda: gemini.calls == 4, what="the next turn")
    assert history_images(gemini.requests[-1]) == [slack_emu.uploads[1].data]
    again = button(buttons, ACTION_REROLL_SET)
    await slack_emu.send_block_action(again["action_id"], again["value"], message_ts=buttons["ts"])
    await until(lambda: len(slack_emu.uploads) == 7, what="a new set of three")


async def test_story_panels_are_uploaded_into_the_thread_as_done(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator, engine: Engine
) -> None:
    gemini.push(Block("SAFETY"))  # panel 1 blocked: it gets Try again, the rest go on
    response = await slack_emu.send_slash_command("/story", "3 a fox finds a key")
    assert response.status == 200
    await until(lambda: len(slack_emu.uploads) == 2, what="panels 2 and 3")
    root_ts = slack_emu.uploads[0].thread_ts or ""
    said = [m.get("text") or "" for m in slack_emu.thread(CH, root_ts)]
    await until(lambda: any("Story: 2 of 3 panels made." in (m.get("text") or "")
                            for m in slack_emu.thread(CH, root_ts)), what="the summary")
    failed = next(m for m in slack_emu.thread(CH, root_ts) if (m.get("text") or "").startswith("*1/3*"))
    assert any("*2/3*" in (m.get("text") or "") or any("2/3" in str(b) for b in m.get("blocks") or ())
               for m in slack_emu.thread(CH, root_ts)), said
    retry = button(failed, ACTION_REROLL)
    await slack_emu.send_block_action(ACTION_REROLL, retry["value"], message_ts=failed["ts"])
    await until(lambda: len(slack_emu.uploads) == 3, what="the retried panel")
    assert "panel 1 of 3" in gemini.requests[-1].prompt and gemini.calls == 4
    assert buttons_message(slack_emu, root_ts) is not None


async def test_cancel_on_the_story_root_stops_it_before_the_next_panel(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator, engine: Engine
) -> None:
    gemini.hold()
    await slack_emu.send_slash_command("/story", "4 a fox finds a key")
    await until(lambda: gemini.held == 1, what="panel 1 at the gate")
    [root] = [m for m in slack_emu.bot_messages(CH) if any(b.get("type") == "actions" for b in m.get("blocks") or ())]
    cancel = button(root, ACTION_CANCEL)
    await slack_emu.send_block_action(ACTION_CANCEL, cancel["value"], message_ts=root["ts"], user_id="U0STRANGER")
    await until(lambda: slack_emu.calls_to("chat.postEphemeral"), what="the stranger told it is not theirs")
    assert slack_emu.calls_to("chat.postEphemeral")[0].args["text"] == ONLY_REQUESTER
    assert not engine.tickets.stopped
    await slack_emu.send_block_action(ACTION_CANCEL, cancel["value"], message_ts=root["ts"])
    await until(lambda: engine.tickets.stopped, what="the story stopped")
    gemini.release()
    await until(lambda: any("Stopped after panel 1 of 4" in (m.get("text") or "")
                            for m in slack_emu.thread(CH, root["ts"])), what="the summary")
    assert gemini.calls == 1 and len(slack_emu.uploads) == 1
    await until(lambda: not slack_emu.find_message(CH, root["ts"]).get("blocks"), what="the Cancel button gone")
