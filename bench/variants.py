"""Benchmark: a 4-variant set's time against one picture's, at the same model latency, with room in the queue.

`python -m bench.variants [--latency S] [--runs N] [--image-kib K]` prints the medians and their ratio; the README
quotes its output (target: at most 1.1×). The Gemini emulator runs in its own process (see `bench.run`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.run import PHOTO_KIB, USER, emulator, engine_at
from core.events import StartThread, ThreadKey, Workflow


async def timed(engine, n: int, thread: int) -> float:
    key = ThreadKey("bench", "space", "channel", f"t{thread}")
    started = time.perf_counter()
    reply = await engine.handle(StartThread(key, USER, "a red fox in the snow", workflow=Workflow(n=n)))
    elapsed = time.perf_counter() - started
    assert reply.ok and len(reply.images) == n, reply.failure
    return elapsed


async def measure(latency: float, runs: int, image_kib: int, api: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        async with emulator(latency, image_kib) as url, engine_at(url, Path(tmp) / "bench.db", api,
                                                                   max_concurrency=4) as engine:
            await timed(engine, 1, -1)  # warm-up: connections, first migration, first Pillow import
            one = [await timed(engine, 1, i) for i in range(runs)]
            four = [await timed(engine, 4, runs + i) for i in range(runs)]
    return statistics.median(one), statistics.median(four)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--image-kib", type=int, default=PHOTO_KIB)
    args = parser.parse_args()
    for api in ("interactions", "generate_content"):
        one, four = asyncio.run(measure(args.latency, args.runs, args.image_kib, api))
        print(f"variants {api}: latency {args.latency:.2f} s, {args.image_kib} KiB images, median of {args.runs}: "
              f"one picture {one:.3f} s, a set of 4 {four:.3f} s, ratio {four / one:.3f} (target <= 1.1)")


if __name__ == "__main__":
    main()
