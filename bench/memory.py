"""Memory under image bombs: `python -m bench.memory [--requests 16] [--edge 7000]`.

The bot runs as it does in production (`python -m bot slack --http`, its own process) against the Slack and Gemini
emulators (in this process). After one warm-up request, N people at once mention the bot on a message carrying a
small PNG of EDGE×EDGE pixels (about 140 KiB for 7000×7000, 147 MB once decoded). Reported from the bot's
/proc/PID/status: VmRSS when idle, VmHWM (the peak) over the burst, and VmRSS a few seconds after the last answer.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

from tests.emulators.gemini import GeminiEmulator
from tests.emulators.slack import DEFAULT_CHANNEL, SlackEmulator

ROOT = Path(__file__).resolve().parent.parent
MiB = 2**20


def bomb_png(edge: int) -> bytes:
    """A PNG that is small on disk and huge decoded: a few shapes on a flat background."""
    image = Image.new("RGB", (edge, edge), (30, 90, 160))
    draw = ImageDraw.Draw(image)
    for i in range(0, edge, max(1, edge // 40)):
        draw.ellipse((i, i // 2, i + edge // 8, i // 2 + edge // 8), fill=(i % 255, 200, 40))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_listening(port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise TimeoutError(f"the bot did not listen on {port} within {within} s")


async def until(predicate: Callable[[], object], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def measure(requests: int, edge: int) -> dict[str, float]:
    data = bomb_png(edge)
    gemini = GeminiEmulator(check_signatures=False, keep_requests=False)
    gemini_url = await gemini.start()
    port = free_port()
    try:
        async with SlackEmulator() as emu:
            with tempfile.TemporaryDirectory() as tmp:
                ours = ("GEMINI_", "GOOGLE_", "BOT_", "SLACK_")
                env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
                env.update(
                    GEMINI_API_KEY="bench", GEMINI_BASE_URL=gemini_url, BOT_DB_PATH=str(Path(tmp) / "bot.db"),
                    SLACK_BOT_TOKEN=emu.bot_token, SLACK_SIGNING_SECRET=emu.signing_secret, SLACK_API_URL=emu.api_url,
                    PORT=str(port), PYTHONPATH=str(ROOT),
                )
                bot = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "slack", "--http", cwd=tmp, env=env,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                )
                try:
                    await wait_listening(port)
                    emu.app_url = f"http://127.0.0.1:{port}/slack/events"
                    mention = f"<@{emu.bot_user_id}> make it night"
                    small = emu.register_file(bomb_png(256), "warm-up.png")
                    await emu.send_event(emu.user_message(DEFAULT_CHANNEL, mention, files=[small]))
                    await until(lambda: len(emu.uploads) == 1, 60, "the warm-up answer")
                    await asyncio.sleep(2)
                    idle = status(bot.pid)["VmRSS"]
                    started = time.monotonic()
                    events = [emu.user_message(DEFAULT_CHANNEL, mention, files=[emu.register_file(data, f"big{i}.png")])
                              for i in range(requests)]
                    await asyncio.gather(*(emu.send_event(event) for event in events))
                    await until(lambda: len(emu.uploads) == requests + 1, 600, "every answer")
                    took = time.monotonic() - started
                    await asyncio.sleep(3)
                    after = status(bot.pid)
                finally:
                    bot.terminate()
                    await asyncio.wait_for(bot.wait(), 60)
    finally:
        await gemini.stop()
    return {"file_kib": len(data) / 1024, "idle_mib": idle / MiB, "peak_mib": after["VmHWM"] / MiB,
            "after_mib": after["VmRSS"] / MiB, "seconds": took}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--edge", type=int, default=7000)
    args = parser.parse_args()
    got = asyncio.run(measure(args.requests, args.edge))
    print(f"{args.requests} mentions at once, each a {args.edge}×{args.edge} PNG of {got['file_kib']:.0f} KiB:")
    print(f"  bot RSS idle {got['idle_mib']:.0f} MiB, peak {got['peak_mib']:.0f} MiB, "
          f"{got['after_mib']:.0f} MiB 3 s after the last answer; all answered in {got['seconds']:.1f} s")


if __name__ == "__main__":
    main()
