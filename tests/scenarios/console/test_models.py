"""Scenario: `/models` and the model-that-ran notice in `python -m bot console`, discovery against the emulator."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FLASH, PRO, OLD = "gemini-nano-banana-2.1", "gemini-3-pro-image", "gemini-3.1-flash-image"
pytestmark = pytest.mark.scenario


async def console(tmp_path: Path, lines: list[str], gemini, **env: str) -> tuple[list[str], str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "GOOGLE_", "BOT_"))}
    environment.update({"BOT_DB_PATH": str(tmp_path / "bot.db"), "GEMINI_RETRY_DELAY": "0.01", "PYTHONPATH": str(ROOT),
                        "GEMINI_API_KEY": "test-key", "GEMINI_BASE_URL": gemini.base_url, **env})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", "--out", str(tmp_path / "out"),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path, env=environment,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate("\n".join(lines).encode() + b"\n"), 60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode().splitlines(), stderr.decode()


async def test_models_prints_one_line_per_usable_model_id_first(tmp_path, gemini):
    gemini.offered = [PRO, FLASH, "gemini-4-flash-image"]
    out, _ = await console(tmp_path, ["/models"], gemini)
    assert [line.split(" ")[:2] for line in out] == [["text:", m] for m in (FLASH, PRO, "gemini-4-flash-image")]
    assert "(default)" in out[0] and "short: flash" in out[0] and "1K 2K 4K" in out[0] and "per image" in out[0]
    assert "conservative" in out[2]


async def test_a_retired_name_prints_the_model_that_ran_before_the_image(tmp_path, gemini):
    out, _ = await console(tmp_path, ["/imagine a fox --model imagen-4.0-ultra-generate-001", "at night"], gemini)
    assert [line.split(":")[0] for line in out] == ["thread", "text", "image", "text", "image", "text"]
    assert "imagen-4.0-ultra-generate-001" in out[1] and PRO in out[1]
    assert [r.model for r in gemini.requests] == [PRO, PRO]


async def test_discovery_falls_back_when_the_key_lacks_the_default_and_says_which_model_ran(tmp_path, gemini):
    gemini.offered = [OLD, PRO]
    out, err = await console(tmp_path, ["/imagine a fox", f"/imagine a cat --model {FLASH}"], gemini)
    assert f"the configured default model {FLASH} is not offered to this API key: using {OLD}" in err
    assert [line.split(":")[0] for line in out] == ["thread", "image", "text", "thread", "text", "image", "text"]
    assert FLASH in out[4] and OLD in out[4]
    assert [r.model for r in gemini.requests] == [OLD, OLD]
