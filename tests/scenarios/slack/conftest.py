"""The Slack scenarios' fixtures: the bot under test served to the Slack emulator (`slack_emu`, shared with the
adapter tests, lives in tests/conftest.py), a Web API client and a probe Bolt app for the emulator's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.app import SlackBot
from core.engine import Engine
from tests.emulators.slack import SlackEmulator, serve_bolt_app
from tests.scenarios.slack.harness import BoltProbe, build_app, serving


@pytest.fixture
async def slack_bot(engine: Engine, slack_emu: SlackEmulator) -> AsyncIterator[SlackBot]:
    async with serving(engine, slack_emu) as running:
        yield running


@pytest.fixture
def slack_client(slack_emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=slack_emu.bot_token, base_url=slack_emu.api_url)


@pytest.fixture
async def bolt_probe(slack_emu: SlackEmulator) -> AsyncIterator[BoltProbe]:
    probe = BoltProbe()
    async with serve_bolt_app(build_app(slack_emu, probe)) as url:
        slack_emu.app_url = url
        yield probe
