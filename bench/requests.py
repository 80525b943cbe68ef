"""What a refinement turn sends, and what it costs, on each API path: `python -m bench.requests [--quick]`.

- request bytes of a refinement turn at turns 1 / 5 / 25 of one thread with 1.5 MB images, as the Gemini emulator
  received them (the body on the wire): on the Interactions API with an intact chain, and on generateContent;
- engine refinement-turn time at 1 s model latency with 1.5 MB images (event in → reply out, divided by the
  latency), on both paths, the emulator in its own process so that its CPU is not counted as the bot's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bench.run import PHOTO_KIB, USER, engine_at, overhead
from core.events import NextTurn, StartThread, ThreadKey
from tests.emulators.gemini import GeminiEmulator, photo_like_png, unique_png

KiB, MiB = 1024, 2**20
PATHS = ("interactions", "generate_content")


async def sizes(api: str, points: tuple[int, ...]) -> dict[int, int]:
    """Body bytes of the request at each turn in `points` of one thread (turn 1 starts it)."""
    base = photo_like_png(PHOTO_KIB)
    gemini = GeminiEmulator(check_signatures=False, keep_requests=False)
    gemini.image = lambda wire: unique_png(base, len(gemini.sizes))
    url = await gemini.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with engine_at(url, Path(tmp) / "b.db", api) as engine:
                key = ThreadKey("bench", "s", "c", "long")
                assert (await engine.handle(StartThread(key, USER, "turn 1"))).ok
                for turn in range(2, max(points) + 1):
                    reply = await engine.handle(NextTurn(key, USER, f"turn {turn}"))
                    assert reply.ok, reply.failure
    finally:
        await gemini.stop()
    return {p: gemini.sizes[p - 1] for p in points}


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n / KiB:.1f} KiB"


async def run(quick: bool) -> None:
    print(f"Python {sys.version.split()[0]}; {PHOTO_KIB} KiB 1K images", flush=True)
    for api in PATHS:
        measured = await sizes(api, (1, 5, 25))
        target = "; target ≤ 64 KiB at every turn" if api == "interactions" else ""
        print(f"- request bytes, {api}: " + ", ".join(f"turn {p}: {_size(s)}" for p, s in measured.items())
              + target, flush=True)
    for api in PATHS:
        result = await overhead(1.0, 5 if quick else 10, PHOTO_KIB, api)
        target = "target ≤ 1.03" if api == "interactions" else "was 1.120 before the Interactions API"
        print(f"- engine refinement turn, {api}, 1 s latency: median {result['median_s']:.3f} s, ratio "
              f"{result['ratio']:.3f} (worst {result['worst_ratio']:.3f}); {target}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer turns, for a smoke test")
    asyncio.run(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
