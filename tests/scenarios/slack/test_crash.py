"""Scenario: the bot process is killed (`kill -9`) mid-turn; the next process on the same database tells each user
where it had said it was working (the status reply, or the thread) that the request was interrupted, with Try again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.slack.translate import ACTION_REROLL
from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import SlackEmulator
from tests.scenarios.slack.harness import CH, button
from tests.support import free_port, until

pytestmark = [pytest.mark.scenario, pytest.mark.timeout(90)]
ROOT = Path(__file__).resolve().parents[3]


@contextlib.asynccontextmanager
async def bot_process(
    tmp_path: Path, emu: SlackEmulator, gemini: GeminiEmulator
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot slack --http` on the emulators and a database under tmp_path, killed on exit if still up."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_", "BOT_", "SLACK_"))}
    env.update(GEMINI_API_KEY="test", GEMINI_BASE_URL=gemini.base_url, BOT_DB_PATH=str(tmp_path / "bot.db"),
               SLACK_BOT_TOKEN=emu.bot_token, SLACK_SIGNING_SECRET=emu.signing_secret, SLACK_API_URL=emu.api_url,
               PORT=str(port), PYTHONPATH=str(ROOT), GEMINI_MAX_CONCURRENCY="1", GEMINI_RETRY_DELAY="0.01")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "slack", "--http", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await until(lambda: _listening(port), timeout=30, what="the bot listening")
        emu.app_url = f"http://127.0.0.1:{port}/slack/events"
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), 30)


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


async def test_after_kill_9_the_restart_tells_each_user_and_offers_try_again(
    tmp_path: Path, slack_emu: SlackEmulator, gemini: GeminiEmulator
) -> None:
    gemini.hold()
    async with bot_process(tmp_path, slack_emu, gemini) as first:
        await slack_emu.send_slash_command("/imagine", "a fox")
        await until(lambda: gemini.held == 1, timeout=15, what="the first request at Gemini")
        await slack_emu.send_slash_command("/imagine", "a hare")  # waits in line: a status reply says so
        [queued] = await until(lambda: [c for c in slack_emu.calls_to("chat.postMessage", ok_only=True)
                                        if "Queued" in (c.args.get("text") or "")], timeout=15)
        first.kill()  # SIGKILL: no shutdown, no goodbye
        await first.wait()
    gemini.release()
    roots = [c.response["ts"] for c in slack_emu.calls_to("chat.postMessage", ok_only=True)
             if not c.args.get("thread_ts") and c.response]
    fox, hare = roots
    async with bot_process(tmp_path, slack_emu, gemini) as second:
        def interrupted() -> list[dict]:
            return [m for ts in (fox, hare) for m in slack_emu.thread(CH, ts) if "interrupted" in (m.get("text") or "")]

        await until(lambda: len(interrupted()) == 2, timeout=15, what="both users told")
        await until(lambda: not any(slack_emu.reactions.get((CH, ts)) for ts in (fox, hare)), what="no hourglass")
        status = slack_emu.find_message(CH, queued.response["ts"])
        assert status is not None and "interrupted" in status["text"]  # the status reply itself says so
        retry = button(status, ACTION_REROLL)
        await slack_emu.send_block_action(ACTION_REROLL, retry["value"], message_ts=status["ts"])
        await until(lambda: slack_emu.uploads, timeout=15, what="the image after Try again")
        assert slack_emu.uploads[-1].thread_ts == hare and second.returncode is None
