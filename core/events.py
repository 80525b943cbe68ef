"""The core's vocabulary: thread keys, inbound events, replies and typed failures.

Frozen dataclasses with no I/O and no platform objects, so adapters translate into them and out of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from core.failures import Failure
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


PartCallback = Callable[[Reply], Awaitable[None]]  # hears each part of a longer answer (a story's panels) as done


def told(reply: Reply, notice: str | None) -> Reply:
    """The reply with the notice naming the model that actually ran, ahead of any other notice."""
    return replace(reply, notices=(notice, *reply.notices)) if notice else reply
