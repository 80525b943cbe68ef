"""Unit tests of the Discord adapter's pure rules: keys, custom_ids, captions, names, attachment checks."""

from __future__ import annotations

import re

import pytest

from adapters.discord.translate import (
    BUTTON_TEMPLATE,
    CANCEL_TEMPLATE,
    DEFAULT_UPLOAD_LIMIT,
    AttachmentInfo,
    button_id,
    cancel_id,
    caption,
    check_attachment,
    download_url,
    edit_modal_id,
    failure_text,
    model_choices,
    parse_modal_id,
    prompt_text,
    ratio_choices,
    refine_modal_id,
    result_actions,
    size_choices,
    thread_key,
    thread_name,
    turn_of,
    upload_limit,
)
from adapters.discord.views import modal_value
from core.events import Options, ThreadKey
from core.failures import BadInput, Blocked
from core.options import MODELS
from core.turns import upload_name, upscale_sizes

FLASH, FLASH3, PRO = "gemini-2.5-flash-image", "gemini-3.1-flash-image", "gemini-3-pro-image"


def info(url: str = "https://cdn.discordapp.com/attachments/1/2/a.png", **kw: object) -> AttachmentInfo:
    values: dict = {"filename": "a.png", "size": 1000, "url": url, "proxy_url": url, "content_type": "image/png"}
    values.update(kw)
    return AttachmentInfo(**values)


def test_thread_key_names_guild_parent_and_thread_or_dm() -> None:
    assert thread_key(1, 2, 3) == ThreadKey("discord", "1", "2", "3")
    assert thread_key(None, 7, 9) == ThreadKey("discord", "dm", "7", "9")


def test_choices_fit_discord_limits_and_cover_every_model() -> None:
    ratios = ratio_choices()
    assert len(ratios) <= 25 and len(set(ratios)) == len(ratios)
    assert all(r in ratios for spec in MODELS.values() for r in spec.ratios)
    assert size_choices() == ["512px", "1K", "2K", "4K"]
    assert [name for _, name in model_choices()] == list(MODELS) and all(len(lbl) <= 100 for lbl, _ in model_choices())


@pytest.mark.parametrize(
    ("options", "sizes"),
    [
        (Options(FLASH), []),
        (Options(PRO), ["2K", "4K"]),
        (Options(PRO, image_size="2K"), ["4K"]),
        (Options(FLASH3, image_size="4K"), []),
        (Options(FLASH3, image_size="512px"), ["2K", "4K"]),
        (Options(None), []),
    ],
)
def test_upscale_offers_only_larger_sizes_the_model_renders(options: Options, sizes: list[str]) -> None:
    assert list(upscale_sizes(options)) == sizes


def test_result_buttons_and_their_custom_ids_round_trip() -> None:
    assert result_actions(Options(PRO), has_image=True) == ["reroll", "refine", "up-2K", "up-4K", "delete"]
    assert result_actions(Options(PRO), has_image=False) == ["reroll", "refine", "delete"]
    for action in result_actions(Options(PRO), True):
        match = re.fullmatch(BUTTON_TEMPLATE, button_id(action, 42))
        assert match and (match["action"], match["turn"]) == (action, "42")
        assert len(button_id(action, 2**63)) <= 100
    assert re.fullmatch(CANCEL_TEMPLATE, cancel_id(123, "456"))
    assert turn_of(["gib:cancel:1:2", "other", button_id("refine", 17)]) == 17 and turn_of(["x"]) is None


def test_modal_ids_parse_back_and_foreign_ones_are_ignored() -> None:
    assert parse_modal_id(refine_modal_id(5)) == ("refine", (5,))
    assert parse_modal_id(edit_modal_id(10, 20)) == ("edit", (10, 20))
    assert parse_modal_id("someone-elses-modal") is None and parse_modal_id("gib:refine-modal:x") is None


