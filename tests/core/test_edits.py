"""Region and mask edits, extended canvases, style references: what reaches Gemini, and refusals without a picture."""

import io

import pytest
from PIL import Image

from core import canvas, edits
from core.events import EditImages, Extend, ImageInput, NextTurn, StartThread, User, Workflow
from core.failures import BadInput
from core.flags import parse_extend
from core.options import dimensions
from tests import pictures
from tests.core.test_limits import key, make_engine

ALICE = User("alice")
RED, BLUE = pictures.png(60, 40, (200, 30, 30)), pictures.png(30, 30, (20, 20, 220))


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


async def test_region_reaches_gemini_with_the_picture(store, model, gemini):
    engine = make_engine(store, model)
    reply = await engine.handle(
        EditImages(key(1), ALICE, "make it red", (ImageInput(RED, "car.png"),), workflow=Workflow(region="the car"))
    )
    assert reply.ok
    prompt = gemini.requests[-1].prompt
    assert "Edit only the car in the first image" in prompt and "make it red" in prompt
    assert "Keep everything else exactly as it is" in prompt and gemini.requests[-1].input_images == [RED]


async def test_region_in_a_thread_edits_its_latest_picture(store, model, gemini):
    engine = make_engine(store, model)
    await engine.handle(StartThread(key(1), ALICE, "a street"))
    assert (await engine.handle(NextTurn(key(1), ALICE, "", workflow=Workflow(region="the sky")))).ok
    assert "Edit only the sky in the latest picture in this conversation" in gemini.requests[-1].prompt


async def test_mask_is_sent_last_and_named_as_the_mask(store, model, gemini):
    engine = make_engine(store, model)
    mask = pictures.png(60, 40, (255, 255, 255))
    reply = await engine.handle(EditImages(key(1), ALICE, "a cat here",
                                           (ImageInput(RED, "photo.png"), ImageInput(mask, "mask.png")),
                                           workflow=Workflow(mask=True)))
    assert reply.ok
    wire = gemini.requests[-1]
    assert wire.input_images == [RED, mask]
    assert "marked white in the last image (a mask" in wire.prompt and "Do not draw the mask" in wire.prompt


async def test_edits_without_a_picture_are_refused_clearly(store, model, gemini):
    engine = make_engine(store, model)
    for workflow in (Workflow(region="the car"), Workflow(extend=Extend(left=0.5))):
        reply = await engine.handle(StartThread(key(1), ALICE, "x", workflow=workflow))
        assert isinstance(reply.failure, BadInput) and "there is none here" in reply.failure.message
    lone_mask = await engine.handle(StartThread(key(2), ALICE, "x", (ImageInput(RED),), workflow=Workflow(mask=True)))
    assert "there is none here" in lone_mask.failure.message
    assert gemini.calls == 0


async def test_style_reference_applies_the_second_images_style(store, model, gemini):
    engine = make_engine(store, model)
    reply = await engine.handle(EditImages(key(1), ALICE, "", (ImageInput(RED, "a.png"), ImageInput(BLUE, "b.png")),
                                           workflow=Workflow(style_ref=True)))
    assert reply.ok
    wire = gemini.requests[-1]
    assert wire.input_images == [RED, BLUE]
    assert "Apply the visual style of the last image" in wire.prompt and "Keep the first image's content" in wire.prompt


async def test_extend_sends_the_larger_canvas_with_the_original_in_place(store, model, gemini):
    engine = make_engine(store, model, default_model="flash")
    photo = pictures.noise_png(100, 80, seed=3)
    reply = await engine.handle(EditImages(key(1), ALICE, "more forest", (ImageInput(photo, "p.png"),),
                                           workflow=Workflow(extend=parse_extend("left,right"))))
    assert reply.ok
    wire = gemini.requests[-1]
    [sent] = wire.input_images
    with Image.open(io.BytesIO(sent)) as grown, Image.open(io.BytesIO(photo)) as original:
        assert grown.size == (200, 80)
        assert grown.convert("RGB").crop((50, 0, 150, 80)).tobytes() == original.convert("RGB").tobytes()
        assert grown.convert("RGB").getpixel((10, 10)) == canvas.FILL
    assert wire.aspect_ratio == "21:9" and "left and right" in wire.prompt and "200×80" in wire.prompt
    assert reply.options.aspect_ratio == "21:9"


async def test_a_result_far_from_the_canvas_shape_is_reported(store, model, gemini):
    engine = make_engine(store, model, default_model="pro")  # no 4:1 on pro: 21:9 is its nearest
    reply = await engine.handle(EditImages(key(1), ALICE, "", (ImageInput(RED, "p.png"),),
                                           workflow=Workflow(extend=parse_extend("left:1,right:1"))))
    assert reply.ok and gemini.requests[-1].aspect_ratio == "21:9"
    assert size_of(reply.images[0].data) == dimensions("21:9", None)
    assert any("not cropped" in n and "180×40" in n for n in reply.notices)


def test_nearest_ratio_is_supported_and_closest():
    assert canvas.nearest_ratio(200, 80, ("1:1", "16:9", "21:9")) == "21:9"
    assert canvas.nearest_ratio(100, 100, ("1:1", "4:3")) == "1:1"
    assert canvas.nearest_ratio(80, 210, ("9:16", "1:4", "2:3")) == "9:16"


def test_extend_shrinks_only_when_the_canvas_would_exceed_the_models_edge():
    grown = canvas.extend(pictures.png(1000, 500), "p.png", Extend(top=1.0, bottom=1.0), max_edge=2000)
    assert (grown.width, grown.height) == (1000, 1500) and grown.box == (0, 500, 1000, 500)
    shrunk = canvas.extend(pictures.png(1000, 500), "p.png", Extend(left=1.0, right=1.0), max_edge=1500)
    assert max(shrunk.width, shrunk.height) <= 1500 and shrunk.box[2] == 500


def test_plan_refuses_mixing_the_last_image_flags():
    with pytest.raises(BadInput, match="not both"):
        edits.plan("x", (ImageInput(RED), ImageInput(BLUE)), Workflow(mask=True, style_ref=True), None, ("1:1",), 2048)
