"""The `--ar 16:9 --size 2K --model pro` flag parser, and option checks against the catalogue's capabilities.

A combination a model does not support is an `UnsupportedOption` whose message names what that model does support.
"""

from __future__ import annotations

import re
from dataclasses import replace

from core import catalogue, styles
from core.catalogue import ModelInfo
from core.events import Options
from core.failures import UnsupportedOption
from core.lineup import Lineup, normalise_size

ModelSpec = ModelInfo
# The models a name can reach (retired ones resolve to their replacements), for choice lists.
MODELS: dict[str, ModelInfo] = {m.id: m for m in catalogue.MODELS.values() if m.status != catalogue.RETIRED}

# Pixel dimensions per ratio at 1K (Google's tables); other sizes scale these.
_DIMS_1K = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200), "4:3": (1200, 896),
    "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376), "16:9": (1376, 768), "21:9": (1584, 672),
    "1:4": (512, 2048), "4:1": (2048, 512), "1:8": (384, 3072), "8:1": (3072, 384),
}
_SIZE_SCALE = {"512px": 0.5, "1K": 1, "2K": 2, "4K": 4}


def resolve_model(name: str) -> ModelInfo:
    """The model a full id or a short name (`flash`, `pro`, `lite`, `flash-3.1`) runs on, retired names included."""
    return Lineup().resolve(name).model


def check(options: Options, default_model: str) -> Options:
    """Options with the model resolved; raises UnsupportedOption naming what the model supports."""
    return Lineup(default_model).check(options)[0]


def check_inputs(count: int, model: str | ModelInfo) -> None:
    spec = model if isinstance(model, ModelInfo) else resolve_model(model)
    if count > spec.max_inputs:
        raise UnsupportedOption(
            f"{spec.id} takes at most {spec.max_inputs} input images per message; you sent {count}."
            + (" --model flash and --model pro take up to 14." if spec.max_inputs < 14 else "")
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
    text, controls = parse_controls(text)
    ratio = size = model = None
    for match in _FLAG.finditer(text):
        name, value = match.group(2).lower(), match.group(3)
        if value.startswith(("-", "—")):  # `--model --ar 16:9`: the next flag is not this one's value
            raise _needs_value(name)
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
            resolve_model(value)  # an unknown name is refused here; the engine resolves it against the lineup
            model = value.strip().lower()
    dangling = re.search(r"(?:^|\s)(?:--?|—)(ar|aspect|aspect-ratio|size|model|m)\s*$", text, re.IGNORECASE)
    if dangling:
        raise _needs_value(dangling.group(1).lower())
    prompt = " ".join(_FLAG.sub(" ", text).split())
    return prompt, replace(controls, model=model, aspect_ratio=ratio, image_size=size)


_NO = re.compile(r"(?:^|\s)--no(?:[=\s]+)(.+?)(?=\s--?[a-z]|\s—|$)", re.IGNORECASE)
_WORD = re.compile(r"(?:^|\s)--(style|think)(?![\w-])(?:[=\s]+(?!--)(\S+))?", re.IGNORECASE)
_THOUGHTS = re.compile(r"(?:^|\s)--thoughts(?![\w-])(?:[=\s]+(on|off)(?!\S))?", re.IGNORECASE)
_SEARCH = re.compile(r"(?:^|\s)--search(?![\w-])(?:[=\s]+(web|images?|off|on)(?!\S))?", re.IGNORECASE)
THINK_LEVELS = ("minimal", "high")


def parse_controls(text: str) -> tuple[str, Options]:
    """Take `--style NAME --no TERMS --think LEVEL --thoughts [off] --search [images|off]` out of `text`.

    Forms are checked here (a style name against the presets); what a model supports is checked by `check`.
    """
    found: dict[str, object] = {}
    if match := _NO.search(text):
        found["exclude"] = " ".join(match.group(1).split()).strip(" ,")
        text = text[:match.start()] + " " + text[match.end():]
    elif re.search(r"(?:^|\s)--no\s*$", text, re.IGNORECASE):
        raise UnsupportedOption("`--no` needs the things to leave out, for example --no text, people.")
    for match in _WORD.finditer(text):
        name, value = match.group(1).lower(), match.group(2)
        if value is None:
            example = "--style watercolour" if name == "style" else "--think high"
            raise UnsupportedOption(f"`--{name}` needs a value, for example {example}.")
        if name == "style":
            found["style"] = styles.normalise(value)
        elif value.lower() not in THINK_LEVELS:
            raise UnsupportedOption(f"`--think {value}` is not a thinking level; use minimal or high.")
        else:
            found["think"] = value.lower()
    if match := _THOUGHTS.search(text):
        found["thoughts"] = (match.group(1) or "on").lower() == "on"  # `--thoughts off` stops showing them
    if match := _SEARCH.search(text):
        value = (match.group(1) or "web").lower()
        found["search"] = {"on": "web", "image": "images"}.get(value, value)
    for pattern in (_WORD, _THOUGHTS, _SEARCH):
        text = pattern.sub(" ", text)
    return text, Options(**found)  # type: ignore[arg-type]


_EXAMPLES = {"ar": "--ar 16:9", "size": "--size 2K", "model": "--model pro"}


def _needs_value(name: str) -> UnsupportedOption:
    flag = {"m": "model", "aspect": "ar", "aspect-ratio": "ar"}.get(name, name)
    return UnsupportedOption(f"`--{flag}` needs a value, for example {_EXAMPLES[flag]}.")
