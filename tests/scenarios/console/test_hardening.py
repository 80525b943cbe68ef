"""Scenario: whatever one console line brings (a broken image, bytes that are not UTF-8, a name too long for the
file system), it is answered with an `error:` line or an image, and the next line is served."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests import corpus
from tests.scenarios.console.harness import Process, RunConsole, gemini_env, kinds, spawn

pytestmark = pytest.mark.scenario


async def test_every_image_of_the_corpus_gets_an_answer_and_the_session_goes_on(tmp_path, gemini, console: RunConsole):
    samples = corpus.corpus()
    lines = []
    for sample in samples:
        path = tmp_path / sample.name
        path.write_bytes(sample.data)
        lines += [f"/attach {path}", f"/imagine use {sample.name}"]
    lines.append("/imagine a fox after all that")
    out, err, code = await console(tmp_path, lines, env=gemini_env(gemini))
    assert code == 0, err
    answers = [line for line in out if line.startswith(("image:", "error:"))]
    assert len(answers) == len(samples) + 1, out
    for sample, answer in zip(samples, answers, strict=False):
        if sample.readable:
            assert answer.startswith("image:"), (sample.name, answer)
        else:
            assert answer.startswith("error:") and sample.name in answer, (sample.name, answer)
            assert "could not be read as an image" in answer or "too many pixels" in answer
    assert answers[-1].startswith("image:")
    assert gemini.calls == sum(s.readable for s in samples) + 1
    assert "Traceback" not in err


async def _run_raw(tmp_path, data: bytes, env: dict[str, str]) -> tuple[list[str], str, int | None]:
    process: Process = await spawn(tmp_path, env=env)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(data), 60)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return stdout.decode("utf-8", "backslashreplace").splitlines(), stderr.decode(errors="replace"), process.returncode


@pytest.mark.parametrize("locale", [
    {"LC_ALL": "C.UTF-8"},
    {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": "ascii"},  # a terminal that is not UTF-8
], ids=["utf8-locale", "ascii-locale"])
async def test_bytes_that_are_not_utf8_are_an_error_line_and_the_next_line_is_served(tmp_path, gemini, locale):
    long_name = "/attach " + str(tmp_path / ("x" * 5000 + ".png"))
    data = b"/imagine a \xff\xfe fox\n" + long_name.encode() + b"\n" + b"y" * 70_000 + b"\n/imagine a calm lake\n"
    out, err, code = await _run_raw(tmp_path, data, {**gemini_env(gemini), **locale})
    assert code == 0, err
    assert kinds(out) == ["error", "error", "error", "thread", "image", "text"], out
    assert "not UTF-8" in out[0] and "0xff" in out[0]
    assert "Could not read" in out[1] and len(out[1]) < 300  # the name is shortened, the reason given
    assert "longer than 64 KiB" in out[2]
    assert gemini.calls == 1 and gemini.requests[0].prompt == "a calm lake"


async def test_a_database_that_cannot_be_opened_is_named_with_its_setting(tmp_path, console: RunConsole):
    (tmp_path / "not-a-db").write_bytes(b"this is not a SQLite database file, just some text " * 100)
    out, err, code = await console(tmp_path, ["/models"], "--offline", env={"BOT_DB_PATH": str(tmp_path / "not-a-db")})
    assert code == 2 and out == []
    assert f"could not open the database {tmp_path / 'not-a-db'} (BOT_DB_PATH)" in err
    assert "Traceback" not in err


async def test_a_database_locked_by_another_program_is_an_error_line_then_served(tmp_path, gemini, console):
    import sqlite3

    from core.store import Store

    path = tmp_path / "bot.db"
    store = await Store.open(path)  # the bot's database, then locked by another program
    await store.close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, other.execute, "COMMIT")  # released well within the busy timeout: waited out
    out, err, code = await console(tmp_path, ["/imagine a fox"], env=gemini_env(gemini))
    other.close()
    assert code == 0, err
    assert kinds(out) == ["thread", "image", "text"]
