"""The controls around a turn, for the engine: defaults in force (user > channel > server > bot), the operator's
search switch, what a turn's text asks of Gemini (style, exclusions), and the `/styles`, `/settings` and
"Show thinking" answers."""

from __future__ import annotations

from dataclasses import dataclass, replace

from core import defaults, styles
from core.defaults import Defaults
from core.events import ChangeSetting, Options, Reply, ShowThoughts, ThreadKey
from core.failures import Forbidden, NotFound, UnsupportedOption
from core.generation import thought_parts
from core.lineup import Lineup
from core.policy import Policy
from core.store import Store

SEARCH_OFF = "Search grounding is turned off on this bot (its operator set BOT_SEARCH=off)."


@dataclass(frozen=True)
class Turn:
    """What a turn sends besides its options: the text for Gemini and the system instruction."""

    text: str
    guidance: str | None


class Controls:
    def __init__(self, store: Store, lineup: Lineup, policy: Policy, *, search_enabled: bool = True) -> None:
        self._store = store
        self._lineup = lineup
        self._policy = policy
        self.search_enabled = search_enabled

    async def in_force(self, key: ThreadKey) -> Defaults:
        return Defaults(
            await self._store.defaults(key.platform, key.space, ""),
            await self._store.defaults(key.platform, key.space, key.channel),
        )

    async def starting(self, key: ThreadKey, chosen: Options) -> Options:
        """A new conversation's options: the user's flags over the defaults in force here (fitted to the model)."""
        base = (await self.in_force(key)).options()
        model = self._lineup.resolve(chosen.model or base.model).model
        fitted = defaults.fit(base, model, search_allowed=self.search_enabled)
        return chosen.over(replace(fitted, model=fitted.model if chosen.model is None else None))

    def allowed(self, chosen: Options) -> Options:
        """Refuse a search the operator turned off."""
        if chosen.searching and not self.search_enabled:
            raise UnsupportedOption(SEARCH_OFF)
        return chosen

    async def turn(self, key: ThreadKey, text: str, chosen: Options, *, edit: bool, restyle: bool) -> Turn:
        """The text Gemini gets (the user's words, the style's instruction, the exclusion) and the guidance."""
        extra = [styles.instruction(chosen.style, edit=edit and restyle), styles.exclusion(chosen.exclude)]
        words = text.strip()
        if words and any(extra) and words[-1] not in ".!?":
            words += "."  # the instructions follow as sentences of their own
        sent = " ".join(filter(None, [words, *extra]))
        return Turn(sent, (await self.in_force(key)).guidance())

    async def settings(self, key: ThreadKey) -> Reply:
        return Reply(key=key, notices=tuple((await self.in_force(key)).lines()))

    def styles(self, key: ThreadKey) -> Reply:
        return Reply(key=key, notices=tuple(styles.lines()))

    async def change(self, event: ChangeSetting) -> Reply:
        """An admin sets (or clears, with "-") one server or channel setting, checked like a flag."""
        if not (event.user.is_admin or self._policy.is_admin(event.key.platform, event.user)):
            raise Forbidden("Only admins (server or workspace admins, or BOT_ADMINS) may change settings. "
                            "Anyone may read them with /settings.")
        if event.scope not in defaults.SCOPES:
            raise UnsupportedOption(f"Say where: /settings server KEY VALUE or /settings channel KEY VALUE "
                                    f"(not `{event.scope}`).")
        channel = event.key.channel if event.scope == "channel" else ""
        name, value = event.name.strip().lower(), event.value.strip()
        if value == defaults.CLEAR:
            if name not in defaults.KEYS:
                defaults.parse(name, value)  # names the settings there are
            await self._store.set_default(event.key.platform, event.key.space, channel, name, None, event.user.id)
            return Reply(key=event.key, notices=(f"Cleared the {event.scope} setting `{name}`.",))
        options, _ = defaults.parse(name, value)
        self._check(event.key, options, await self.in_force(event.key))
        await self._store.set_default(event.key.platform, event.key.space, channel, name, value, event.user.id)
        return Reply(key=event.key, notices=(f"Set the {event.scope} setting `{name}` to {value}.",))

    def _check(self, key: ThreadKey, options: Options, current: Defaults) -> None:
        """A setting is checked against the model it will run with, as a flag is."""
        self.allowed(options)
        base = current.options()
        self._lineup.check(replace(options, model=options.model or base.model))

    async def thoughts(self, event: ShowThoughts) -> Reply:
        """The thoughts stored with a turn (text and interim images), for whoever pressed "Show thinking"."""
        info = await self._store.turn_info(event.turn_id)
        content = await self._store.turn_response(event.turn_id)
        if info is None or content is None:
            raise NotFound("That image's conversation was cleared (/forget) or no longer exists.")
        if refusal := self._policy.refusal(info.key):
            raise Forbidden(refusal)
        texts, images = thought_parts(content)
        if not texts and not images:
            return Reply(key=info.key, turn_id=event.turn_id, notices=("Gemini shared no thoughts for this image.",))
        return Reply(key=info.key, turn_id=event.turn_id, thoughts=texts, thought_images=images)

