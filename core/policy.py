"""Who may use the bot where: allow-lists of spaces and channels, and the admins (users or roles).

Identifiers are `platform:id` (`discord:1234`, `slack:T0123`), as the operator writes them in settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.events import ThreadKey, User


@dataclass(frozen=True)
class Policy:
    allowed_spaces: frozenset[str] = field(default_factory=frozenset)  # empty: everywhere
    allowed_channels: frozenset[str] = field(default_factory=frozenset)
    admins: frozenset[str] = field(default_factory=frozenset)
    admin_roles: frozenset[str] = field(default_factory=frozenset)

    def refusal(self, key: ThreadKey) -> str | None:
        """Why this place is not served, or None when it is.

        A list restricts only the platforms it names: `discord:1,discord:2` leaves Slack open.
        """
        if _restricts(self.allowed_spaces, key.platform) and f"{key.platform}:{key.space}" not in self.allowed_spaces:
            return "This bot is not enabled in this server or workspace. Ask the bot's operator to allow it."
        places = {f"{key.platform}:{key.channel}", f"{key.platform}:{key.thread}"}
        if _restricts(self.allowed_channels, key.platform) and not places & self.allowed_channels:
            return "This bot is not enabled in this channel. Try one of the channels it is allowed in."
        return None

    def is_admin(self, platform: str, user: User) -> bool:
        """Configured admins: exempt from user limits, may delete anything, see everyone's usage."""
        if f"{platform}:{user.id}" in self.admins:
            return True
        return any(f"{platform}:{role}" in self.admin_roles for role in user.roles)


def _restricts(entries: frozenset[str], platform: str) -> bool:
    return any(entry.startswith(f"{platform}:") for entry in entries)
