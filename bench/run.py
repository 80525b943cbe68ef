"""Benchmarks: the engine and adapters against the local emulators, with a configurable model latency.

`python -m bench.run [--quick]` prints one line per measurement; the README quotes its output. The Gemini emulator runs
in its own process, so its CPU time and memory are not counted as the bot's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from core.budget import Accountant, Limits
from core.costs import Prices
from core.engine import Engine, EngineConfig
from core.events import NextTurn, StartThread, ThreadKey, User
from core.model import GeminiConfig, GeminiModel
from core.store import Store

ROOT = Path(__file__).resolve().parent.parent
MiB = 2**20
PHOTO_KIB = 1500  # a real 1K Gemini PNG is 1-2 MB
SMALL_KIB = 100  # for runs of thousands of turns, so the database stays small
USER = User("bench")


@contextlib.asynccontextmanager
async def emulator(latency: float, image_kib: int) -> AsyncIterator[str]:
    """A Gemini emulator in a child process answering with distinct 1K images of about `image_kib` KiB."""
    args = [sys.executable, "-m", "tests.emulators.gemini", "--latency", str(latency), "--image-kib", str(image_kib)]
    process = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
    try:
        yield url
    finally:
        process.stdin.close()
        await asyncio.wait_for(process.wait(), 30)


@contextlib.asynccontextmanager
async def engine_at(url: str, db: Path, api: str = "interactions", **config) -> AsyncIterator[Engine]:
    store = await Store.open(db)
    model = GeminiModel(GeminiConfig(api_key="bench", base_url=url, attempts=1, timeout_s=600, api=api))
    try:
        yield Engine(store, model, EngineConfig(**config), accountant=Accountant(store, Limits(), Prices()))
    finally:
        await model.aclose()
        await store.close()


async def overhead(latency: float, turns: int, kib: int, api: str = "interactions") -> dict[str, float]:
    """Refinement turns: event in → reply out, divided by the model's latency."""
    with tempfile.TemporaryDirectory() as tmp:
        async with emulator(latency, kib) as url, engine_at(url, Path(tmp) / "b.db", api) as engine:
            key = ThreadKey("bench", "s", "c", "overhead")
            await engine.handle(StartThread(key, USER, "a red fox in the snow"))
            times = []
            for i in range(turns):
                started = time.perf_counter()
                reply = await engine.handle(NextTurn(key, USER, f"refinement {i}"))
                times.append(time.perf_counter() - started)
                assert reply.ok and reply.images, reply.failure
    median = statistics.median(times)
    return {"median_s": median, "ratio": median / latency, "worst_ratio": max(times) / latency}


async def throughput(requests: int, cap: int, latency: float) -> dict[str, float]:
    """`requests` simultaneous new threads, `cap` in flight: total time against the ideal."""
    with tempfile.TemporaryDirectory() as tmp:
        async with emulator(latency, SMALL_KIB) as url, engine_at(url, Path(tmp) / "b.db", max_concurrency=cap,
                                                                        max_waiting=requests) as engine:
            started = time.perf_counter()
            replies = await asyncio.gather(*(
                engine.handle(StartThread(ThreadKey("bench", "s", "c", str(i)), User(f"u{i % 20}"), f"fox {i}"))
                for i in range(requests)
            ))
            total = time.perf_counter() - started
            turn_ids = [r.turn_id for r in replies if r.ok]
    ideal = requests / cap * latency
    return {"total_s": total, "ideal_s": ideal, "ratio": total / ideal, "answered": len(turn_ids),
            "unique": len(set(turn_ids))}


