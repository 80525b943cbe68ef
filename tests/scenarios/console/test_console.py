"""Scenario: `python -m bot console` end to end, in its own process, through the real google-genai client."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import pictures
from tests.emulators.gemini import Block, Finish, Status, TextOnly
from tests.scenarios.console.harness import RunConsole, gemini_env, kinds

pytestmark = pytest.mark.scenario


async def test_imagine_refine_attach_and_forget_with_pro(tmp_path, gemini, console: RunConsole):
    cat = tmp_path / "cat.png"
    cat.write_bytes(pictures.png(40, 30, (1, 2, 3)))
    out, err, code = await console(tmp_path, [
        "/imagine a red fox --ar 16:9 --model pro",
        "make it night",
        f"/attach {cat}",
        "put this cat next to it",
        "/forget",
        "a new start",
    ], env=gemini_env(gemini))
    assert code == 0, err
    assert kinds(out) == ["thread", "image", "text", "image", "text", "image", "text", "text", "image", "text"]
    images = [Path(line.split(": ", 1)[1]) for line in out if line.startswith("image:")]
    assert all(p.is_absolute() and p.is_file() for p in images)
    assert pictures.size_of(images[0].read_bytes()) == (1376, 768)
    first, night, edit, fresh = gemini.requests
    assert (first.aspect_ratio, first.model, first.prompt) == ("16:9", "gemini-3-pro-image", "a red fox")
    assert [c["role"] for c in night.contents] == ["user", "model", "user"]
    assert any("thought_signature" in part for part in night.contents[1]["parts"])
    assert edit.input_images == [cat.read_bytes()] and len(edit.contents) == 5
    assert "Forgot this conversation (3 turns)" in out[7]
    assert len(fresh.contents) == 1 and fresh.aspect_ratio == "16:9"


async def test_a_new_process_continues_a_stored_thread(tmp_path, gemini, console: RunConsole):
    out, _, _ = await console(tmp_path, ["/imagine a lighthouse --model pro"], env=gemini_env(gemini))
    thread_id = out[0].removeprefix("thread: ")
    out, err, code = await console(tmp_path, [f"/thread {thread_id}", "add a storm"], env=gemini_env(gemini))
    assert code == 0, err
    assert out[0] == f"thread: {thread_id}" and out[1].startswith("image: ")
    assert len(gemini.requests[-1].contents) == 3 and gemini.requests[-1].model == "gemini-3-pro-image"
    out, _, _ = await console(tmp_path, ["/thread nope"], env=gemini_env(gemini))
    assert out == ["error: No stored thread nope. Start one with /imagine."]


async def test_every_failure_is_an_error_line_and_the_session_goes_on(tmp_path, gemini, console: RunConsole):
    (tmp_path / "notes.txt").write_text("not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "bomb.png").write_bytes(pictures.bomb_png())
    gemini.push(Status(429), Status(500), Status(503))  # all retried: the first request still succeeds
    gemini.push(Block("SAFETY"))
    gemini.push(Finish("IMAGE_SAFETY"))
    gemini.push(TextOnly("Foxes are small canids."))
    out, err, code = await console(tmp_path, [
        "/imagine a fox",
        "a fox doing something blocked",
        "another one stopped by the image filter",
        "describe a fox",
        f"/attach {tmp_path / 'notes.txt'}",
        "use the text file",
        f"/attach {tmp_path / 'empty.png'}",
        f"/attach {tmp_path / 'missing.png'}",
        f"/attach {tmp_path / 'bomb.png'}",
        "use the bomb",
        "/imagine wide --ar 9:21",
        "/imagine big --size 4K --model flash-2.5",
        "/imagine    ",
        "/frobnicate",
        "/imagine still works",
    ], env=gemini_env(gemini))
    assert code == 0, err
    assert gemini.calls == 4 + 3 + 1
    errors = [line for line in out if line.startswith("error:")]
    expected = ["SAFETY", "IMAGE_SAFETY", "text file", "empty (0 bytes)", "No file at", "megapixels",
                "aspect ratio 9:21", "no size option", "prompt is empty", "Unknown command"]
    assert len(errors) == len(expected), out
    for line, needle in zip(errors, expected, strict=True):
        assert needle in line, (needle, line)
    assert "text: Foxes are small canids." in out
    assert any("Ask for a picture" in line for line in out)
    assert out[-1].startswith("text: ") and out[-2].startswith("image: ") and out[-3].startswith("thread: ")


async def test_offline_needs_no_key(tmp_path, console: RunConsole):
    out, err, code = await console(tmp_path, ["/imagine a banana --ar 4:3", "peel it"], "--offline")
    assert code == 0, err
    assert kinds(out) == ["thread", "image", "text", "image", "text"]
    assert pictures.size_of(Path(out[1][7:]).read_bytes()) == (1200, 896)


async def test_without_a_key_the_operator_is_told_what_to_set(tmp_path, console: RunConsole):
    out, err, code = await console(tmp_path, ["/imagine x"])
    assert code == 2 and out == []
    assert "GEMINI_API_KEY" in err and "--offline" in err
