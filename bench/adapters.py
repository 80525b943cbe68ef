"""Adapter overhead: a refinement turn end to end, platform event in → upload recorded by the platform emulator.

`python -m bench.adapters` runs the Slack adapter (the real Bolt app over signed HTTP against the Slack emulator)
and the Discord adapter (the real discord.py client against the Discord emulator), each against the Gemini
emulator in its own process at 1 s latency.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from adapters.discord.config import DiscordConfig
from adapters.slack.config import SlackConfig
from bench.run import PHOTO_KIB, SMALL_KIB, emulator, engine_at
from tests.support import until

LATENCY = 1.0


async def slack_overhead(kib: int, turns: int) -> float:
    from adapters.slack.app import SlackBot
    from tests.emulators.slack import DEFAULT_CHANNEL, SlackEmulator, message_event, serve_bolt_app

    with tempfile.TemporaryDirectory() as tmp:
        async with emulator(LATENCY, kib) as url, engine_at(url, Path(tmp) / "b.db") as engine, \
                SlackEmulator() as slack:
            config = SlackConfig(bot_token=slack.bot_token, signing_secret=slack.signing_secret, api_url=slack.api_url)
            bot = SlackBot(engine, config)
            try:
                async with serve_bolt_app(bot.app) as app_url:
                    slack.app_url = app_url
                    await slack.send_slash_command("/imagine", "a red fox in the snow")
                    await until(lambda: len(slack.uploads) == 1, timeout=30)
                    root = slack.uploads[0].thread_ts
                    times = []
                    for i in range(turns):
                        event = message_event(DEFAULT_CHANNEL, f"refinement {i}", thread_ts=root)
                        started = time.perf_counter()
                        await slack.send_event(event)
                        await until(lambda n=i: len(slack.uploads) == n + 2, timeout=30, interval=0.002)
                        times.append(time.perf_counter() - started)
            finally:
                await bot.aclose()
    return statistics.median(times) / LATENCY


async def discord_overhead(kib: int, turns: int) -> float:
    from adapters.discord.app import run
    from tests.emulators.discord import DiscordEmulator

    with tempfile.TemporaryDirectory() as tmp:
        async with emulator(LATENCY, kib) as url, engine_at(url, Path(tmp) / "b.db") as engine, \
                DiscordEmulator() as discord:
            config = DiscordConfig(token=discord.token, api_base=discord.api_base, gateway_url=discord.gateway_url,
                                   guild_ids=(int(discord.guild_id),), shutdown_grace_s=5)
            ready = asyncio.Event()
            bot = asyncio.create_task(run(engine, config, ready=ready, guild_ready_timeout=0.05))
            try:
                await asyncio.wait_for(ready.wait(), 30)
                command = await discord.invoke_slash("imagine", {"prompt": "a red fox in the snow"})
                await until(lambda: command.original_message_id in discord.threads, timeout=30)
                thread = command.original_message_id or ""
                times = []
                for i in range(turns):
                    answered = len([m for m in discord.channel_messages(thread) if m["attachments"]])
                    started = time.perf_counter()
                    await discord.send_message(thread, discord.user, f"refinement {i}")
                    await until(
                        lambda n=answered: len([m for m in discord.channel_messages(thread) if m["attachments"]]) > n,
                        timeout=30,
                        interval=0.002,
                    )
                    times.append(time.perf_counter() - started)
            finally:
                bot.cancel()
                await asyncio.gather(bot, return_exceptions=True)
    return statistics.median(times) / LATENCY


async def main(quick: bool) -> None:
    turns = 3 if quick else 8
    for name, measure in (("Slack", slack_overhead), ("Discord", discord_overhead)):
        for kib in (SMALL_KIB, PHOTO_KIB):
            ratio = await measure(kib, turns)
            print(f"- {name} adapter, refinement turn (event in → upload recorded), {kib} KiB 1K images, 1 s "
                  f"latency: ratio {ratio:.3f}; target ≤ 1.02", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
