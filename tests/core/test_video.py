"""Video as context for a still: large videos uploaded once through the Files API (the emulator's resumable
protocol) and referred to by URI, small ones inline; models without video input refuse it by name."""

import pytest

from bot.offline_files import file_uris
from core import video
from core.events import EditImages, ImageInput, NextTurn, Options, User
from core.failures import UnsupportedOption
from tests.core.test_limits import key, make_engine

ALICE = User("alice")
VIDEO_MODEL = Options(model="gemini-3.1-flash-image")


def mp4(size: int) -> bytes:
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + bytes(size - len(head))


@pytest.fixture(params=["interactions", "generate_content"])
def gemini_api(request) -> str:
    return request.param


async def test_a_large_video_is_uploaded_once_and_referred_to_by_uri(store, model, gemini, gemini_api):
    engine = make_engine(store, model)
    clip = mp4(9 * 2**20)  # two 8 MiB chunks: start, upload, then upload+finalize
    reply = await engine.handle(EditImages(key(1), ALICE, "a poster for this clip", (ImageInput(clip, "c.mp4"),),
                                           VIDEO_MODEL))
    assert reply.ok
    [(name, resource)] = gemini.files.files.items()
    assert resource["mimeType"] == "video/mp4" and gemini.files.chunks == 2
    assert gemini.files.contents[resource["uri"]] == clip
    assert file_uris(gemini.requests[-1].contents) == [resource["uri"]]
    assert gemini.requests[-1].body_bytes < 2**20  # the bytes did not travel inline
    await engine.handle(NextTurn(key(1), ALICE, "now as a thumbnail"))
    assert len(gemini.files.files) == 1 and gemini.files.chunks == 2  # not uploaded again
    if gemini_api == "generate_content":  # our window re-sends the reference (the chain already holds it)
        assert file_uris(gemini.requests[-1].contents) == [resource["uri"]]


async def test_a_small_video_travels_inline(store, model, gemini):
    engine = make_engine(store, model)
    clip = mp4(4096)
    reply = await engine.handle(EditImages(key(1), ALICE, "a still", (ImageInput(clip, "c.mp4"),), VIDEO_MODEL))
    assert reply.ok and not gemini.files.files
    parts = gemini.requests[-1].message["parts"]
    assert [p["inline_data"]["mime_type"] for p in parts if "inline_data" in p] == ["video/mp4"]


async def test_models_without_video_input_refuse_it_by_name(store, model, gemini):
    engine = make_engine(store, model)
    reply = await engine.handle(EditImages(key(1), ALICE, "a still", (ImageInput(mp4(4096), "c.mp4"),),
                                           Options(model="pro")))
    assert isinstance(reply.failure, UnsupportedOption)
    assert "gemini-3-pro-image does not take video input" in reply.failure.message
    assert "gemini-3.1-flash-image" in reply.failure.message and gemini.calls == 0


def test_videos_are_recognised_by_their_bytes():
    assert video.sniff(mp4(64)) == "video/mp4"
    assert video.sniff(b"\x1aE\xdf\xa3" + bytes(60)) == "video/webm"
    assert video.sniff(b"\x00\x00\x00\x14ftypqt  " + bytes(60)) == "video/quicktime"
    assert video.sniff(b"\x89PNG\r\n\x1a\n" + bytes(60)) is None
