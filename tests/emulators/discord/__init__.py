"""A local fake Discord (REST v10 + gateway websocket + attachment CDN) that a real discord.py client runs against.

`DiscordEmulator` is the server; `payloads` holds Discord's JSON shapes, constants and checks. Tests import from
here: `from tests.emulators.discord import DiscordEmulator, FLAG_EPHEMERAL, JSON`.
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
