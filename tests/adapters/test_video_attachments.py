"""Video attachments on both platforms: accepted as videos, their size checked before a byte is downloaded."""

import pytest

from adapters.discord.translate import AttachmentInfo, check_attachment
from adapters.slack.files import Downloader
from adapters.slack.translate import FileRef
from core import video
from core.failures import BadInput

CDN = "https://cdn.discordapp.com/attachments/1/2/clip.mp4"


def test_discord_takes_a_video_up_to_the_video_cap_and_refuses_more_before_download():
    fine = AttachmentInfo("clip.mp4", 30 * 2**20, CDN, CDN, "video/mp4")
    assert check_attachment(fine, None) == CDN  # over the 20 MiB image cap, under the video cap
    huge = AttachmentInfo("clip.mp4", video.MAX_VIDEO_BYTES + 1, CDN, CDN, "video/mp4")
    with pytest.raises(BadInput, match="MiB"):
        check_attachment(huge, None)
    with pytest.raises(BadInput, match="not an image"):
        check_attachment(AttachmentInfo("notes.pdf", 10, CDN, CDN, "application/pdf"), None)


async def test_slack_refuses_an_oversized_video_before_downloading():
    files = Downloader("xoxb-test", "http://127.0.0.1:9/api/")  # a dead port: any download would fail differently
    ref = FileRef("F1", "clip.mov", "http://127.0.0.1:9/files/clip.mov", video.MAX_VIDEO_BYTES + 1, "video/quicktime")
    try:
        with pytest.raises(BadInput, match="MiB"):
            await files.fetch(ref)
    finally:
        await files.aclose()
