"""Per-model capabilities (ratios, sizes, input limits) and the `--ar 16:9 --size 2K --model pro` flag parser.

The tables follow Google's published image-generation docs; a combination a model does not support is a
`UnsupportedOption` whose message names what that model does support.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.events import Options, UnsupportedOption

_BASE_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str
    ratios: tuple[str, ...]
    sizes: tuple[str, ...]  # empty: the model has one fixed resolution per ratio
    max_inputs: int
    max_input_edge: int  # longer input edges are shrunk: the model gains nothing from more pixels
    aliases: tuple[str, ...] = ()


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "gemini-2.5-flash-image", "Nano Banana (2.5 Flash Image)", _BASE_RATIOS, (), 3, 2048,
            ("flash", "flash-2.5", "2.5", "nano-banana", "nb"),
        ),
        ModelSpec(
            "gemini-3.1-flash-image-preview", "Nano Banana 2 (3.1 Flash Image)",
            _BASE_RATIOS + ("1:4", "4:1", "1:8", "8:1"), ("512px", "1K", "2K", "4K"), 14, 3072,
            ("flash-3.1", "flash3.1", "3.1", "nano-banana-2", "nb2", "gemini-3.1-flash-image"),
        ),
        ModelSpec(
            "gemini-3-pro-image-preview", "Nano Banana Pro (3 Pro Image)", _BASE_RATIOS, ("1K", "2K", "4K"), 14,
            3072, ("pro", "3-pro", "nano-banana-pro", "nb-pro", "gemini-3-pro-image"),
        ),
    )
}

_ALIASES = {alias: spec.name for spec in MODELS.values() for alias in (spec.name, *spec.aliases)}

# Pixel dimensions per ratio at 1K (Google's tables); other sizes scale these.
_DIMS_1K = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200), "4:3": (1200, 896),
    "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376), "16:9": (1376, 768), "21:9": (1584, 672),
    "1:4": (512, 2048), "4:1": (2048, 512), "1:8": (384, 3072), "8:1": (3072, 384),
}
_SIZE_SCALE = {"512px": 0.5, "1K": 1, "2K": 2, "4K": 4}


def resolve_model(name: str) -> ModelSpec:
    """The spec for a full model name or a short alias (`flash`, `pro`, `flash-3.1`)."""
    key = name.strip().lower()
    if key in _ALIASES:
        return MODELS[_ALIASES[key]]
    known = ", ".join(f"{spec.name} ({'/'.join(spec.aliases[:2])})" for spec in MODELS.values())
    raise UnsupportedOption(f"Unknown model `{name}`. Choose one of: {known}.")


def normalise_size(size: str) -> str:
    """`2k` → `2K`, `512` → `512px`: Gemini rejects a lower-case K."""
    s = size.strip().upper().replace("PX", "px")
    if s in ("512", "0.5K"):
        return "512px"
    return s


def check(options: Options, default_model: str) -> Options:
    """Options with the model resolved; raises UnsupportedOption naming what the model supports."""
    spec = resolve_model(options.model or default_model)
    ratio, size = options.aspect_ratio, options.image_size
    if ratio is not None and ratio not in spec.ratios:
        raise UnsupportedOption(
            f"{spec.name} does not support aspect ratio {ratio}. It supports: {' '.join(spec.ratios)}."
        )
    if size is not None:
        size = normalise_size(size)
        if not spec.sizes:
            raise UnsupportedOption(
                f"{spec.name} has no size option (it renders about 1K). "
                f"For {size} use --model pro or --model flash-3.1."
            )
        if size not in spec.sizes:
            raise UnsupportedOption(
                f"{spec.name} does not support size {size}. It supports: {' '.join(spec.sizes)}."
            )
    return Options(model=spec.name, aspect_ratio=ratio, image_size=size)


def check_inputs(count: int, model: str) -> None:
    spec = resolve_model(model)
    if count > spec.max_inputs:
        raise UnsupportedOption(
            f"{spec.name} takes at most {spec.max_inputs} input images per message; you sent {count}."
            + (" Gemini 3 models (--model pro, --model flash-3.1) take up to 14." if spec.max_inputs < 14 else "")
        )


def dimensions(ratio: str | None, size: str | None) -> tuple[int, int]:
    """The pixel size Gemini renders for a ratio and size (1:1 and 1K when unset)."""
    w, h = _DIMS_1K.get(ratio or "1:1", (1024, 1024))
    scale = _SIZE_SCALE.get(size or "1K", 1)
    return int(w * scale), int(h * scale)


_FLAG = re.compile(r"(?:^|\s)(--?|—)(ar|aspect|aspect-ratio|size|model|m)(?:[=\s]+)(\S+)", re.IGNORECASE)
_RATIO = re.compile(r"^(\d{1,2})\s*[:x]\s*(\d{1,2})$")


def parse_flags(text: str) -> tuple[str, Options]:
    """Split `a red fox --ar 16:9 --size 2K --model pro` into the prompt and the options it names.

    Flags are removed from the prompt so that Gemini never sees them. Values are checked for form here and
    against a model by `check`.
    """
    ratio = size = model = None
    for match in _FLAG.finditer(text):
        name, value = match.group(2).lower(), match.group(3)
        if name in ("ar", "aspect", "aspect-ratio"):
            m = _RATIO.match(value)
            if not m:
                raise UnsupportedOption(f"`--ar {value}` is not a ratio; write it as W:H, for example --ar 16:9.")
            ratio = f"{int(m.group(1))}:{int(m.group(2))}"
        elif name == "size":
            size = normalise_size(value)
            if size not in _SIZE_SCALE:
                raise UnsupportedOption(f"`--size {value}` is not a size; use 512px, 1K, 2K or 4K.")
        else:
            model = resolve_model(value).name
    dangling = re.search(r"(?:^|\s)--(ar|aspect|size|model)\s*$", text, re.IGNORECASE)
    if dangling:
        raise UnsupportedOption(f"`--{dangling.group(1)}` needs a value, for example --ar 16:9 or --size 2K.")
    prompt = " ".join(_FLAG.sub(" ", text).split())
    return prompt, Options(model=model, aspect_ratio=ratio, image_size=size)
