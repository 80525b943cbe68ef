"""Edits of part of a picture, written once for every platform: a region or a mask (inpainting), a larger canvas
(outpainting), a style reference. Gemini has no mask or region parameter, so each becomes an instruction that names
the images it comes with, in the order they are sent.

`plan` is synchronous (Pillow builds an extended canvas): callers run it through `asyncio.to_thread`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core import canvas
from core.canvas import Canvas
from core.events import ImageInput, Workflow
from core.failures import BadInput, UnsupportedOption

LATEST = "the latest picture in this conversation"


@dataclass(frozen=True)
class EditPlan:
    text: str  # the instruction Gemini reads
    images: tuple[ImageInput, ...]  # in the order the instruction names them
    canvas: Canvas | None = None  # an extension: the canvas sent, to compare with the result's shape
    aspect_ratio: str | None = None  # an extension: the supported ratio nearest the canvas


def needs_picture(workflow: Workflow) -> str:
    flags = [name for name, on in (("--region", workflow.region), ("--mask", workflow.mask),
                                   ("--extend", workflow.extend), ("--style-ref", workflow.style_ref)) if on]
    return (f"{' and '.join(flags)} edit a picture, and there is none here. Attach the picture (for --mask and "
            "--style-ref, the mask or the reference comes after it), or use it in a thread that has one.")


def plan(
    text: str, images: tuple[ImageInput, ...], workflow: Workflow, latest: bytes | None, ratios: Sequence[str],
    max_edge: int,
) -> EditPlan:
    """The instruction and images for `workflow` on the attached picture, else the thread's `latest` picture."""
    if not workflow.edits:
        return EditPlan(text, images)
    if workflow.mask and workflow.style_ref:
        raise UnsupportedOption("Use --mask or --style-ref in one message, not both: each takes the last image.")
    if workflow.extend and (workflow.mask or workflow.region or workflow.style_ref):
        raise UnsupportedOption("--extend grows the canvas on its own; send --region, --mask or --style-ref next.")
    extra = images[-1:] if workflow.mask or workflow.style_ref else ()
    pictures = images[: len(images) - len(extra)]
    if (workflow.mask or workflow.style_ref) and not extra:
        what = "mask" if workflow.mask else "style reference"
        raise BadInput(f"Attach the {what} as the last image of the message (after the picture, if you attach one).")
    if not pictures and latest is None:
        raise BadInput(needs_picture(workflow))
    target = "the first image" if pictures else LATEST
    wish = f" {text.strip()}" if text.strip() else ""
    if workflow.extend:
        return _extension(pictures, latest, workflow, wish, ratios, max_edge)
    if workflow.style_ref:
        return EditPlan(
            f"Apply the visual style of the last image (the style reference: its palette, brushwork, texture, "
            f"lighting and mood) to {target}. Keep {target}'s content, subjects and composition; take nothing but "
            f"the style from the reference.{wish}",
            (*pictures, *extra),
        )
    area = f"the part of {target} marked white in the last image (a mask; black is to be kept)" if workflow.mask \
        else f"{workflow.region} in {target}"
    named = f" ({workflow.region})" if workflow.mask and workflow.region else ""
    return EditPlan(
        f"Edit only {area}{named}.{wish} Keep everything else exactly as it is: the same composition, pixels, "
        "colours and lighting outside that part." + (" Do not draw the mask itself." if workflow.mask else ""),
        (*pictures, *extra),
    )


def _extension(
    pictures: tuple[ImageInput, ...], latest: bytes | None, workflow: Workflow, wish: str, ratios: Sequence[str],
    max_edge: int,
) -> EditPlan:
    assert workflow.extend is not None
    source = pictures[0] if pictures else ImageInput(latest or b"", "the latest picture")
    grown = canvas.extend(source.data, source.name, workflow.extend, max_edge)
    sides = canvas.sides_named(workflow.extend)
    text = (
        f"The first image is a picture on a larger canvas: the flat grey area on the {sides} is new and empty. "
        "Fill it seamlessly, continuing the scene, its perspective and its light; keep the original picture's "
        f"pixels exactly as they are, in place. Return the whole canvas ({grown.width}×{grown.height}).{wish}"
    )
    ratio = canvas.nearest_ratio(grown.width, grown.height, ratios)
    return EditPlan(text, (ImageInput(grown.png, "canvas.png"), *pictures[1:]), grown, ratio)
