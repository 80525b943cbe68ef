"""The core's vocabulary: thread keys, inbound events, replies and typed failures.

Frozen dataclasses with no I/O and no platform objects, so adapters translate into them and out of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.grounding import Grounding


@dataclass(frozen=True)
class ThreadKey:
    """Names one conversation: e.g. ("discord", guild, channel, thread) or ("slack", team, channel, ts)."""

    platform: str
    space: str
    channel: str
    thread: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.space}:{self.channel}:{self.thread}"


@dataclass(frozen=True)
class User:
    """`is_admin`: the platform says so (Discord Manage Messages, a Slack workspace admin); `roles`: role ids."""

    id: str
    name: str = ""
    is_admin: bool = False
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageInput:
    """Raw bytes of an image (or a video) a user sent; the name is for messages only, never for the format."""

    data: bytes
    name: str = "image"


SIDES = ("top", "bottom", "left", "right")


@dataclass(frozen=True)
class Extend:
    """Outpainting: how far to grow the canvas on each side, as a fraction (0.1 to 1.0) of the picture's size."""

    top: float = 0.0
    bottom: float = 0.0
    left: float = 0.0
    right: float = 0.0


@dataclass(frozen=True)
class Workflow:
    """What one request asks for beyond a single picture: `n` variants, a region or mask edit, a larger canvas, a
    style reference. Per request, never kept as a thread's options."""

    n: int = 1
    region: str | None = None
    mask: bool = False  # the message's last attachment is the mask (white marks the area)
    extend: Extend | None = None
    style_ref: bool = False  # the message's last attachment is the style reference

    @property
    def edits(self) -> bool:
        """It works on a picture: it needs one (attached, or the thread's latest)."""
        return bool(self.region or self.mask or self.extend or self.style_ref)


@dataclass(frozen=True)
class Options:
    """Generation options; None means "as the thread had it" (or the setting in force, or the model's default).

    `style`: a preset name; `exclude`: the `--no` terms; `think`: a thinking level; `thoughts`: show the model's
    thoughts; `search`: "web", "images" or "off" (Google Search grounding).
    """

    model: str | None = None
    aspect_ratio: str | None = None
    image_size: str | None = None
    style: str | None = None
    exclude: str | None = None
    think: str | None = None
    thoughts: bool | None = None
    search: str | None = None

    def over(self, base: Options) -> Options:
        """These options where set, `base` elsewhere."""
        return Options(
            model=self.model or base.model,
            aspect_ratio=self.aspect_ratio or base.aspect_ratio,
            image_size=self.image_size or base.image_size,
            style=self.style or base.style,
            exclude=self.exclude or base.exclude,
            think=self.think or base.think,
            thoughts=self.thoughts if self.thoughts is not None else base.thoughts,
            search=self.search or base.search,
        )

    @property
    def searching(self) -> str | None:
        """"web" or "images" when this turn asks Google Search; None otherwise."""
        return self.search if self.search in ("web", "images") else None

    def describe(self) -> str:
        parts = [self.model or "default model"]
        if self.aspect_ratio:
            parts.append(self.aspect_ratio)
        if self.image_size:
            parts.append(self.image_size)
        return " · ".join(parts + self.control_parts())

    def control_parts(self) -> list[str]:
        """The controls in force, for a caption: only what differs from the default."""
        parts: list[str] = []
        if self.style and self.style != "none":
            parts.append(f"style {self.style}")
        if self.exclude and self.exclude != "-":
            parts.append(f"no {self.exclude}")
        if self.think:
            parts.append(f"thinking {self.think}")
        if self.searching:
            parts.append("search" if self.searching == "web" else "search images")
        if self.thoughts:
            parts.append("thoughts shown")
        return parts


# Inbound events -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartThread:
    """A slash command: a new conversation, optionally with images to edit or compose."""

    key: ThreadKey
    user: User
    prompt: str
    images: tuple[ImageInput, ...] = ()
    options: Options = field(default_factory=Options)
    workflow: Workflow = field(default_factory=Workflow)


@dataclass(frozen=True)
class NextTurn:
    """A message in an existing conversation ("make it night"), with any images it carries."""

    key: ThreadKey
    user: User
    text: str
    images: tuple[ImageInput, ...] = ()
    options: Options = field(default_factory=Options)
    workflow: Workflow = field(default_factory=Workflow)


@dataclass(frozen=True)
class EditImages:
    """An edit of given images (a reply to a picture, a context-menu edit): opens a conversation on them."""

    key: ThreadKey
    user: User
    prompt: str
    images: tuple[ImageInput, ...]
    options: Options = field(default_factory=Options)
    workflow: Workflow = field(default_factory=Workflow)


@dataclass(frozen=True)
class Reroll:
    """The same request as a stored turn, again; `image_size` set means an upscale re-render."""

    turn_id: int
    user: User
    image_size: str | None = None


@dataclass(frozen=True)
class UseVariant:
    """"Use k": the conversation goes on from this variant of its set (the others leave the history)."""

    turn_id: int
    user: User


@dataclass(frozen=True)
class RerollSet:
    """"Reroll all": the same request as a variant set, again, as a new set of the same size."""

    turn_id: int
    user: User


@dataclass(frozen=True)
class StartStory:
    """`/story N PROMPT`: N panels in one new conversation, each a turn that sees the panels before it."""

    key: ThreadKey
    user: User
    prompt: str
    panels: int
    images: tuple[ImageInput, ...] = ()
    options: Options = field(default_factory=Options)


@dataclass(frozen=True)
class Forget:
    key: ThreadKey
    user: User