def test_modal_value_reads_action_rows_and_labels() -> None:
    rows = {"components": [{"type": 1, "components": [{"type": 4, "custom_id": "prompt", "value": "make it red"}]}]}
    labels = {"components": [{"type": 18, "component": {"type": 4, "custom_id": "prompt", "value": "blue"}}]}
    assert modal_value(rows) == "make it red" and modal_value(labels) == "blue" and modal_value({}) == ""


def test_caption_names_prompt_model_ratio_size_and_requester_within_2000_characters() -> None:
    text = caption("a *bold* fox", Options(PRO, "16:9", "2K"), 99, "Here you go.", ("a notice",))
    assert text.splitlines() == [
        r"**a \*bold\* fox**",
        "Nano Banana Pro (3 Pro Image) · 16:9 · 2K · requested by <@99>",
        "Here you go.",
        "-# a notice",
    ]
    assert len(caption("word " * 2000, Options(FLASH), 1, "x" * 5000)) <= 2000


def test_thread_names_come_from_the_prompt_within_100_characters() -> None:
    assert thread_name("  a red\n fox  ") == "a red fox"
    assert thread_name("") == "Image"
    long = thread_name("lighthouse " * 30)
    assert len(long) <= 100 and long.endswith("lighthouse…")
    assert len(thread_name("x" * 300)) == 100


def test_prompt_text_drops_the_bot_mention_and_names_other_people() -> None:
    assert prompt_text("<@1> make <@!2> a pirate <@&9>", 1, {2: "alice"}, 9) == "make @alice a pirate"
    assert prompt_text("<@!1>", 1) == ""


def test_downloads_only_from_discords_cdn_or_the_configured_api_host() -> None:
    assert download_url(info(), None) == "https://cdn.discordapp.com/attachments/1/2/a.png"
    media = "https://media.discordapp.net/attachments/1/2/a.png"
    assert download_url(info("https://evil.example/a.png", proxy_url=media), None) == media
    assert download_url(info("http://cdn.discordapp.com/a.png"), None) is None  # not over plain HTTP
    assert download_url(info("https://cdn.discordapp.com.evil.example/a.png"), None) is None
    local = "http://127.0.0.1:8080/attachments/a.png"
    assert download_url(info(local), "http://127.0.0.1:8080/api/v10") == local
    assert download_url(info("http://127.0.0.1:9999/attachments/a.png"), "http://127.0.0.1:8080/api/v10") is None
    assert download_url(info(local), None) is None


def test_attachment_checks_happen_before_download_with_the_reason() -> None:
    with pytest.raises(BadInput, match=r"21\.0 MiB; images up to 20 MiB"):
        check_attachment(info(size=21 * 1024 * 1024), None)
    with pytest.raises(BadInput, match=r"not an image \(application/pdf\)"):
        check_attachment(info(filename="a.pdf", content_type="application/pdf"), None)
    with pytest.raises(BadInput, match="not stored on Discord's CDN"):
        check_attachment(info("https://example.com/a.png"), None)
    with pytest.raises(BadInput, match="empty"):
        check_attachment(info(size=0), None)
    assert check_attachment(info(filename="b.JPG", content_type=None), None).startswith("https://cdn.")


def test_upload_limit_prefers_the_interaction_then_the_guild_then_10_mib() -> None:
    assert upload_limit(25, 50) == 25 and upload_limit(None, 50) == 50 and upload_limit() == DEFAULT_UPLOAD_LIMIT
    assert upload_name(3, 0, "image/jpeg") == "gemini-3-1.jpg" and upload_name(None, 1, "x") == "gemini-0-2.png"


def test_failures_read_as_their_message_with_a_mark() -> None:
    blocked = Blocked("Gemini would not make this image (IMAGE_SAFETY): … Rephrase it.", reason="IMAGE_SAFETY")
    assert failure_text(blocked).startswith("🚫 Gemini would not make this image (IMAGE_SAFETY)")
    assert failure_text(BadInput("x" * 3000)).endswith("…") and len(failure_text(BadInput("x" * 3000))) == 2000
