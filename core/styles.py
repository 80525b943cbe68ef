"""The curated style presets (`--style NAME`, `/styles`) and the exclusion instruction (`--no TERMS`).

Each preset is written the way the seeds advise prompting Gemini: describe the look in concrete terms (camera,
lens and light for photographs; line, shading and palette for illustration) rather than one adjective. On a
message that edits an image the preset restyles it and keeps its composition (the seeds' style transfer).
Gemini has no negative-prompt parameter, so `--no` becomes an explicit instruction.
"""

from __future__ import annotations

from core.failures import UnsupportedOption

STYLES: dict[str, str] = {
    "photo": "a photorealistic photograph, shot on a full-frame camera with an 85mm lens, natural soft light, "
             "accurate colours, fine detail and a shallow depth of field",
    "cinematic": "a cinematic film still, anamorphic widescreen framing, dramatic lighting with deep shadows and "
                 "a teal-and-orange colour grade, subtle film grain",
    "anime": "an anime illustration, clean confident line art, cel shading with flat colour areas, expressive "
             "eyes and a bright, saturated palette",
    "watercolour": "a watercolour painting on textured cold-press paper, soft wet-in-wet washes, visible "
                   "pigment blooms and loose edges, light and airy",
    "oil-painting": "an oil painting on canvas, rich impasto brushstrokes, layered glazes, warm chiaroscuro "
                    "lighting in the manner of the old masters",
    "pixel-art": "16-bit pixel art, a limited palette, crisp hard-edged pixels with no anti-aliasing, like a "
                 "classic console game sprite scene",
    "line-sketch": "a pencil line sketch in black graphite on white paper, confident contour lines, light "
                   "cross-hatching for shade, no colour",
    "3d-render": "a polished 3D render, soft global illumination, physically based materials, gentle ambient "
                 "occlusion and a clean studio backdrop",
    "flat-illustration": "a flat vector illustration, simple geometric shapes, no gradients or texture, a "
                         "limited harmonious palette and clean negative space",
    "sticker": "a kawaii-style die-cut sticker, bold clean outlines, simple cel shading, vibrant colours, a "
               "thick white border and a plain white background",
    "comic": "a comic book panel, bold ink outlines, halftone dot shading, dynamic angles and a punchy primary "
             "colour palette",
    "isometric": "an isometric illustration, a 30-degree isometric view with no perspective distortion, clean "
                 "edges, soft shadows, like a detailed miniature diorama",
    "none": "",  # clears a style set earlier (in the thread, the channel or the server)
}
ALIASES = {
    "photograph": "photo", "photorealistic": "photo", "film": "cinematic", "watercolor": "watercolour",
    "oil": "oil-painting", "pixel": "pixel-art", "sketch": "line-sketch", "3d": "3d-render",
    "flat": "flat-illustration", "comics": "comic",
}


def names() -> list[str]:
    return [name for name in STYLES if name != "none"]


def normalise(name: str) -> str:
    """A preset's name from what a user typed (`Oil painting`, `oil_painting`, `watercolor`); UnsupportedOption
    listing every preset for a name that is none of them."""
    key = "-".join(name.strip().lower().replace("_", " ").split())
    key = ALIASES.get(key, key)
    if key not in STYLES:
        raise UnsupportedOption(f"There is no style `{name}`. Choose one of: {', '.join(names())} (or none).")
    return key


def instruction(style: str | None, *, edit: bool) -> str | None:
    """What a preset asks of Gemini: a description of the look, or (on an edit) a restyle that keeps the picture."""
    look = STYLES.get(style or "", "")
    if not look:
        return None
    if edit:
        return (f"Restyle the image as {look}. Preserve the original composition, subjects, poses and layout "
                "exactly; change only the rendering style.")
    return f"Render it as {look}."


def exclusion(terms: str | None) -> str | None:
    """`--no text, people` as an explicit instruction: Gemini has no negative-prompt parameter."""
    cleaned = ", ".join(t.strip() for t in (terms or "").split(",") if t.strip() and t.strip() != "-")
    return f"Do not include any of the following anywhere in the image: {cleaned}." if cleaned else None


def lines() -> list[str]:
    """`/styles`: one line per preset, its name first."""
    return [f"{name}: {STYLES[name]}" for name in names()]