@dataclass(frozen=True)
class ShowUsage:
    """`/usage`: the user's images and cost, the space's spend against its budgets (admins: the top users)."""

    key: ThreadKey
    user: User


@dataclass(frozen=True)
class ListModels:
    """`/models`: the models this bot can use now, with their short names, status, ratios, sizes and prices."""

    key: ThreadKey
    user: User


@dataclass(frozen=True)
class ListStyles:
    """`/styles`: the style presets, each with what it asks of Gemini."""

    key: ThreadKey
    user: User


@dataclass(frozen=True)
class ShowSettings:
    """`/settings`: the defaults in force here (server or workspace, then channel); anyone may read them."""

    key: ThreadKey
    user: User


@dataclass(frozen=True)
class ChangeSetting:
    """`/settings server|channel KEY VALUE` (admins only); `value` "-" clears it."""

    key: ThreadKey
    user: User
    scope: str  # "server" or "channel"
    name: str
    value: str


@dataclass(frozen=True)
class ShowThoughts:
    """The "Show thinking" button: the thoughts stored with a turn, for whoever asks."""

    turn_id: int
    user: User


Event = (StartThread | NextTurn | EditImages | Reroll | Forget | ShowUsage | ListModels | ListStyles | ShowSettings
         | ChangeSetting | ShowThoughts | UseVariant | RerollSet | StartStory)


@dataclass(frozen=True)
class Progress:
    """Where a request stands: `queued` (with its place in line, 1 = next) or `generating`."""

    stage: str
    elapsed: float
    position: int | None = None
    panel: tuple[int, int] | None = None  # (k, N): a story's panel k of N

    def describe(self) -> str:
        where = f"panel {self.panel[0]} of {self.panel[1]}: " if self.panel else ""
        if self.stage == "queued":
            return f"{where}Queued: #{self.position} in line ({self.elapsed:.0f} s)"
        return f"{where}Generating… ({self.elapsed:.0f} s)"


ProgressCallback = Callable[[Progress], Awaitable[None]]


# Replies --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputImage:
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class Reply:
    """What the adapter posts: images and text from the model, notices from the bot, or a failure."""

    key: ThreadKey | None
    turn_id: int | None = None
    images: tuple[OutputImage, ...] = ()
    text: str | None = None
    notices: tuple[str, ...] = ()
    options: Options = field(default_factory=Options)
    prompt: str = ""
    failure: Failure | None = None
    grounding: Grounding | None = None  # the searches and sources behind the picture, shown with it
    thoughts: tuple[str, ...] = ()  # the model's thought text, shown apart from the result when asked for
    thought_images: tuple[OutputImage, ...] = ()  # interim images made while thinking: never the result
    variants: tuple[int, ...] = ()  # a variant set: the turn of each image, in order ("Use k" names images[k-1])
    caption: str | None = None  # a story panel's "k/N" (its line of the story is `text`)

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def offers_retry(self) -> bool:
        """A failure worth sending again as it was (a block, no image, Gemini busy) on a stored turn: Try again."""
        return self.failure is not None and self.failure.retryable and self.turn_id is not None


# Failures: each carries the message a user reads, naming what happened and what to do. ----------------


class Failure(Exception):
    """Base of every failure a user is told about. `retryable`: the same request may well succeed if sent again
    (adapters offer a "Try again" button naming the stored turn)."""

    kind = "error"
    retryable = False

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (other.message, other.reason) == (self.message, self.reason)

    def __hash__(self) -> int:
        return hash((type(self), self.message, self.reason))


class BadInput(Failure):
    """Something the user sent cannot be used: an empty prompt, a file that is not an image, too big."""

    kind = "bad_input"


class UnsupportedOption(BadInput):
    kind = "unsupported_option"


class Blocked(Failure):
    """Gemini refused: a prompt block or a safety finish; `reason` is Gemini's own code."""

    kind = "blocked"
    retryable = True


class NoImage(Failure):
    """Gemini finished without an image and without an explanation in text."""

    kind = "no_image"
    retryable = True


class QuotaExhausted(Failure):
    """Gemini said 429; `retry_after` is how long it asked us to wait, when it said."""

    kind = "quota"
    retryable = True

    def __init__(self, message: str, *, reason: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class AuthFailed(Failure):
    kind = "auth"


class ModelUnavailable(Failure):
    """Gemini could not be reached or kept failing (5xx, timeouts) after retries."""

    kind = "unavailable"
    retryable = True


class NotFound(Failure):
    kind = "not_found"


class ModelGone(NotFound):
    """Gemini said 404 for the model itself (retired since the bot started, or never offered to this key)."""

    def __init__(self, message: str, *, reason: str | None = None, model: str = "") -> None:
        super().__init__(message, reason=reason)
        self.model = model


class ModelRetired(ModelGone):
    """A model gone mid-run: the thread moved to its replacement, so the same request may well succeed again."""

    retryable = True


class Busy(Failure):
    kind = "busy"
    retryable = True


class LimitReached(Failure):
    kind = "limit"


class StoreUnavailable(Failure):
    """The bot's own database failed (locked past its busy timeout, disk full) before anything was spent."""

    kind = "store"


class Forbidden(Failure):
    kind = "forbidden"


class Cancelled(Failure):
    """The requester withdrew the request while it waited in the queue: what they asked for, not an error."""

    kind = "cancelled"


class Interrupted(Failure):
    """The bot shut down before this request finished; the request is kept, so a Reroll can redo it."""

    kind = "interrupted"
    retryable = True


PartCallback = Callable[[Reply], Awaitable[None]]  # hears each part of a longer answer (a story's panels) as done
