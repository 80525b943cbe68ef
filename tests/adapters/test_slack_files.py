"""The Slack file downloader against the emulator's token-guarded files and a foreign host: the token per hop,
size caps before and while reading, and refusals that say why."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.slack.files import Downloader
from adapters.slack.translate import file_ref
from core.failures import BadInput, Forbidden
from tests import pictures
from tests.emulators.slack import ForeignHost, SlackEmulator

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def foreign() -> AsyncIterator[ForeignHost]:
    async with ForeignHost() as host:
        yield host


async def test_each_redirect_hop_gets_the_token_only_on_a_slack_host(
    slack_emu: SlackEmulator, foreign: ForeignHost
) -> None:
    photo = pictures.png(9, 9)
    target = slack_emu.register_file(photo, "back.png")
    # Slack → foreign CDN → back to Slack: the middle hop goes bare, the last one carries the token again
    bounce = foreign.redirect("/bounce", target["url_private_download"])
    start = slack_emu.register_file(photo, "start.png", redirect_to=bounce)
    downloader = Downloader(slack_emu.bot_token, slack_emu.api_url)
    try:
        image = await downloader.fetch(file_ref(start))
    finally:
        await downloader.aclose()
    assert image.data == photo and image.name == "start.png"
    assert foreign.authorizations == [] and [r.path for r in foreign.requests] == ["/bounce"]
    assert [f.authorization for f in slack_emu.file_fetches] == [f"Bearer {slack_emu.bot_token}"] * 2


async def test_sizes_are_capped_before_and_while_reading(slack_emu: SlackEmulator, foreign: ForeignHost) -> None:
    big = pictures.noise_png(40, 40)
    downloader = Downloader(slack_emu.bot_token, slack_emu.api_url, max_bytes=1000)
    try:
        declared = slack_emu.register_file(big, "declared.png")
        with pytest.raises(BadInput, match="images up to"):
            await downloader.fetch(file_ref(declared))
        assert slack_emu.file_fetches == []  # refused on the declared size, unread

        undeclared = {**slack_emu.register_file(big, "undeclared.png"), "size": None}
        with pytest.raises(BadInput, match="MiB"):
            await downloader.fetch(file_ref(undeclared))  # Content-Length tells
        assert len(slack_emu.file_fetches) == 1
    finally:
        await downloader.aclose()


async def test_refusals_say_why(slack_emu: SlackEmulator, foreign: ForeignHost) -> None:
    downloader = Downloader(slack_emu.bot_token, slack_emu.api_url)
    try:
        loop = foreign.redirect("/loop", foreign.url + "/loop")
        looping = slack_emu.register_file(pictures.png(), "loop.png", redirect_to=loop)
        with pytest.raises(BadInput, match="too many times"):
            await downloader.fetch(file_ref(looping))
        pdf = slack_emu.register_file(b"%PDF-1.4", "doc.pdf", "application/pdf")
        with pytest.raises(BadInput, match="not an image"):
            await downloader.fetch(file_ref(pdf))
        outside = {**slack_emu.register_file(pictures.png(), "x.png"), "url_private_download": foreign.url + "/x.png"}
        with pytest.raises(Forbidden, match="outside Slack"):
            await downloader.fetch(file_ref(outside))
        assert "/x.png" not in [r.path for r in foreign.requests]
    finally:
        await downloader.aclose()
