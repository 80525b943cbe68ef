"""Progress reports: one at a time, and the one on the wire when the request ends lands before the engine answers."""

from __future__ import annotations

import asyncio

from core.events import Progress
from core.progress import Reporter


async def test_the_update_on_the_wire_when_the_request_ends_is_waited_for_not_cut_off() -> None:
    started, landed = asyncio.Event(), []

    async def slow_update(progress: Progress) -> None:
        started.set()
        await asyncio.sleep(0.1)
        landed.append(progress.stage)

    reporter = Reporter(slow_update, interval=5.0)
    async with reporter.running():
        reporter.generating()
        await started.wait()
    assert landed == ["generating"]  # the result may be posted now: nothing can arrive after it


async def test_a_failing_update_never_fails_the_request() -> None:
    async def broken(progress: Progress) -> None:
        raise RuntimeError("Slack said no")

    reporter = Reporter(broken, interval=0.01)
    async with reporter.running():
        reporter.queued(1)
        await asyncio.sleep(0.05)
