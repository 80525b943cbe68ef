"""/settings: a server's (channel "") or a channel's defaults, one row per key."""

from __future__ import annotations

import time

from core.store.base import StoreBase


class Defaults(StoreBase):
    async def defaults(self, platform: str, space: str, channel: str) -> dict[str, str]:
        """The /settings values of a server (channel "") or of one channel, by key."""
        rows = await self._rows(
            "SELECT name, value FROM defaults WHERE platform=:p AND space=:s AND channel=:c",
            {"p": platform, "s": space, "c": channel},
        )
        return {name: value for name, value in rows}

    async def set_default(self, platform: str, space: str, channel: str, name: str, value: str | None,
                          user_id: str) -> None:
        """Set one /settings key (None clears it)."""
        where = {"p": platform, "s": space, "c": channel, "n": name}
        if value is None:
            await self._run("DELETE FROM defaults WHERE platform=:p AND space=:s AND channel=:c AND name=:n", where)
            return
        await self._run(
            "INSERT INTO defaults (platform, space, channel, name, value, set_by, updated_at) "
            "VALUES (:p,:s,:c,:n,:v,:u,:at) ON CONFLICT (platform, space, channel, name) DO UPDATE SET "
            "value=excluded.value, set_by=excluded.set_by, updated_at=excluded.updated_at",
            {**where, "v": value, "u": user_id, "at": time.time()},
        )
