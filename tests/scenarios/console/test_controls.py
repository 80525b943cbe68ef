"""Scenario: the controls in `python -m bot console`: the search, source, thought and thought-image lines in their
places, /styles, /settings, on both Gemini API paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import pictures
from tests.scenarios.console.harness import RunConsole, gemini_env, kinds

pytestmark = pytest.mark.scenario


@pytest.mark.parametrize("api", ["interactions", "generate_content"])
async def test_search_and_thought_lines_come_before_the_result(tmp_path, gemini, console: RunConsole, api):
    out, err, code = await console(tmp_path, [
        "/imagine a butterfly --search images --model flash-3.1 --thoughts",
        "now at night",
    ], env={**gemini_env(gemini), "GEMINI_API": api})
    assert code == 0, err
    first = out[:out.index(next(line for line in out if line.startswith("image:"))) + 1]
    assert kinds(first) == ["thread", "search", "search", "source", "source", "thought", "thought",
                            "thought-image", "thought-image", "image"]
    assert first[1] == "search: a butterfly https://www.google.com/search?q=a+butterfly"
    assert first[4] == "source: Gallery: a butterfly https://example.net/gallery/a-butterfly"
    drafts = [Path(line.split(": ", 1)[1]) for line in first if line.startswith("thought-image:")]
    result = Path(first[-1].split(": ", 1)[1])
    assert all(p.is_file() for p in drafts) and pictures.size_of(result.read_bytes()) == (1024, 1024)
    assert gemini.requests[1].previous_image == result.read_bytes()  # the next turn refines the result, not a draft
    assert gemini.requests[1].search == ("web", "images") and gemini.requests[1].include_thoughts


async def test_styles_settings_and_refusals(tmp_path, gemini, console: RunConsole):
    out, err, code = await console(tmp_path, [
        "/styles",
        "/settings",
        "/settings server style watercolour",
        "/settings channel guidance Use the brand's teal and orange.",
        "/settings server think extreme",
        "/imagine a lighthouse",
        "/imagine a lighthouse --search --model lite",
        "/imagine a lighthouse --style vaporwave",
        "/settings server style -",
        "/settings",
    ], env=gemini_env(gemini))
    assert code == 0, err
    styles = [line for line in out if line.startswith("text: ")][:12]
    assert [line.split(":")[1].strip() for line in styles][:3] == ["photo", "cinematic", "anime"]
    assert "text: No server or channel settings" in out[12]
    assert any("Set the server setting `style` to watercolour." in line for line in out)
    assert any(line.startswith("error: `--think extreme` is not a thinking level") for line in out)
    assert gemini.requests[0].system_instruction == "Use the brand's teal and orange."
    assert "watercolour painting" in gemini.requests[0].prompt and len(gemini.requests) == 1
    errors = [line for line in out if line.startswith("error:")]
    assert "has no Google Search grounding. --search works with:" in errors[1]
    assert "There is no style `vaporwave`. Choose one of: photo" in errors[2]
    assert out[-1] == "text: channel guidance: Use the brand's teal and orange."
