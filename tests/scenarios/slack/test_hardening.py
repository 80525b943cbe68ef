"""Scenario: hostile and unlucky input through the Slack adapter (signed HTTP, the real slack-bolt and slack-sdk, the
emulator): broken images, replayed and forged requests, forged button values, echoed markup, a full queue."""

from __future__ import annotations

import asyncio

import pytest

from adapters.slack.app import SlackBot
from adapters.slack.status import ACTION_CANCEL
from adapters.slack.translate import ACTION_DELETE
from core.budget import Accountant, Limits
from core.costs import Prices
from core.engine import Engine, EngineConfig
from core.model import GeminiModel
from core.store import Store
from tests import corpus, pictures
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.scenarios.slack.harness import CH, button, imagine, serving, updates_saying
from tests.scenarios.slack.test_queue import second_request_queued
from tests.support import until

pytestmark = pytest.mark.scenario
STRANGER = "U0STRANGER"


async def test_each_image_of_the_corpus_is_answered_and_the_thread_goes_on(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(slack_emu, "a garden")
    samples = [s for s in corpus.corpus() if s.name in ("truncated.png", "truncated.jpg", "flipped.png", "bomb.png",
                                                         "animated.webp", "cmyk.jpg", "sixteen-bit.png")]
    for sample in samples:
        uploads, calls = len(slack_emu.uploads), gemini.calls
        file = slack_emu.register_file(sample.data, sample.name)
        await slack_emu.send_event(slack_emu.user_message(CH, "use this", thread_ts=root_ts, files=[file]))
        if sample.readable:
            await until(lambda n=uploads: len(slack_emu.uploads) == n + 1, what=f"the answer to {sample.name}")
        else:
            [told] = await until(lambda n=sample.name: updates_saying(slack_emu, f"`{n}`"), what=sample.name)
            assert "could not be read as an image" in told or "too many pixels" in told
            assert gemini.calls == calls
        await until(lambda: not slack_emu.reactions.get((CH, root_ts)), what="the hourglass cleared")
    await slack_emu.send_event(slack_emu.user_message(CH, "make it night", thread_ts=root_ts))
    await until(lambda: gemini.requests[-1].prompt == "make it night" and slack_emu.uploads[-1].thread_ts == root_ts)
    await slack_bot.drain()
    assert not any("Something broke" in (c.args.get("text") or "") for c in slack_emu.calls_to("chat.postMessage"))


async def test_a_replayed_slash_command_or_button_press_is_answered_once(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, buttons = await imagine(slack_emu, "a fox")
    for _ in range(2):
        assert (await slack_emu.replay(0)).status == 200  # the /imagine, byte for byte
    await slack_emu.send_block_action("imagine_reroll", button(buttons, "imagine_reroll")["value"],
                                      message_ts=buttons["ts"])
    assert (await slack_emu.replay()).status == 200
    await until(lambda: len(slack_emu.uploads) == 2, what="the reroll")
    await slack_bot.drain()
    assert gemini.calls == 2 and len(slack_emu.uploads) == 2


async def test_a_timestamp_that_is_not_a_number_is_401_not_500(slack_emu: SlackEmulator, slack_bot: SlackBot) -> None:
    for timestamp in ("soon", "1e9", " 12", "١٢٣"):
        answer = await slack_emu.send_slash_command("/imagine", "a fox", timestamp=timestamp)  # type: ignore[typeddict-item]
        assert answer.status == 401, timestamp


async def test_a_file_url_that_does_not_parse_cleanly_is_refused_with_a_message(
    slack_emu: SlackEmulator, slack_bot: SlackBot, gemini: GeminiEmulator
) -> None:
    root_ts, _ = await imagine(slack_emu, "a garden")
    file = slack_emu.register_file(pictures.png(), "odd.png")
    file["url_private"] = file["url_private_download"] = file["url_private"].replace("/files", "\\@127.0.0.2/files", 1)
    await slack_emu.send_event(slack_emu.user_message(CH, "use this", thread_ts=root_ts, files=[file]))
    [told] = await until(lambda: updates_saying(slack_emu, "does not parse cleanly"))
    assert "`odd.png`" in told and slack_emu.file_fetches == [] and gemini.calls == 1


async def test_a_forged_cancel_value_cancels_no_one_elses_request(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, store: Store, model: GeminiModel
) -> None:
    gemini.hold()
    engine = Engine(store, model, EngineConfig(max_concurrency=1))
    async with serving(engine, slack_emu) as bot:
        status_ts, cancel = await second_request_queued(slack_emu, gemini)
        forged = cancel["value"].split(":")[0] + f":{STRANGER}"  # the ticket, with the stranger named as requester
        await slack_emu.send_block_action(ACTION_CANCEL, forged, message_ts=status_ts, user_id=STRANGER)
        await until(lambda: slack_emu.ephemerals, what="the refusal")
        assert engine.queue.waiting == 1  # still in line
        gemini.release()
        await until(lambda: len(slack_emu.uploads) == 2, what="both answers")
        await bot.drain()
    assert [w.prompt for w in gemini.requests] == ["first", "second"]


async def test_a_forged_delete_value_removes_only_the_files_recorded_for_that_turn(
    slack_emu: SlackEmulator, slack_bot: SlackBot, store: Store
) -> None:
    _, hers = await imagine(slack_emu, "her fox")
    her_turn = int(button(hers, ACTION_DELETE)["value"])
    await slack_emu.send_slash_command("/imagine", "his own", user_id=STRANGER)
    await until(lambda: len(slack_emu.uploads) == 2, what="the stranger's image")
    his = [m for m in slack_emu.bot_messages(CH) if any(b.get("block_id", "").startswith("imagine_turn_")
                                                        for b in m.get("blocks") or ())][-1]
    his_turn = int(button(his, ACTION_DELETE)["value"])
    her_files = await store.turn_files(her_turn)
    assert her_files and his_turn != her_turn
    value = f"{his_turn}:{','.join(her_files)}"  # his own turn (so he may delete), naming her files
    await slack_emu.send_block_action(ACTION_DELETE, value, message_ts=his["ts"], user_id=STRANGER)
    await until(lambda: slack_emu.deleted_files, what="his own file deleted")
    await slack_bot.drain()
    assert slack_emu.deleted_files == await store.turn_files(his_turn)
    assert all(f in slack_emu.files for f in her_files)


async def test_markup_in_echoed_user_text_never_notifies_anyone(
    slack_emu: SlackEmulator, slack_bot: SlackBot
) -> None:
    await slack_emu.send_slash_command("/imagine", "a fox --ar <!channel>")
    await slack_emu.send_slash_command("/imagine", "a fox --model <!here|here>&co")
    await until(lambda: len(slack_emu.sent) == 2 and all(s.response.body for s in slack_emu.sent))
    said = " ".join(s.response.body for s in slack_emu.sent)
    assert "<!channel>" not in said and "<!here" not in said
    assert "&lt;!channel&gt;" in said and "&lt;!here|here&gt;&amp;co" in said


async def test_a_full_queue_refuses_privately_and_leaves_no_root_message(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, store: Store, model: GeminiModel
) -> None:
    gemini.hold()
    engine = Engine(store, model, EngineConfig(max_concurrency=1, max_waiting=2))
    async with serving(engine, slack_emu) as bot:
        await asyncio.gather(*(slack_emu.send_slash_command("/imagine", f"burst {i}") for i in range(12)))
        await until(lambda: len(slack_emu.hook_posts) >= 9, what="the refusals")
        gemini.release()
        await until(lambda: len(slack_emu.uploads) == 3, what="the three that got in")
        await bot.drain()
    roots = [m for m in slack_emu.messages[CH] if m.get("thread_ts") in (None, m["ts"])]
    assert len(roots) == 3  # only the requests that were served left a message in the channel
    assert all("busy" in hook.body["text"] and hook.body["response_type"] == "ephemeral"
               for hook in slack_emu.hook_posts)
    assert gemini.calls == 3


async def test_a_spent_budget_is_said_before_the_file_is_downloaded(
    slack_emu: SlackEmulator, gemini: GeminiEmulator, store: Store, model: GeminiModel
) -> None:
    spent = Accountant(store, Limits(space_daily_usd=0.0), Prices())
    async with serving(Engine(store, model, EngineConfig(), accountant=spent), slack_emu) as bot:
        file = slack_emu.register_file(pictures.png(), "cat.png")
        mention = f"<@{slack_emu.bot_user_id}> put a hat on it"
        await slack_emu.send_event(slack_emu.user_message(CH, mention, files=[file]))
        [told] = await until(lambda: updates_saying(slack_emu, "daily image budget"))
        await bot.drain()
    assert slack_emu.file_fetches == [] and gemini.calls == 0 and told
