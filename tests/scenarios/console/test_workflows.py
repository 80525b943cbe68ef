"""Scenario: the console's several-pictures workflows end to end in their own process: `--n` and `/use`, `/story`,
`--region`, `--mask`, `--extend`, `--style-ref`, and a video through `/attach`."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from bot.offline_files import file_uris
from tests import pictures
from tests.emulators.gemini import unique_png
from tests.scenarios.console.harness import RunConsole, gemini_env, kinds
from tests.support import history_images

pytestmark = pytest.mark.scenario



async def test_variants_then_use_k(tmp_path, gemini, console: RunConsole):
    base, drawn = pictures.png(64, 64), itertools.count()
    gemini.image = lambda wire: unique_png(base, next(drawn))
    out, err, code = await console(tmp_path, [
        "/imagine a red fox --n 3 --model pro",
        "/use 2",
        "make it night",
        "/use 9",
    ], env=gemini_env(gemini))
    assert code == 0, err
    images = [Path(line.split(": ", 1)[1]) for line in out if line.startswith("image: ")]
    assert kinds(out)[:1] == ["thread"] and len(images) == 4 and gemini.calls == 4
    assert "text: Continuing from picture 2: your next message here edits it." in out
    assert history_images(gemini.requests[-1]) == [images[1].read_bytes()]
    assert out[-1] == "error: Usage: /use K, where K is 1 to 3."


async def test_story_prints_each_panel_with_its_caption(tmp_path, gemini, console: RunConsole):
    out, err, code = await console(tmp_path, ["/story 3 a fox finds a key", "make panel 2 at night"],
                                   env=gemini_env(gemini))
    assert code == 0, err
    assert kinds(out)[:7] == ["thread", "text", "image", "text", "image", "text", "image"]
    assert [line.split(" ")[1] for line in out if line.startswith("text: ") and "/3" in line][:3] == \
        ["1/3", "2/3", "3/3"]
    assert "text: Story: 3 of 3 panels made." in out
    assert sum(1 for c in gemini.requests[-1].contents[:-1] if c["role"] == "model") == 3


async def test_region_mask_extend_and_style_reference(tmp_path, gemini, console: RunConsole):
    photo, mask, style = tmp_path / "photo.png", tmp_path / "mask.png", tmp_path / "style.png"
    photo.write_bytes(pictures.png(80, 60, (10, 200, 10)))
    mask.write_bytes(pictures.png(80, 60, (255, 255, 255)))
    style.write_bytes(pictures.png(30, 30, (10, 10, 200)))
    out, err, code = await console(tmp_path, [
        "/imagine a garden --model flash",
        "a red car --region \"the path\"",
        f"/attach {mask}",
        "a pond --mask",
        f"/attach {photo}",
        f"/attach {style}",
        "--style-ref",
        "--extend left,right:0.25",
    ], env=gemini_env(gemini))
    assert code == 0, err
    assert not [line for line in out if line.startswith("error:")]
    _, region, masked, styled, extended = gemini.requests
    assert "Edit only the path in the latest picture" in region.prompt
    assert masked.input_images == [mask.read_bytes()] and "marked white in the last image" in masked.prompt
    assert styled.input_images == [photo.read_bytes(), style.read_bytes()]
    assert "Apply the visual style of the last image" in styled.prompt
    [canvas] = extended.input_images
    assert pictures.size_of(canvas)[0] > pictures.size_of(canvas)[1] and extended.aspect_ratio is not None


async def test_a_video_attachment_goes_through_the_files_api(tmp_path, gemini, console: RunConsole):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(5 * 2**20))
    out, err, code = await console(tmp_path, [
        f"/attach {clip}", "/imagine a poster for this clip --model flash-3.1",
        f"/attach {clip}", "/imagine the same --model pro",
    ], env=gemini_env(gemini))
    assert code == 0, err
    [resource] = gemini.files.files.values()
    assert file_uris(gemini.requests[0].contents) == [resource["uri"]] and gemini.calls == 1
    assert out[-1].startswith("error: gemini-3-pro-image does not take video input")
