"""The model catalogue: lifecycle, short names, retired names, and the prices read from it."""

import pytest

from core import catalogue
from core.catalogue import DEFAULT_MODEL, GA, MODELS, RETIRED_NAMES
from core.costs import DEFAULT_PRICES, Prices, parse_overrides
from core.failures import UnsupportedOption
from core.lineup import Lineup
from core.options import resolve_model

CURRENT = ("gemini-nano-banana-2.1", "gemini-3.1-flash-image", "gemini-3-pro-image", "gemini-3.1-flash-lite-image",
           "gemini-2.5-flash-image")


def test_the_catalogue_covers_todays_models_with_a_lifecycle_status():
    assert set(MODELS) == set(CURRENT)
    assert {m.status for m in MODELS.values()} <= {"GA", "deprecated", "restricted", "retired"}
    assert MODELS["gemini-3.1-flash-image"].status == "deprecated"
    assert MODELS["gemini-2.5-flash-image"].status == "restricted"
    assert MODELS[DEFAULT_MODEL].status == GA


@pytest.mark.parametrize("short,model", [("flash", "gemini-nano-banana-2.1"), ("pro", "gemini-3-pro-image"),
                                         ("lite", "gemini-3.1-flash-lite-image"), ("FLASH", "gemini-nano-banana-2.1")])
def test_short_names_mean_the_newest_ga_model_of_their_family(short, model):
    assert resolve_model(short).id == model
    assert MODELS[model].status == GA
    newer = [m for m in MODELS.values() if m.family == MODELS[model].family and m.status == GA
             and m.released > MODELS[model].released]
    assert newer == []


def test_a_newer_ga_model_takes_over_its_familys_short_name():
    newest = catalogue.newest("flash", [*MODELS.values(), _row("gemini-9-flash-image", "flash", "2027-01-01")])
    assert newest is not None and newest.id == "gemini-9-flash-image"
    deprecated_only = catalogue.newest("flash", [MODELS["gemini-3.1-flash-image"], MODELS["gemini-2.5-flash-image"]])
    assert deprecated_only is not None and deprecated_only.id == "gemini-3.1-flash-image"  # before restricted


@pytest.mark.parametrize("name,model", [
    ("gemini-3.1-flash-image-preview", "gemini-nano-banana-2.1"), ("gemini-3-pro-image-preview", "gemini-3-pro-image"),
    ("gemini-2.5-flash-image-preview", "gemini-nano-banana-2.1"), ("imagen-4.0-generate-001", "gemini-nano-banana-2.1"),
    ("imagen-4.0-fast-generate-001", "gemini-nano-banana-2.1"), ("imagen-4.0-ultra-generate-001", "gemini-3-pro-image"),
    ("imagen", "gemini-nano-banana-2.1"), ("imagen-fast", "gemini-nano-banana-2.1"),
    ("imagen-ultra", "gemini-3-pro-image"),
])
def test_retired_ids_and_imagen_names_resolve_to_their_replacement_with_a_reason(name, model):
    resolution = Lineup().resolve(name)
    assert resolution.model.id == model and resolution.model.status == GA
    notice = resolution.notice()
    assert notice is not None and name in notice and model in notice


def test_names_are_unambiguous():
    names = [name for m in MODELS.values() for name in (m.id, *m.short_names)]
    assert len(names) == len(set(names))
    assert not set(names) & set(RETIRED_NAMES) and not set(names) & set(catalogue.FAMILIES)


def test_an_unknown_name_lists_what_can_be_used():
    with pytest.raises(UnsupportedOption) as info:
        resolve_model("dall-e")
    assert all(model in str(info.value) for model in CURRENT)


def test_prices_come_from_the_catalogue_per_model_and_size():
    assert set(DEFAULT_PRICES) == set(MODELS)
    assert DEFAULT_PRICES["gemini-3-pro-image"].image == {"1K": 0.134, "2K": 0.134, "4K": 0.24}
    assert DEFAULT_PRICES["gemini-3.1-flash-image"].image["512px"] == 0.045
    for row in MODELS.values():
        assert set(row.image_price) == set(row.sizes or ("1K",)) == set(row.image_tokens)
    prices = Prices()
    # a whole image's tokens cost exactly the image's price, at every size
    assert prices.cost("gemini-3.1-flash-image", "2K", 0, 1680) == pytest.approx(0.101)


def test_thinking_tokens_are_billed_as_output():
    prices = Prices()
    without = prices.cost("pro", "1K", 100, 1120)
    with_thoughts = prices.cost("pro", "1K", 100, 1120, thought_tokens=1000)
    assert with_thoughts - without == pytest.approx(1000 * 12.00 / 1e6)


def test_overrides_use_the_new_short_names():
    prices = Prices.with_overrides(parse_overrides("flash:4K=0.2, lite=0.03, pro:2K=0.15"))
    assert prices.image_price("gemini-nano-banana-2.1", "4K") == 0.2
    assert prices.image_price("gemini-3.1-flash-lite-image", None) == 0.03
    assert prices.image_price("gemini-3-pro-image", "2K") == 0.15
    assert prices.image_price("gemini-nano-banana-2.1", "1K") == MODELS["gemini-nano-banana-2.1"].image_price["1K"]
    with pytest.raises(ValueError):
        parse_overrides("lite:4K=1")  # Lite renders 1K only


def test_a_model_the_catalogue_does_not_know_is_priced_like_the_dearest():
    prices = Prices()
    dearest = max(row.image_price["1K"] for row in MODELS.values())
    assert prices.image_price("gemini-9-flash-image", None) == dearest
    assert prices.estimate("gemini-9-flash-image", None) >= max(prices.estimate(m, None) for m in MODELS)


def _row(model_id: str, family: str, released: str) -> catalogue.ModelInfo:
    base = MODELS["gemini-nano-banana-2.1"]
    return catalogue.ModelInfo(**{**base.__dict__, "id": model_id, "family": family, "released": released,
                                  "short_names": ()})