async def memory(threads: int, turns: int) -> dict[str, float]:
    """Peak RSS of this process after `threads` threads of `turns` turns each (emulator in its own process)."""
    with tempfile.TemporaryDirectory() as tmp:
        async with emulator(0.0, SMALL_KIB) as url, engine_at(url, Path(tmp) / "b.db", max_concurrency=4,
                                                                     max_waiting=1000) as engine:
            started = time.perf_counter()

            async def conversation(n: int) -> None:
                key = ThreadKey("bench", "s", "c", f"m{n}")
                await engine.handle(StartThread(key, User(f"u{n % 50}"), f"thread {n}"))
                for turn in range(turns - 1):
                    await engine.handle(NextTurn(key, User(f"u{n % 50}"), f"turn {turn}"))

            for batch in range(0, threads, 50):
                await asyncio.gather(*(conversation(n) for n in range(batch, min(threads, batch + 50))))
            elapsed = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            db_size = sum(f.stat().st_size for f in Path(tmp).glob("b.db*")) / MiB  # noqa: ASYNC240
    return {"peak_rss_mb": peak, "seconds": elapsed, "db_mb": db_size,
            "turns": threads * turns}


async def history_load(turns: int, repeats: int = 20) -> dict[str, float]:
    """Time to load a `turns`-turn thread's whole history from SQLite (one query)."""
    with tempfile.TemporaryDirectory() as tmp:
        async with emulator(0.0, SMALL_KIB) as url, engine_at(url, Path(tmp) / "b.db") as engine:
            key = ThreadKey("bench", "s", "c", "h")
            await engine.handle(StartThread(key, USER, "start"))
            for turn in range(turns - 1):
                await engine.handle(NextTurn(key, USER, f"turn {turn}"))
            store = engine.store
            thread = await store.get_thread(key)
            assert thread is not None
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                history = await store.history(thread.id, 10**12, turns, 10**12)
                times.append(time.perf_counter() - started)
            assert len(history) == 2 * turns
    return {"median_ms": statistics.median(times) * 1000, "turns": turns}


async def section(name: str, quick: bool) -> None:
    if name == "overhead":
        for kib in (SMALL_KIB, PHOTO_KIB):
            result = await overhead(1.0, 5 if quick else 10, kib)
            print(f"- overhead, refinement turn at 1 s latency (Interactions API), {kib} KiB 1K images: "
                  f"median {result['median_s']:.3f} s"
                  f", ratio {result['ratio']:.3f} (worst {result['worst_ratio']:.3f}); target ≤ 1.02")
    elif name == "throughput":
        n = 40 if quick else 200
        result = await throughput(n, 4, 0.5)
        print(f"- throughput, {n} simultaneous requests in {n} threads ({SMALL_KIB} KiB images), cap 4, 0.5 s "
              f"latency: {result['total_s']:.2f} s vs ideal {result['ideal_s']:.1f} s = {result['ratio']:.3f}; "
              f"answered {result['answered']}, unique {result['unique']}; target ≤ 1.05")
    elif name == "sizes":
        from bench.requests import PATHS, sizes  # the body as the emulator received it, on each API path

        points = (1, 5, 25) if quick else (1, 5, 25, 100)
        for api in PATHS:
            measured = await sizes(api, points)
            print(f"- request size by turn, {api} ({PHOTO_KIB} KiB images): "
                  + ", ".join(f"turn {p}: {s / MiB:.2f} MiB" for p, s in measured.items()) + "; limit 20 MiB")
    elif name == "history":
        result = await history_load(100)
        print(f"- load a 100-turn thread's history ({SMALL_KIB} KiB images): median {result['median_ms']:.1f} ms")
    elif name == "memory":
        threads = 100 if quick else 1000
        result = await memory(threads, 5)
        print(f"- memory, {threads} threads × 5 turns of {SMALL_KIB} KiB images ({result['turns']} turns in "
              f"{result['seconds']:.0f} s): peak RSS {result['peak_rss_mb']:.0f} MB; database "
              f"{result['db_mb']:.0f} MB; target < 200 MB")


SECTIONS = ("overhead", "throughput", "sizes", "history", "memory")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--only", choices=SECTIONS, help="run one section in this process")
    args = parser.parse_args()
    if args.only:
        asyncio.run(section(args.only, args.quick))
        return
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores; each section in a fresh process, the Gemini "
          "emulator in another", flush=True)
    for name in SECTIONS:  # a fresh process each, so one section's memory peak is not another's
        subprocess.run([sys.executable, "-m", "bench.run", "--only", name, *(["--quick"] if args.quick else [])],
                       cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
