"""Server and channel defaults (`/settings`): what they may set, how a value is checked, and which one wins.

A user's own flags win over the channel's settings, which win over the server's (or workspace's), which win over
the bot's. Values are written as flags are (`ar 16:9`, `think high`, `no text, logos`) and checked by the same
parser; `guidance` is the house style guidance sent to Gemini as the system instruction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.catalogue import ModelInfo
from core.events import Options
from core.failures import UnsupportedOption
from core.options import parse_flags

KEYS = ("model", "ar", "size", "style", "no", "think", "search", "guidance")
SCOPES = ("server", "channel")
CLEAR = "-"
MAX_GUIDANCE = 2_000  # characters: a system instruction, not an essay
SEARCH_VALUES = {"on": "web", "web": "web", "images": "images", "off": "off"}


def parse(name: str, value: str) -> tuple[Options, str | None]:
    """One setting as the options it sets (and the guidance text, for `guidance`); UnsupportedOption says why not."""
    name, value = name.strip().lower(), " ".join(value.split())
    if name not in KEYS:
        raise UnsupportedOption(f"There is no setting `{name}`. Settings: {', '.join(KEYS)}.")
    if not value:
        raise UnsupportedOption(f"`{name}` needs a value (or {CLEAR} to clear it).")
    if name == "guidance":
        if len(value) > MAX_GUIDANCE:
            raise UnsupportedOption(f"The guidance is {len(value)} characters; keep it under {MAX_GUIDANCE}.")
        return Options(), value
    if name == "search":
        if value.lower() not in SEARCH_VALUES:
            raise UnsupportedOption("`search` is on, images or off.")
        return Options(search=SEARCH_VALUES[value.lower()]), None
    rest, options = parse_flags(f"--{name} {value}")
    if rest.strip():
        raise UnsupportedOption(f"`{name} {value}`: one value only, for example `{name} {_EXAMPLES[name]}`.")
    return options, None


_EXAMPLES = {"model": "pro", "ar": "16:9", "size": "2K", "style": "watercolour", "no": "text, logos",
             "think": "high"}


@dataclass(frozen=True)
class Defaults:
    """The settings in force in one place: the server's (or workspace's) and the channel's, by key."""

    server: dict[str, str] = field(default_factory=dict)
    channel: dict[str, str] = field(default_factory=dict)

    def options(self) -> Options:
        """The channel's settings over the server's, as options (a value that no longer parses is skipped)."""
        return _options(self.channel).over(_options(self.server))

    def guidance(self) -> str | None:
        return self.channel.get("guidance") or self.server.get("guidance")

    def lines(self) -> list[str]:
        if not self.server and not self.channel:
            return ["No server or channel settings: the bot's defaults apply. Admins set them with "
                    "/settings server KEY VALUE or /settings channel KEY VALUE."]
        shown = [f"server {k}: {v}" for k, v in sorted(self.server.items(), key=_order)]
        shown += [f"channel {k}: {v}" for k, v in sorted(self.channel.items(), key=_order)]
        return ["Settings in force here (your own flags win over the channel's, which win over the server's):",
                *shown]


def _order(item: tuple[str, str]) -> int:
    return KEYS.index(item[0]) if item[0] in KEYS else len(KEYS)


def _options(values: dict[str, str]) -> Options:
    merged = Options()
    for name, value in values.items():
        if name == "guidance":
            continue
        try:
            merged = parse(name, value)[0].over(merged)
        except UnsupportedOption:
            continue  # a preset renamed since, say: the setting is shown but not applied
    return merged


def fit(defaults: Options, spec: ModelInfo, *, search_allowed: bool) -> Options:
    """Defaults narrowed to what the model in use can do: a default never refuses a request, only a flag does."""
    return replace(
        defaults,
        aspect_ratio=defaults.aspect_ratio if defaults.aspect_ratio in spec.ratios else None,
        image_size=defaults.image_size if defaults.image_size in spec.sizes else None,
        think=defaults.think if defaults.think in spec.thinking_levels else None,
        search=defaults.search if search_allowed and _searches(spec, defaults.search) else None,
    )


def _searches(spec: ModelInfo, search: str | None) -> bool:
    return search == "off" or (search == "web" and spec.web_search) or (search == "images" and spec.image_search)
