"""The workflow flags: parsed once for every platform and removed from the prompt."""

import pytest

from core.events import Extend, Options, Workflow
from core.failures import UnsupportedOption
from core.flags import parse_extend, parse_request, story_panels


def test_flags_are_taken_out_of_the_prompt():
    prompt, options, workflow = parse_request('a car --region "the blue car" --n 3 --ar 16:9 in the rain')
    assert prompt == "a car in the rain" and options == Options(aspect_ratio="16:9")
    assert workflow == Workflow(n=3, region="the blue car")
    assert parse_request("x --region the sky --style-ref")[2] == Workflow(region="the sky", style_ref=True)
    assert parse_request("fill it --mask --model pro")[1:] == (Options(model="pro"), Workflow(mask=True))


def test_extend_sides_and_amounts():
    assert parse_extend("left,right:0.3") == Extend(left=0.5, right=0.3)
    assert parse_extend("all:0.25") == Extend(0.25, 0.25, 0.25, 0.25)
    assert parse_request("wider --extend top:1")[2].extend == Extend(top=1.0)


@pytest.mark.parametrize(("text", "says"), [
    ("x --n 7", "2 to 4 variants"),
    ("x --n two", "2 to 4 variants"),
    ("x --extend middle", "`middle` is not a side"),
    ("x --extend left:2", "0.1 to 1.0"),
    ("x --region", "needs a value"),
    ('x --region ""', "needs the part to change"),
])
def test_bad_flags_say_what_is_supported(text, says):
    with pytest.raises(UnsupportedOption, match=says):
        parse_request(text)


def test_story_panels():
    assert story_panels("8") == 8
    for bad in ("1", "9", "x"):
        with pytest.raises(UnsupportedOption, match="2 to 8 panels"):
            story_panels(bad)
