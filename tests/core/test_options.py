"""Per-model capabilities and the `--ar/--size/--model` flag parser."""

import pytest

from core.events import Options
from core.failures import UnsupportedOption
from core.options import MODELS, check, check_inputs, dimensions, parse_flags, resolve_model

FLASH, FLASH31, PRO = "gemini-2.5-flash-image", "gemini-3.1-flash-image", "gemini-3-pro-image"
NEWEST_FLASH = "gemini-nano-banana-2.1"
TEN = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]


def test_ratio_tables_follow_googles_published_lists():
    assert list(MODELS[FLASH].ratios) == TEN
    assert list(MODELS[PRO].ratios) == TEN
    assert sorted(MODELS[FLASH31].ratios) == sorted(TEN + ["1:4", "4:1", "1:8", "8:1"])


def test_size_tables_and_input_limits():
    assert MODELS[FLASH].sizes == ()
    assert MODELS[PRO].sizes == ("1K", "2K", "4K")
    assert MODELS[FLASH31].sizes == ("512px", "1K", "2K", "4K")
    assert (MODELS[FLASH].max_inputs, MODELS[PRO].max_inputs, MODELS[FLASH31].max_inputs) == (3, 14, 14)


@pytest.mark.parametrize("alias,name", [("flash", NEWEST_FLASH), ("flash-2.5", FLASH),
                                        ("pro", PRO), ("flash-3.1", FLASH31), ("PRO", PRO),
                                        (FLASH31, FLASH31)])
def test_short_aliases(alias, name):
    assert resolve_model(alias).name == name


def test_unknown_model_names_the_choices():
    with pytest.raises(UnsupportedOption) as info:
        resolve_model("dall-e")
    assert FLASH in info.value.message and PRO in info.value.message


def test_flags_are_stripped_from_the_prompt():
    prompt, options = parse_flags("a red fox --ar 16:9 in the snow --size 2k --model pro")
    assert prompt == "a red fox in the snow"
    assert options == Options(model="pro", aspect_ratio="16:9", image_size="2K")  # the engine resolves it


def test_flag_forms():
    assert parse_flags("x --ar=4:3")[1].aspect_ratio == "4:3"
    assert parse_flags("x --size 512")[1].image_size == "512px"
    assert parse_flags("no flags here")[1] == Options()


@pytest.mark.parametrize("text,needle", [("x --ar wide", "W:H"), ("x --size 3K", "512px, 1K, 2K or 4K"),
                                         ("x --ar", "needs a value"),
                                         ("x -m", "`--model` needs a value"),
                                         ("x --model --ar 16:9", "`--model` needs a value"),
                                         ("x --size --model pro", "`--size` needs a value")])
def test_malformed_flags_are_explained(text, needle):
    with pytest.raises(UnsupportedOption) as info:
        parse_flags(text)
    assert needle in info.value.message


def test_unsupported_ratio_names_what_the_model_supports():
    with pytest.raises(UnsupportedOption) as info:
        check(Options(aspect_ratio="8:1"), FLASH)
    assert "8:1" in info.value.message and "21:9" in info.value.message
    assert check(Options(aspect_ratio="8:1", model="flash-3.1"), FLASH).aspect_ratio == "8:1"


def test_size_on_a_model_without_sizes_points_to_one_with_them():
    with pytest.raises(UnsupportedOption) as info:
        check(Options(image_size="2K"), FLASH)
    assert "--model pro" in info.value.message
    with pytest.raises(UnsupportedOption) as info:
        check(Options(image_size="512px", model="pro"), FLASH)
    assert "1K 2K 4K" in info.value.message


def test_check_fills_in_the_default_model_and_upper_cases_sizes():
    assert check(Options(image_size="4k"), PRO) == Options(model=PRO, image_size="4K")


def test_input_image_limit():
    check_inputs(3, FLASH)
    with pytest.raises(UnsupportedOption) as info:
        check_inputs(4, FLASH)
    assert "at most 3" in info.value.message
    check_inputs(14, PRO)


def test_dimensions_follow_the_tables():
    assert dimensions("16:9", None) == (1376, 768)
    assert dimensions("1:1", "2K") == (2048, 2048)
    assert dimensions(None, None) == (1024, 1024)
