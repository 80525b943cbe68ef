"""The flags of a request beyond the model's options: `--n 3`, `--region "the car"`, `--mask`, `--extend left:0.5`,
`--style-ref`. Parsed once for every platform, removed from the prompt so Gemini never sees them."""

from __future__ import annotations

import re

from core.events import SIDES, Extend, Options, Workflow
from core.failures import UnsupportedOption
from core.options import parse_flags

MAX_VARIANTS = 4
DEFAULT_EXTEND = 0.5
STORY_PANELS = (2, 8)

_N = re.compile(r"(?:^|\s)--n(?:[=\s]+)(\S+)", re.IGNORECASE)
_REGION = re.compile(
    r"(?:^|\s)--region(?:[=\s]+)(?:\"([^\"]*)\"|'([^']*)'|“([^”]*)”|(.*?))(?=\s+--?\w|\s+—\w|\s*$)", re.IGNORECASE
)
_EXTEND = re.compile(r"(?:^|\s)--extend(?:[=\s]+)(\S+)", re.IGNORECASE)
_BARE = re.compile(r"(?:^|\s)--(mask|style-ref)(?=\s|$)", re.IGNORECASE)
_DANGLING = re.compile(r"(?:^|\s)--(n|region|extend)\s*$", re.IGNORECASE)


def parse_request(text: str) -> tuple[str, Options, Workflow]:
    """Split a message into the prompt, the model's options and the workflow it asks for."""
    dangling = _DANGLING.search(text)
    if dangling:
        raise UnsupportedOption(
            f"`--{dangling.group(1).lower()}` needs a value, for example --n 4, --region \"the sky\" or --extend left."
        )
    n, text = _take_n(text)
    region, text = _take_region(text)
    extend, text = _take_extend(text)
    bare = {m.group(1).lower() for m in _BARE.finditer(text)}
    text = _BARE.sub(" ", text)
    prompt, options = parse_flags(text)
    return prompt, options, Workflow(n, region, "mask" in bare, extend, "style-ref" in bare)


def _take_n(text: str) -> tuple[int, str]:
    match = _N.search(text)
    if match is None:
        return 1, text
    raw = match.group(1)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_VARIANTS:
        raise UnsupportedOption(f"`--n {raw}`: ask for 2 to {MAX_VARIANTS} variants at once, for example --n 4.")
    return int(raw), text[: match.start()] + " " + text[match.end():]


def _take_region(text: str) -> tuple[str | None, str]:
    match = _REGION.search(text)
    if match is None:
        return None, text
    region = next((g for g in match.groups() if g is not None), "").strip()
    if not region:
        raise UnsupportedOption('`--region` needs the part to change, for example --region "the blue car".')
    return region, text[: match.start()] + " " + text[match.end():]


def _take_extend(text: str) -> tuple[Extend | None, str]:
    match = _EXTEND.search(text)
    if match is None:
        return None, text
    return parse_extend(match.group(1)), text[: match.start()] + " " + text[match.end():]


def parse_extend(spec: str) -> Extend:
    """`left,right`, `all:0.3`, `top:0.25,bottom`: the amount (0.1 to 1.0 of the picture's size) per side."""
    amounts: dict[str, float] = {}
    for item in filter(None, spec.lower().split(",")):
        side, _, raw = item.partition(":")
        sides = SIDES if side == "all" else (side,)
        if side != "all" and side not in SIDES:
            raise UnsupportedOption(f"`--extend {spec}`: `{side}` is not a side; use top, bottom, left, right or all.")
        try:
            amount = float(raw) if raw else DEFAULT_EXTEND
        except ValueError:
            amount = -1.0
        if not 0.1 <= amount <= 1.0:
            raise UnsupportedOption(
                f"`--extend {spec}`: the amount `{raw}` must be 0.1 to 1.0 of the picture's size, e.g. left:0.5."
            )
        amounts.update({s: amount for s in sides})
    if not amounts:
        raise UnsupportedOption("`--extend` needs sides, for example --extend left,right or --extend all:0.25.")
    return Extend(**amounts)


def story_panels(raw: str) -> int:
    """The N of `/story N PROMPT`, checked: 2 to 8 panels."""
    low, high = STORY_PANELS
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise UnsupportedOption(f"A story has {low} to {high} panels: `/story 4 a fox finds a key`, not `{raw}`.")
    return int(raw)
