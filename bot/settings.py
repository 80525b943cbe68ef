"""Settings, read once from the environment (and a `.env` file) into a frozen object.

`Settings.from_env(mapping)` takes any mapping, so tests pass a dict. Every problem is collected and reported
in one `SettingsError`, so an operator fixes them all at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlparse

from core.catalogue import DEFAULT_MODEL
from core.costs import parse_overrides
from core.failures import UnsupportedOption
from core.options import resolve_model
from core.store import DatabaseUrlError, database_url

T = TypeVar("T")


class SettingsError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("Configuration problems:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    gemini_api_key: str | None = field(default=None, repr=False)
    gemini_base_url: str | None = None
    gemini_api_version: str = "v1beta"
    gemini_model: str = DEFAULT_MODEL
    gemini_api: str = "interactions"  # or "generate_content"
    gemini_store: bool = True  # False: Gemini keeps no conversation state; the bot sends its window each turn
    vertexai: bool = False
    cloud_project: str | None = None
    cloud_location: str | None = None
    db_path: Path = Path("data/bot.db")
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    discord_token: str | None = field(default=None, repr=False)
    discord_guild_ids: tuple[int, ...] = ()
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_shard_count: int | None = None
    discord_shard_ids: tuple[int, ...] = ()
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_api_url: str | None = None
    port: int = 3000
    max_concurrency: int = 4
    history_turns: int = 6
    gemini_timeout_s: float = 120.0
    gemini_retry_attempts: int = 4
    gemini_retry_delay_s: float = 2.0
    user_daily_images: int | None = None
    daily_budget_usd: float | None = None
    monthly_budget_usd: float | None = None
    prices: dict[tuple[str, str], float] = field(default_factory=dict)
    admins: frozenset[str] = frozenset()
    admin_roles: frozenset[str] = frozenset()
    allowed_spaces: frozenset[str] = frozenset()
    allowed_channels: frozenset[str] = frozenset()
    health_port: int | None = None
    health_host: str = "0.0.0.0"
    shutdown_grace_s: float = 30.0
    search: bool = True  # BOT_SEARCH=off: no Google Search grounding (--search is refused)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        problems: list[str] = []

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def parsed(name: str, parse: Callable[[str], T], default: T, rule: str) -> T:
            raw = text(name)
            if raw is None:
                return default
            try:
                return parse(raw)
            except ValueError:
                problems.append(f"{name}={raw!r} is not valid: {rule}")
                return default

        def url(name: str, schemes: tuple[str, ...]) -> str | None:
            raw = text(name)
            if raw is not None:
                parts = urlparse(raw)
                if parts.scheme not in schemes or not parts.netloc:
                    problems.append(f"{name}={raw!r} is not a URL ({' or '.join(schemes)}://host[:port][/path])")
                    return None
            return raw

        def positive(raw: str) -> int:
            value = int(raw)
            if value < 1:
                raise ValueError(raw)
            return value

        def seconds(raw: str) -> float:
            value = float(raw)
            if not 0 < value <= 3600:
                raise ValueError(raw)
            return value

        def port(raw: str) -> int:
            value = int(raw)
            if not 0 < value < 65536:
                raise ValueError(raw)
            return value

        def money(raw: str) -> float:
            value = float(raw.removeprefix("$"))
            if value < 0:
                raise ValueError(raw)
            return value

        def flag(raw: str) -> bool:
            lowered = raw.lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return lowered in ("1", "true", "yes", "on")

        def api(raw: str) -> str:
            value = raw.lower().replace("-", "_")
            if value not in ("interactions", "generate_content"):
                raise ValueError(raw)
            return value

        def ids(name: str) -> frozenset[str]:
            raw = text(name)
            if raw is None:
                return frozenset()
            entries = frozenset(e.strip() for e in raw.split(",") if e.strip())
            wrong = sorted(e for e in entries if e.partition(":")[0] not in ("discord", "slack", "console")
                           or not e.partition(":")[2])
            if wrong:
                problems.append(f"{name}: {', '.join(wrong)} should be platform:id (discord:123, slack:T0123)")
            return entries

        model = text("GEMINI_MODEL") or cls.gemini_model
        try:
            model = resolve_model(model).name
        except UnsupportedOption as exc:
            problems.append(f"GEMINI_MODEL: {exc.message}")
        no_guilds: tuple[int, ...] = ()
        guilds = parsed(
            "DISCORD_GUILD_IDS", lambda v: tuple(int(g) for g in v.replace(" ", "").split(",") if g), no_guilds,
            "a comma-separated list of numeric guild IDs",
        )
        slack_token = text("SLACK_BOT_TOKEN")
        if slack_token and not slack_token.startswith("xoxb-"):
            problems.append("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        app_token = text("SLACK_APP_TOKEN")
        if app_token and not app_token.startswith("xapp-"):
            problems.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        vertexai = parsed("GOOGLE_GENAI_USE_VERTEXAI", flag, False, "true or false")
        database = text("BOT_DATABASE_URL")
        if database is not None:
            try:
                database_url(database)
            except DatabaseUrlError as exc:
                problems.append(f"BOT_DATABASE_URL: {exc}")
        shard_count = parsed("DISCORD_SHARD_COUNT", positive, None, "a whole number ≥ 1")
        no_shards: tuple[int, ...] = ()
        shard_ids = parsed("DISCORD_SHARD_IDS", _int_list, no_shards, "a comma-separated list of shard numbers")
        if shard_ids and shard_count is None:
            problems.append("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the number of shards in all processes)")
        elif shard_count is not None and any(not 0 <= s < shard_count for s in shard_ids):
            problems.append(f"DISCORD_SHARD_IDS: each shard is a number from 0 to {shard_count - 1}")
        settings = cls(
            gemini_api_key=text("GEMINI_API_KEY") or text("GOOGLE_API_KEY"),
            gemini_base_url=url("GEMINI_BASE_URL", ("http", "https")),
            gemini_api_version=text("GEMINI_API_VERSION") or ("v1beta1" if vertexai else cls.gemini_api_version),
            gemini_model=model,
            gemini_api=parsed("GEMINI_API", api, cls.gemini_api, "interactions or generate_content"),
            gemini_store=parsed("GEMINI_STORE", flag, cls.gemini_store, "true or false"),
            vertexai=vertexai,
            cloud_project=text("GOOGLE_CLOUD_PROJECT"),
            cloud_location=text("GOOGLE_CLOUD_LOCATION"),
            db_path=Path(text("BOT_DB_PATH") or cls.db_path),
            database_url=database,
            discord_token=text("DISCORD_TOKEN"),
            discord_guild_ids=guilds,
            discord_api_base=url("DISCORD_API_BASE", ("http", "https")),
            discord_gateway_url=url("DISCORD_GATEWAY_URL", ("ws", "wss")),
            discord_shard_count=shard_count,
            discord_shard_ids=shard_ids,
            slack_bot_token=slack_token,
            slack_app_token=app_token,
            slack_signing_secret=text("SLACK_SIGNING_SECRET"),
            slack_api_url=url("SLACK_API_URL", ("http", "https")),
            port=parsed("PORT", port, cls.port, "a TCP port number (1-65535)"),
            max_concurrency=parsed("GEMINI_MAX_CONCURRENCY", positive, cls.max_concurrency, "a whole number ≥ 1"),
            history_turns=parsed("BOT_HISTORY_TURNS", positive, cls.history_turns, "a whole number ≥ 1"),
            gemini_timeout_s=parsed("GEMINI_TIMEOUT", seconds, cls.gemini_timeout_s, "seconds, more than 0"),
            gemini_retry_attempts=parsed(
                "GEMINI_RETRY_ATTEMPTS", positive, cls.gemini_retry_attempts, "a whole number ≥ 1 (1: no retry)"
            ),
            gemini_retry_delay_s=parsed(
                "GEMINI_RETRY_DELAY", seconds, cls.gemini_retry_delay_s, "seconds, more than 0"
            ),
            user_daily_images=parsed("BOT_USER_DAILY_IMAGES", positive, None, "a whole number ≥ 1"),
            daily_budget_usd=parsed("BOT_DAILY_BUDGET_USD", money, None, "an amount in US dollars, like 5 or 2.50"),
            monthly_budget_usd=parsed("BOT_MONTHLY_BUDGET_USD", money, None, "an amount in US dollars, like 50"),
            prices=parsed("BOT_PRICES", parse_overrides, {}, "model[:size]=usd per image, comma-separated"),
            admins=ids("BOT_ADMINS"),
            admin_roles=ids("BOT_ADMIN_ROLES"),
            allowed_spaces=ids("BOT_ALLOWED_SPACES"),
            allowed_channels=ids("BOT_ALLOWED_CHANNELS"),
            health_port=parsed("HEALTH_PORT", port, None, "a TCP port number (1-65535)"),
            health_host=text("HEALTH_HOST") or cls.health_host,
            shutdown_grace_s=parsed("BOT_SHUTDOWN_GRACE", seconds, cls.shutdown_grace_s, "seconds, more than 0"),
            search=parsed("BOT_SEARCH", flag, cls.search, "on or off"),
        )
        if problems:
            raise SettingsError(problems)
        return settings

    def require(self, *, offline: bool, platforms: tuple[str, ...]) -> None:
        """Check that what the chosen command needs is set; raise one SettingsError naming all that is missing."""
        problems = []
        if not offline and self.vertexai and not (self.cloud_project or self.gemini_api_key):
            problems.append("GOOGLE_GENAI_USE_VERTEXAI=true needs GOOGLE_CLOUD_PROJECT (with Application Default "
                            "Credentials) or GOOGLE_API_KEY (Vertex AI express mode)")
        elif not offline and not self.vertexai and not self.gemini_api_key:
            problems.append("GEMINI_API_KEY is not set (get one at Google AI Studio), or run with --offline")
        if "discord" in platforms and not self.discord_token:
            problems.append("DISCORD_TOKEN is not set (the bot token from the Discord developer portal)")
        if "slack" in platforms:
            if not self.slack_bot_token:
                problems.append("SLACK_BOT_TOKEN is not set (the xoxb- token from your Slack app's OAuth page)")
            if not self.slack_app_token and not self.slack_signing_secret:
                problems.append("set SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode)")
        if problems:
            raise SettingsError(problems)

    @property
    def database(self) -> str:
        """Where the store is: BOT_DATABASE_URL when set (it wins over BOT_DB_PATH), else the SQLite file."""
        return self.database_url or str(self.db_path)

    @property
    def platforms(self) -> tuple[str, ...]:
        """The chat platforms whose credentials are set."""
        return tuple(p for p, token in (("discord", self.discord_token), ("slack", self.slack_bot_token)) if token)


def _int_list(raw: str) -> tuple[int, ...]:
    return tuple(int(part) for part in raw.replace(" ", "").split(",") if part)


def load_env(environ: Mapping[str, str], dotenv_path: Path = Path(".env")) -> dict[str, str]:
    """The process environment over the values of a `.env` file, when there is one."""
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None} if dotenv_path.is_file() else {}
    return {**values, **environ}
