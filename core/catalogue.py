"""The Gemini image models as data: lifecycle status and replacement, capabilities and prices, one row each.

Checked against Google's pages on 2026-11-26 (docs/models.md lists the sources and what could not be confirmed;
an unconfirmed figure takes the conservative value). Short names `flash`, `pro` and `lite` are not stored: they
always mean the newest GA model of that family, so a new model moves them by being added here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from core.failures import UnsupportedOption

GA, DEPRECATED, RESTRICTED, RETIRED = "GA", "deprecated", "restricted", "retired"
FAMILIES = ("flash", "pro", "lite")
CHECKED = "2026-11-26"

BASE_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
EXTREME_RATIOS = ("1:4", "4:1", "1:8", "8:1")


@dataclass(frozen=True)
class ModelInfo:
    id: str
    label: str
    family: str  # "flash" | "pro" | "lite" | "" (a model the catalogue does not know)
    status: str  # GA | deprecated | restricted | retired
    released: str  # ISO date of GA: the newest GA model of a family answers to the family's short name
    short_names: tuple[str, ...]
    ratios: tuple[str, ...]
    sizes: tuple[str, ...]  # empty: one fixed resolution (about 1K); no size is sent
    max_inputs: int  # input images per message
    max_input_edge: int  # longer input edges are shrunk: the model gains nothing from more pixels
    thinks: bool  # signs its turns (thought signatures) and bills thinking tokens
    thinking_levels: tuple[str, ...]  # levels the API accepts; empty: not adjustable
    web_search: bool
    image_search: bool
    input_per_mtok: float  # USD per million input tokens (text and images)
    output_per_mtok: float  # USD per million text and thinking output tokens
    image_price: dict[str, float] = field(default_factory=dict)  # USD per output image, by size ("1K" if none)
    image_tokens: dict[str, int] = field(default_factory=dict)  # output tokens Google counts per image
    replacement: str | None = None  # a model id or a family short name
    known: bool = True  # False: offered by the key but not in this table (conservative values)
    video_input: bool = False  # accepts a video as context for a still (unconfirmed: False, the conservative value)

    @property
    def name(self) -> str:
        return self.id

    @property
    def aliases(self) -> tuple[str, ...]:
        return self.short_names


MODELS: dict[str, ModelInfo] = {
    m.id: m
    for m in (
        ModelInfo(
            "gemini-nano-banana-2.1", "Nano Banana 2.1", "flash", GA, "2026-10-06",
            ("nano-banana-2.1", "nb2.1", "2.1"), BASE_RATIOS + EXTREME_RATIOS, ("1K", "2K", "4K"), 14, 2048,
            True, ("minimal", "high"), True, False, 1.50, 7.50,
            {"1K": 0.067, "2K": 0.101, "4K": 0.151}, {"1K": 1120, "2K": 1680, "4K": 3776},
        ),
        ModelInfo(
            "gemini-3.1-flash-image", "Nano Banana 2 (3.1 Flash Image)", "flash", DEPRECATED, "2026-05-28",
            ("flash-3.1", "flash3.1", "3.1", "nano-banana-2", "nb2"), BASE_RATIOS + EXTREME_RATIOS,
            ("512px", "1K", "2K", "4K"), 14, 3072, True, ("minimal", "high"), True, True, 0.50, 3.00,
            {"512px": 0.045, "1K": 0.067, "2K": 0.101, "4K": 0.151}, {"512px": 747, "1K": 1120, "2K": 1680, "4K": 2520},
            replacement="flash", video_input=True,  # Google's changelog, 2026-05-28: video as context for a still
        ),
        ModelInfo(
            "gemini-3-pro-image", "Nano Banana Pro (3 Pro Image)", "pro", GA, "2026-05-28",
            ("3-pro", "nano-banana-pro", "nb-pro"), BASE_RATIOS, ("1K", "2K", "4K"), 14, 3072,
            True, (), True, False, 2.00, 12.00,
            {"1K": 0.134, "2K": 0.134, "4K": 0.24}, {"1K": 1120, "2K": 1120, "4K": 2000},
        ),
        ModelInfo(
            "gemini-3.1-flash-lite-image", "Nano Banana 2 Lite (3.1 Flash Lite Image)", "lite", GA, "2026-06-30",
            ("flash-lite", "nano-banana-2-lite", "nb2-lite"), BASE_RATIOS, ("1K",), 3, 2048,
            True, ("minimal", "high"), False, False, 0.50, 3.00, {"1K": 0.042}, {"1K": 1120},
        ),
        ModelInfo(
            "gemini-2.5-flash-image", "Nano Banana (2.5 Flash Image)", "flash", RESTRICTED, "2025-10-02",
            ("flash-2.5", "2.5", "nano-banana", "nb"), BASE_RATIOS, (), 3, 2048,
            False, (), False, False, 0.30, 2.50, {"1K": 0.039}, {"1K": 1290}, replacement="flash",
        ),
    )
}
DEFAULT_MODEL = "gemini-nano-banana-2.1"

# Names that no longer run anywhere, with what replaces them (a family short name) and why.
RETIRED_NAMES: dict[str, tuple[str, str]] = {
    "gemini-3.1-flash-image-preview": ("flash", "Google shut `gemini-3.1-flash-image-preview` down on 2026-06-25"),
    "gemini-3-pro-image-preview": ("pro", "Google shut `gemini-3-pro-image-preview` down on 2026-06-25"),
    "gemini-2.5-flash-image-preview": ("flash", "Google shut `gemini-2.5-flash-image-preview` down on 2026-01-15"),
    **{
        name: (target, f"Imagen 4 (`{name}`) was shut down on the Gemini API on 2026-08-17")
        for name, target in (
            ("imagen-4.0-generate-001", "flash"), ("imagen", "flash"),
            ("imagen-4.0-fast-generate-001", "flash"), ("imagen-fast", "flash"),
            ("imagen-4.0-ultra-generate-001", "pro"), ("imagen-ultra", "pro"),
        )
    },
}

STATUS_RANK = {GA: 0, DEPRECATED: 1, RESTRICTED: 2}
_MOST = max(MODELS.values(), key=lambda m: m.image_price["1K"])


def conservative(model_id: str) -> ModelInfo:
    """A model the key offers that this table does not know: the common ground of every Gemini image model, priced
    like the dearest one, so that budgets are never under-reserved."""
    return ModelInfo(
        model_id, model_id, "", GA, "", (), BASE_RATIOS, (), 3, 2048, True, (), False, False,
        _MOST.input_per_mtok, _MOST.output_per_mtok, {"1K": _MOST.image_price["1K"]},
        {"1K": _MOST.image_tokens["1K"]}, known=False,
    )


def lookup(name: str) -> ModelInfo | None:
    """The row for an id or one of its own short names (not a family name, not a retired name)."""
    key = name.strip().lower().removeprefix("models/")
    if key in MODELS:
        return MODELS[key]
    return next((m for m in MODELS.values() if key in m.short_names), None)


def capabilities(model_id: str) -> ModelInfo:
    """What a model id can do: its row, or the conservative values for an id the table does not know."""
    return lookup(model_id) or conservative(model_id)


def ranked(candidates: Collection[ModelInfo], family: str = "") -> list[ModelInfo]:
    """Usable models best first: the family asked for, known before unknown, GA before deprecated before
    restricted, newest first."""
    usable = [m for m in candidates if m.status != RETIRED]
    return sorted(
        usable, key=lambda m: (m.family != family, not m.known, STATUS_RANK.get(m.status, 3), _neg(m.released))
    )


def _neg(date: str) -> tuple[int, ...]:
    return tuple(-int(p) for p in date.split("-") if p.isdigit())


def newest(family: str, candidates: Collection[ModelInfo] | None = None) -> ModelInfo | None:
    """The newest model of a family, GA first (what `flash`, `pro`, `lite` mean)."""
    pool = [m for m in (MODELS.values() if candidates is None else candidates) if m.family == family]
    best = ranked(pool, family)
    return best[0] if best else None


def describe_unknown(name: str, usable: Collection[ModelInfo]) -> UnsupportedOption:
    known = ", ".join(f"{m.id} ({'/'.join(short_names(m, usable)[:2])})" for m in ranked(usable, "flash"))
    return UnsupportedOption(f"Unknown model `{name}`. Choose one of: {known}.")


def short_names(model: ModelInfo, usable: Collection[ModelInfo] | None = None) -> tuple[str, ...]:
    """Its own short names, with its family's name first when it is the family's newest model."""
    family = (model.family,) if model.family and newest(model.family, usable) == model else ()
    return family + model.short_names
