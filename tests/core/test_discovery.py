"""Discovery: models.list through the real client against the emulator, matched against the catalogue."""

import logging

from core.catalogue import MODELS
from core.discovery import discover, match
from core.events import Options
from core.generation import ListedModel
from core.lineup import Lineup
from tests.emulators.gemini import Status

FLASH, PRO, LITE, OLD = "gemini-nano-banana-2.1", "gemini-3-pro-image", "gemini-3.1-flash-lite-image", \
    "gemini-3.1-flash-image"


def listed(*ids: str) -> list[ListedModel]:
    return [ListedModel(i, i, ("generateContent", "countTokens")) for i in ids]


async def test_list_models_reads_every_page(model, gemini):
    gemini.page_size = 2
    gemini.offered = [FLASH, PRO, LITE]
    models = await model.list_models()
    assert [m.id for m in models] == [FLASH, PRO, LITE, "gemini-3.5-flash", "text-embedding-005"]
    assert gemini.list_calls == 3 and "generateContent" in models[0].methods


def test_a_key_without_the_default_uses_the_best_offered_model_and_says_which():
    lineup, problems = match(listed(OLD, PRO, "gemini-3.5-flash"), "flash")
    assert lineup.resolve(None).model.id == OLD  # the newest flash this key offers
    assert problems[0] == (f"the configured default model {FLASH} is not offered to this API key: "
                           f"using {OLD} ({MODELS[OLD].label}) instead")
    missing = [p for p in problems if "not offered to this API key" in p and "is in the catalogue" in p]
    assert {p.split()[0] for p in missing} == {FLASH, LITE, "gemini-2.5-flash-image"}
    assert [m.id for m in lineup.usable()] == [PRO, OLD]  # GA before deprecated


def test_short_names_follow_what_the_key_offers():
    lineup, _ = match(listed(OLD, PRO), "pro")
    assert lineup.resolve("flash").model.id == OLD and lineup.resolve("flash").reason is None
    named = lineup.resolve("lite")
    assert named.model.id != LITE and "No `lite` model" in (named.notice() or "")
    chosen, notice = lineup.check(Options(model=FLASH, aspect_ratio="8:1"))
    assert chosen == Options(model=OLD, aspect_ratio="8:1") and f"`{FLASH}` is not offered" in (notice or "")
    chosen, _ = lineup.check(Options(model="lite", aspect_ratio="8:1", image_size="512px"))
    assert chosen == Options(model=OLD, aspect_ratio="8:1", image_size="512px")  # a missing family falls to flash


def test_an_unknown_image_model_is_usable_with_conservative_settings():
    offered = listed(FLASH, "gemini-4-flash-image", "imagen-5.0-generate-001", "gemini-3.5-flash")
    lineup, problems = match(offered, FLASH)
    unknown = lineup.info("gemini-4-flash-image")
    assert not unknown.known and unknown.sizes == () and unknown.max_inputs == 3
    assert [m.id for m in lineup.usable()] == [FLASH, "gemini-4-flash-image"]
    assert lineup.resolve("gemini-4-flash-image").model == unknown
    assert any("gemini-4-flash-image is offered but not in the catalogue" in p for p in problems)
    assert not any("imagen-5" in p or "3.5-flash is" in p for p in problems)  # not image models for generateContent


async def test_discovery_against_the_emulator_logs_one_line_per_problem(model, gemini, caplog):
    gemini.offered = [PRO, LITE]
    with caplog.at_level(logging.WARNING, logger="core.discovery"):
        lineup = await discover(model, FLASH)
    assert lineup.resolve(None).model.id == LITE  # no flash offered: the newest GA model of another family
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith(f"models: the configured default model {FLASH} is not offered")
    assert len([line for line in lines if "is in the catalogue but not offered" in line]) == 3


async def test_a_failed_models_list_keeps_the_catalogue_and_the_bot_going(model, gemini, caplog):
    gemini.list_error = Status(403, message="permission denied")
    with caplog.at_level(logging.WARNING, logger="core.discovery"):
        lineup = await discover(model, "pro")
    assert lineup.resolve(None).model.id == PRO
    assert {m.id for m in lineup.usable()} == {m.id for m in Lineup().usable()}
    assert any("models.list failed" in r.getMessage() for r in caplog.records)

