"""The models this bot can use now: the catalogue narrowed to what the API key offers (discovery), minus models
found gone during a run (a 404), plus image models the key offers that the catalogue does not know.

`resolve` turns any name a user or operator gives (an id, a short name, a retired id, an Imagen name) into the
model that will actually run, with the reason when that is not the model named.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from core import catalogue
from core.catalogue import RETIRED_NAMES, ModelInfo
from core.events import Options
from core.failures import UnsupportedOption

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolution:
    model: ModelInfo
    named: str
    reason: str | None = None  # why another model than the one named runs; None when it is the one named

    def notice(self) -> str | None:
        if self.reason is None:
            return None
        return f"{self.reason}; this image was made with {self.model.id} ({self.model.label}) instead."


class Lineup:
    """`offered` None means "not known" (no discovery): every catalogue model that is not retired is usable."""

    def __init__(
        self, default: str = catalogue.DEFAULT_MODEL, offered: set[str] | None = None,
        extra: dict[str, ModelInfo] | None = None,
    ) -> None:
        self._offered = set(offered) if offered is not None else None
        self._extra = dict(extra or {})
        self.default = default

    def usable(self) -> list[ModelInfo]:
        """The models a request may run on now: known before unknown, GA first, then by family, newest first."""
        rows = [m for m in catalogue.MODELS.values() if self._offers(m.id)] + list(self._extra.values())
        order = {family: i for i, family in enumerate(catalogue.FAMILIES)}
        return sorted(catalogue.ranked(rows, "flash"), key=lambda m: (
            not m.known, catalogue.STATUS_RANK.get(m.status, 3), order.get(m.family, len(order))))

    def _offers(self, model_id: str) -> bool:
        return model_id in self._extra or (
            model_id in catalogue.MODELS and catalogue.MODELS[model_id].status != catalogue.RETIRED
            and (self._offered is None or model_id in self._offered)
        )

    def info(self, model_id: str) -> ModelInfo:
        """Capabilities of a model id: its catalogue row, a discovered model's conservative row."""
        return self._extra.get(model_id) or catalogue.capabilities(model_id)

    def resolve(self, name: str | None) -> Resolution:
        """The model that runs for `name` (the default when None); raises UnsupportedOption for an unknown name."""
        named = (name or self.default).strip()
        key = named.lower().removeprefix("models/")
        usable = self.usable()
        if key in self._extra:
            return Resolution(self._extra[key], named)
        if key in catalogue.FAMILIES:
            best = self._best(key)
            why = None if best.family == key else f"No `{key}` model is offered to this bot's API key"
            return Resolution(best, named, why if name else None)
        if key in RETIRED_NAMES:
            target, why = RETIRED_NAMES[key]
            return Resolution(self._best(target), named, why if name else None)
        row = catalogue.lookup(key)
        if row is None:
            raise catalogue.describe_unknown(named, usable)
        if self._offers(row.id):
            return Resolution(row, named)
        why = f"`{row.id}` is not offered to this bot's API key"
        return Resolution(self._best(row.replacement or row.family, avoid=row.id), named, why if name else None)

    def _best(self, family: str, avoid: str = "") -> ModelInfo:
        if family in catalogue.MODELS and self._offers(family):
            return catalogue.MODELS[family]
        candidates = [m for m in self.usable() if m.id != avoid]
        # a family the key lacks falls back to the general-purpose Flash models, then to whatever is best
        best = (catalogue.newest(family, candidates) or catalogue.newest("flash", candidates)
                or next(iter(catalogue.ranked(candidates, family)), None))
        if best is None:
            raise UnsupportedOption("No Gemini image model is available to this bot right now. Ask its operator.")
        return best

    def check(self, options: Options) -> tuple[Options, str | None]:
        """Options with the model that will run, checked against it, and the notice to give when it is not the
        model named. A substitute keeps the ratio and size only where it supports them."""
        resolution = self.resolve(options.model)
        spec = resolution.model
        if resolution.reason is not None:
            options = replace(
                options,
                aspect_ratio=options.aspect_ratio if options.aspect_ratio in spec.ratios else None,
                image_size=options.image_size if options.image_size in spec.sizes else None,
                think=options.think if options.think in spec.thinking_levels else None,
                search=options.search if _searches(spec, options.search) else None,
            )
        return check_spec(replace(options, model=spec.id), spec), resolution.notice()

    def withdraw(self, model_id: str) -> ModelInfo:
        """Gemini said 404 for this model mid-run: stop offering it; the model that replaces it."""
        if self._offered is None:
            self._offered = {m.id for m in catalogue.MODELS.values() if m.status != catalogue.RETIRED}
        self._offered.discard(model_id)
        self._extra.pop(model_id, None)
        row = catalogue.MODELS.get(model_id)
        if self.default == model_id:
            self.default = self._best(row.family if row else "flash").id
            log.warning("the default model %s is gone: using %s", model_id, self.default)
        return self._best((row.replacement or row.family) if row else "flash")


def check_spec(options: Options, spec: ModelInfo) -> Options:
    """Options on `spec`'s model; raises UnsupportedOption naming what that model supports."""
    ratio, size = options.aspect_ratio, options.image_size
    if ratio is not None and ratio not in spec.ratios:
        raise UnsupportedOption(
            f"{spec.id} does not support aspect ratio {ratio}. It supports: {' '.join(spec.ratios)}."
        )
    if size is not None:
        size = normalise_size(size)
        if not spec.sizes:
            raise UnsupportedOption(
                f"{spec.id} has no size option (it renders about 1K). For {size} use --model flash or --model pro."
            )
        if size not in spec.sizes:
            raise UnsupportedOption(f"{spec.id} does not support size {size}. It supports: {' '.join(spec.sizes)}.")
    check_controls(options, spec)
    return replace(options, model=spec.id, aspect_ratio=ratio, image_size=size)


def _with(capable: str) -> str:
    models = [m.id for m in catalogue.MODELS.values() if m.status != catalogue.RETIRED and getattr(m, capable)]
    return ", ".join(models) or "no model this bot knows"


def _searches(spec: ModelInfo, search: str | None) -> bool:
    return search in (None, "off") or (spec.web_search and (search == "web" or spec.image_search))


def check_controls(options: Options, spec: ModelInfo) -> None:
    """Thinking, thoughts and search against what `spec` offers; the refusal names the models that offer it."""
    if options.think is not None and options.think not in spec.thinking_levels:
        if not spec.thinking_levels:
            raise UnsupportedOption(
                f"{spec.id} has no thinking levels. --think works with: {_with('thinking_levels')}."
            )
        raise UnsupportedOption(f"{spec.id} supports --think {' or '.join(spec.thinking_levels)}.")
    if options.thoughts and not spec.thinks:
        raise UnsupportedOption(f"{spec.id} does not think, so it has no thoughts to show. --thoughts works with: "
                                f"{_with('thinks')}.")
    if not _searches(spec, options.search):
        if not spec.web_search:
            raise UnsupportedOption(f"{spec.id} has no Google Search grounding. --search works with: "
                                    f"{_with('web_search')}.")
        raise UnsupportedOption(f"{spec.id} has web search only (--search). --search images works with: "
                                f"{_with('image_search')}.")


def normalise_size(size: str) -> str:
    """`2k` → `2K`, `512` → `512px`: Gemini rejects a lower-case K."""
    s = size.strip().upper().replace("PX", "px")
    return "512px" if s in ("512", "0.5K") else s
