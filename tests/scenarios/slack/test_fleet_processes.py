"""Scenario: two real `python -m bot slack --http` processes behind one load balancer (the test sends to both),
sharing one PostgreSQL: one Slack event delivered to both is answered once, and a thread started through one
process goes on through the other."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.emulators.slack import SlackEmulator
from tests.scenarios.slack.harness import CH
from tests.support import free_port, until

pytestmark = pytest.mark.scenario
ROOT = Path(__file__).resolve().parents[3]


@contextlib.asynccontextmanager
async def slack_process(emu: SlackEmulator, database: str, tmp_path: Path) -> AsyncIterator[str]:
    """`python -m bot slack --http --offline` on a free port; yields its events URL once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_", "BOT_", "SLACK_"))}
    env.update(SLACK_BOT_TOKEN=emu.bot_token, SLACK_SIGNING_SECRET=emu.signing_secret, SLACK_API_URL=emu.api_url,
               PORT=str(port), BOT_DATABASE_URL=database, PYTHONPATH=str(ROOT))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "slack", "--http", "--offline", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/slack/events"

    async def listening() -> bool:
        try:
            async with aiohttp.ClientSession() as http, http.get(url) as response:
                return response.status < 500
        except aiohttp.ClientError:
            return process.returncode is not None  # exited: stop waiting and report below

    try:
        await until(listening, timeout=30, interval=0.1, what="the Slack worker to listen")
        assert process.returncode is None, (await process.stderr.read()).decode()  # type: ignore[union-attr]
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def test_two_worker_processes_answer_a_retried_event_once_and_share_threads(
    slack_emu: SlackEmulator, postgres_url: str, tmp_path: Path
):
    async with slack_process(slack_emu, postgres_url, tmp_path) as a, slack_process(slack_emu, postgres_url,
                                                                                     tmp_path) as b:
        await slack_emu.send_slash_command("/imagine", "a red fox", url=a)
        await until(lambda: len(slack_emu.uploads) == 1, timeout=20, what="the first image")
        root_ts = slack_emu.uploads[0].thread_ts
        assert root_ts is not None
        event = slack_emu.user_message(CH, "make it night", thread_ts=root_ts)
        await asyncio.gather(  # the same event, delivered to both workers (a retry reaching the other one)
            slack_emu.send_event(event, event_id="Ev9", url=a),
            slack_emu.send_event(event, event_id="Ev9", url=b),
        )
        await until(lambda: len(slack_emu.uploads) == 2, timeout=20, what="the refinement")
        await asyncio.sleep(0.5)  # a double answer would have been uploaded by now
        assert len(slack_emu.uploads) == 2 and slack_emu.uploads[1].thread_ts == root_ts
        # Through the other worker, the thread goes on too: it knows the thread from the shared database.
        await slack_emu.send_event(slack_emu.user_message(CH, "add a moon", thread_ts=root_ts), url=b)
        await until(lambda: len(slack_emu.uploads) == 3, timeout=20, what="the third image")
