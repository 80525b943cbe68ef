"""A local fake Discord (REST v10 + gateway websocket + attachment CDN) that a real discord.py client runs against.

One server, `DiscordEmulator` (emulator.py: lifecycle, fault injection, routing and the middleware that records
every request), built from one part per section of Discord: world.py (users, guilds, channels, messages and how
tests read them), gateway.py (the websocket and event dispatch), interactions.py (what users do, and the callback
and webhook routes), rest.py (the REST routes). payloads.py holds Discord's JSON shapes, constants and checks;
context.py the request being handled. Tests import from here: `from tests.emulators.discord import DiscordEmulator`.
"""

from tests.emulators.discord.emulator import DiscordEmulator, point_discord_at
from tests.emulators.discord.payloads import (
    FLAG_EPHEMERAL,
    JSON,
    CdnRequest,
    InteractionRecord,
    RecordedRequest,
    StoredFile,
    UploadedPart,
)

__all__ = [
    "FLAG_EPHEMERAL",
    "JSON",
    "CdnRequest",
    "DiscordEmulator",
    "InteractionRecord",
    "RecordedRequest",
    "StoredFile",
    "UploadedPart",
    "point_discord_at",
]
