"""Benchmarks of issue 13 (several processes on PostgreSQL).

`python -m bench.scale [--quick]`:
- history: loading the window of a 100-turn thread (and the whole thread) on PostgreSQL and on SQLite;
- fleet: 200 requests spread over two bot processes sharing one PostgreSQL (`GEMINI_MAX_CONCURRENCY` 4 each, the
  model answering in 0.5 s) against the ideal of 200 / 8 × 0.5 = 12.5 s; a tenth of them are delivered again to the
  other process a second later (as a Slack retry reaching the other worker would be), and each must be answered
  exactly once.
PostgreSQL is a throwaway cluster (tests/postgres.py); the Gemini emulator runs in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.run import ROOT, emulator
from core.budget import Accountant, Limits
from core.costs import Prices
from core.engine import Engine, EngineConfig
from core.engine_config import RAW_BUDGET
from core.events import Options, StartThread, ThreadKey, User
from core.model import GeminiConfig, GeminiModel
from core.observe import Observer
from core.store import Store
from tests.emulators.gemini import photo_like_png, unique_png
from tests.postgres import start_cluster

LATENCY = 0.5
CAP = 4
RETRY_AFTER = 1.0  # Slack retries an unacknowledged event after a second or more
API = ["generate_content"]  # the cheaper client path in CPU (see the README); --api interactions for the other


async def _fill(store: Store, turns: int, image: bytes) -> int:
    thread = await store.save_thread(ThreadKey("bench", "s", "c", "long"), Options(model="m"), "u")
    for n in range(turns):
        turn = await store.add_turn(thread, "u", f"turn {n}", Options(model="m"), {"role": "user", "parts": [
            {"text": f"turn {n}"}]})
        await store.complete_turn(turn, {"role": "model", "parts": [
            {"inline_data": {"mime_type": "image/png", "data": unique_png(image, n)}, "thought_signature": b"s" * 64}
        ]})
    return thread.id


async def history(url: str, runs: int) -> dict[str, float]:
    store = await Store.open(url)
    try:
        thread = await _fill(store, 100, photo_like_png(100))
        result = {}
        for name, turns, budget in (("window", 6, RAW_BUDGET), ("all 100", 100, 10**12)):
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                loaded = await store.history(thread, 10**9, turns, budget)
                times.append(time.perf_counter() - started)
            assert len(loaded) == 2 * turns
            result[name] = statistics.median(times) * 1000
        return result
    finally:
        await store.close()


class _Timing(Observer):
    def __init__(self) -> None:
        self.calls: list[float] = []

    def generated(self, model: str, seconds: float) -> None:
        self.calls.append(seconds)


async def worker(database: str, gemini: str, ids: list[int], retries: list[int], cap: int) -> None:
    """One bot process: wait for `go` on stdin, handle the requests it was given, print what it did."""
    store = await Store.open(database)
    model = GeminiModel(GeminiConfig(api_key="bench", base_url=gemini, attempts=1, timeout_s=600, api=API[0]))
    timing = _Timing()
    engine = Engine(store, model, EngineConfig(max_concurrency=cap, max_waiting=1000),
                    accountant=Accountant(store, Limits(), Prices()), observer=timing)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def one(n: int, after: float = 0.0) -> str:
        await asyncio.sleep(after)
        if not await engine.claim("bench", str(n)):
            return "duplicate"
        reply = await engine.handle(StartThread(ThreadKey("bench", "s", "c", str(n)), User(f"u{n}"), f"fox {n}"))
        return "ok" if reply.ok else f"failed: {reply.failure}"

    outcomes = await asyncio.gather(*(one(n) for n in ids), *(one(n, RETRY_AFTER) for n in retries))
    counts: dict[str, object] = {o: outcomes.count(o) for o in set(outcomes)}
    counts["model_call_s"] = round(statistics.mean(timing.calls), 3) if timing.calls else None
    print(json.dumps(counts), flush=True)
    await model.aclose()
    await store.close()


async def fleet(database: str, requests: int, count: int = 2) -> dict[str, object]:
    """`count` processes with CAP calls each (one process: all the calls, for comparison)."""
    async with emulator(LATENCY, 20) as gemini:
        share: dict[int, list[int]] = {p: [n for n in range(requests) if n % count == p] for p in range(count)}
        retries: dict[int, list[int]] = {p: [] for p in range(count)}
        if count == 2:
            for n in range(0, requests, 10):  # delivered again, to the other process, as a Slack retry would be
                retries[1 - n % 2].append(n)
        cap = str(CAP * 2 // count)
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.scale", "worker", database, gemini, json.dumps(share[p]),
                json.dumps(retries[p]), cap, API[0], cwd=ROOT,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            ) for p in range(count)
        ]
        for process in processes:
            assert process.stdout is not None
            assert (await asyncio.wait_for(process.stdout.readline(), 60)).strip() == b"ready"
        started = time.perf_counter()
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            await process.stdin.drain()
        outcomes = [json.loads(await asyncio.wait_for(p.stdout.readline(), 300)) for p in processes]  # type: ignore
        elapsed = time.perf_counter() - started
        for process in processes:
            await asyncio.wait_for(process.wait(), 60)
    store = await Store.open(database)
    turns = (await store._one("SELECT COUNT(*), COUNT(DISTINCT thread_id) FROM turns WHERE status='ok'"))
    usage = (await store._one("SELECT COUNT(*) FROM usage"))[0]
    await store.close()
    ideal = requests / (2 * CAP) * LATENCY
    return {"elapsed_s": round(elapsed, 2), "ideal_s": ideal, "ratio": round(elapsed / ideal, 3),
            "ok_turns": turns[0], "threads": turns[1], "usage_rows": usage, "per_process": outcomes}


async def run(quick: bool) -> None:
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runs = 5 if quick else 30
            for name, url in (("SQLite", f"sqlite:///{Path(tmp) / 'h.db'}"),
                              ("PostgreSQL", await cluster.new_database())):
                times = await history(url, runs)
                print(f"history of a 100-turn thread on {name}: " +
                      ", ".join(f"{k} {v:.1f} ms" for k, v in times.items()), flush=True)
            requests = 40 if quick else 200
            result = await fleet(await cluster.new_database(), requests)
            print(f"two processes on PostgreSQL: {json.dumps(result)}", flush=True)
            result = await fleet(f"sqlite:///{Path(tmp) / 'one.db'}", requests, count=1)
            print(f"for comparison, one process (cap {2 * CAP}) on SQLite: {json.dumps(result)}", flush=True)
    finally:
        cluster.stop()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        API[0] = sys.argv[7]
        database, gemini, ids, retries, cap = sys.argv[2:7]
        asyncio.run(worker(database, gemini, json.loads(ids), json.loads(retries), int(cap)))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--quick", action="store_true", help="fewer runs and requests (a smoke test)")
    parser.add_argument("--api", choices=("generate_content", "interactions"), default=API[0])
    args = parser.parse_args()
    API[0] = args.api
    asyncio.run(run(args.quick))


if __name__ == "__main__":
    main()
