"""Usage rows (tokens, images, cost per request) and the sums that limits and reports read."""

from __future__ import annotations

import time
from typing import Any

from core.store.base import StoreBase
from core.store.records import Usage


class UsageLedger(StoreBase):
    async def record_usage(self, usage: Usage) -> None:
        await self._run(
            "INSERT INTO usage (platform, space, user_id, model, image_size, prompt_tokens, output_tokens, "
            "total_tokens, images, cost_usd, created_at, search_queries) VALUES (:platform,:space,:user,:model,:size,"
            ":prompt,:output,:total,:images,:cost,:at,:queries)",
            {"platform": usage.key.platform, "space": usage.key.space, "user": usage.user_id, "model": usage.model,
             "size": usage.image_size, "prompt": usage.prompt_tokens, "output": usage.output_tokens,
             "total": usage.total_tokens, "images": usage.images, "cost": float(usage.cost_usd),
             "at": float(usage.at or time.time()), "queries": usage.search_queries},
        )

    async def space_spend(self, platform: str, space: str, since: float) -> float:
        row = await self._one(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM usage WHERE platform=:p AND space=:s AND created_at>=:since",
            {"p": platform, "s": space, "since": float(since)},
        )
        return float(row[0])

    async def user_totals(self, platform: str, user_id: str, since: float) -> tuple[int, float]:
        """Images and cost of one user (in every space of the platform) since a time."""
        row = await self._one(
            "SELECT COALESCE(SUM(images), 0), COALESCE(SUM(cost_usd), 0) FROM usage "
            "WHERE platform=:p AND user_id=:u AND created_at>=:since",
            {"p": platform, "u": user_id, "since": float(since)},
        )
        return int(row[0]), float(row[1])

    async def top_users(self, platform: str, space: str, since: float, limit: int = 5) -> list[tuple[str, int, float]]:
        rows = await self._rows(
            "SELECT user_id, SUM(images), SUM(cost_usd) FROM usage WHERE platform=:p AND space=:s "
            "AND created_at>=:since GROUP BY user_id ORDER BY SUM(cost_usd) DESC, SUM(images) DESC LIMIT :n",
            {"p": platform, "s": space, "since": float(since), "n": limit},
        )
        return [(r[0], int(r[1]), float(r[2])) for r in rows]

    async def search_queries_since(self, since: float) -> int:
        """Search queries the whole bot ran since a time: Google's free allowance is per project, not per space."""
        row = await self._one("SELECT COALESCE(SUM(search_queries), 0) FROM usage WHERE created_at>=:since",
                              {"since": float(since)})
        return int(row[0])

    async def usage_rows(self, platform: str, space: str) -> list[tuple[Any, ...]]:
        rows = await self._rows(
            "SELECT user_id, model, image_size, prompt_tokens, output_tokens, total_tokens, images, cost_usd, "
            "created_at FROM usage WHERE platform=:p AND space=:s ORDER BY id",
            {"p": platform, "s": space},
        )
        return [tuple(r) for r in rows]
