"""Unit tests for the Slack adapter's pure translation: token host policy, mentions, button values, modals,
result messages and Slack errors."""

from __future__ import annotations

import json

import pytest

from adapters.slack.translate import (
    ACTION_DELETE,
    ACTION_REFINE,
    ACTION_REROLL,
    METADATA_LIMIT,
    FileRef,
    edit_metadata,
    escape,
    explain_slack_error,
    file_refs,
    image_refs,
    looks_like_html,
    mentions,
    modal_prompt,
    parse_edit_metadata,
    parse_turn_value,
    prompt_modal,
    result_message,
    root_text,
    strip_mentions,
    thread_key,
    token_allowed,
)
from core.events import Options, OutputImage, Reply, ThreadKey
from core.turns import upload_name, upscale_sizes

API = "http://127.0.0.1:8888/api/"


@pytest.mark.parametrize(
    ("url", "api_url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T1-F1/cat.png", None, True),
        ("https://slack.com/files-pri/T1-F1/cat.png", None, True),
        ("https://acme.enterprise.slack.com/files-pri/x", None, True),
        ("http://files.slack.com/files-pri/T1-F1/cat.png", None, False),  # never the token in clear text
        ("https://files.slack.com.evil.example/cat.png", None, False),
        ("https://evil.example/?files.slack.com", None, False),
        ("https://files.slack.com@evil.example/cat.png", None, False),
        ("https://notslack.com/cat.png", None, False),
        ("https://slack-edge.com/cat.png", None, False),
        ("http://127.0.0.1:8888/files-pri/T1-F1/cat.png", API, True),
        ("http://127.0.0.1:9999/files-pri/T1-F1/cat.png", API, False),  # another port is another service
        ("http://127.0.0.2:8888/files-pri/T1-F1/cat.png", API, False),
        ("https://127.0.0.1:8888/files-pri/T1-F1/cat.png", API, False),
        ("https://files.slack.com/files-pri/T1-F1/cat.png", API, True),
        ("https://slack-gov.com/files-pri/x", "https://slack-gov.com/api/", True),
    ],
)
def test_the_token_goes_only_to_slack_hosts_or_the_configured_api_host(
    url: str, api_url: str | None, allowed: bool
) -> None:
    assert token_allowed(url, api_url) is allowed


def test_mentions_are_found_and_stripped() -> None:
    text = "<@U0BOT> make it <b>night</b>  <@U0BOT|imagebot> --ar 16:9"
    assert mentions(text, "U0BOT") and not mentions(text, "U0OTHER") and not mentions(text, None)
    assert strip_mentions(text, "U0BOT") == "make it <b>night</b> --ar 16:9"
    assert strip_mentions("hi <@U0OTHER>", "U0BOT") == "hi <@U0OTHER>"


def test_thread_key_and_escaping() -> None:
    assert thread_key("T1", "C1", "1.2") == ThreadKey("slack", "T1", "C1", "1.2")
    assert escape("a <b> & c") == "a &lt;b&gt; &amp; c"
    root = root_text("a <fox>", "U1", Options(model="gemini-3-pro-image", aspect_ratio="16:9"))
    assert "*a &lt;fox&gt;*" in root and "<@U1>" in root and "gemini-3-pro-image · 16:9" in root


def test_files_become_refs_preferring_the_download_url() -> None:
    files = [
        {"id": "F1", "name": "cat.png", "mimetype": "image/png", "size": 10,
         "url_private": "https://files.slack.com/a", "url_private_download": "https://files.slack.com/a/download"},
        {"id": "F2", "name": "doc.pdf", "mimetype": "application/pdf", "url_private": "https://files.slack.com/b"},
        {"id": "F3", "mode": "hidden_by_limit"},
        "junk",
    ]
    refs = file_refs(files)  # type: ignore[arg-type]
    assert [r.id for r in refs] == ["F1", "F2", "F3"]
    assert refs[0] == FileRef("F1", "cat.png", "https://files.slack.com/a/download", 10, "image/png")
    assert refs[2].url is None  # looked up through files.info later
    assert [r.id for r in image_refs(files)] == ["F1", "F3"]  # type: ignore[arg-type]


def test_turn_values_round_trip_and_junk_is_refused() -> None:
    assert parse_turn_value("12") == (12, "")
    assert parse_turn_value("12:2K") == (12, "2K")
    assert parse_turn_value("7:F1,F2") == (7, "F1,F2")
    assert parse_turn_value("abc") is None and parse_turn_value(None) is None and parse_turn_value("") is None


def test_upscale_is_offered_only_above_the_current_size_on_models_with_sizes() -> None:
    assert upscale_sizes(Options(model="gemini-3-pro-image")) == ("2K", "4K")
    assert upscale_sizes(Options(model="gemini-3-pro-image", image_size="2K")) == ("4K",)
    assert upscale_sizes(Options(model="gemini-3-pro-image", image_size="4K")) == ()
    assert upscale_sizes(Options(model="gemini-2.5-flash-image")) == ()
    assert upscale_sizes(Options(model="no-such-model")) == ()


def test_result_message_carries_text_notices_and_buttons_naming_the_turn() -> None:
    reply = Reply(
        key=None, turn_id=42, images=(OutputImage(b"x", "image/png"),), text="Here <it> is",
        notices=("note",), options=Options(model="gemini-2.5-flash-image", aspect_ratio="1:1"),
    )
    text, blocks = result_message(reply, "U1")
    assert "Here &lt;it&gt; is" in text and "note" in text and "<@U1>" in text
    actions = blocks[-1]
    assert [e["action_id"] for e in actions["elements"]] == [ACTION_REROLL, ACTION_REFINE, ACTION_DELETE]
    assert [e["value"] for e in actions["elements"]] == ["42", "42", "42"]
    assert actions["elements"][-1]["confirm"]["style"] == "danger"
    _, no_turn = result_message(Reply(key=None, options=Options()), None)
    assert all(b["type"] != "actions" for b in no_turn)


def test_prompt_modal_and_its_submitted_value() -> None:
    view = prompt_modal("cb", "A title much longer than Slack allows", "What?", "meta")
    assert len(view["title"]["text"]) <= 24 and view["private_metadata"] == "meta"
    submitted = {"state": {"values": {"prompt": {"text": {"type": "plain_text_input", "value": "make it night"}}}}}
    assert modal_prompt(submitted) == "make it night" and modal_prompt({}) == ""


def test_edit_metadata_round_trips_and_stays_within_slacks_limit() -> None:
    refs = [FileRef("F1", "cat.png", "https://files.slack.com/x", 5, "image/png")]
    assert parse_edit_metadata(edit_metadata("C1", "1.2", refs)) == ("C1", "1.2", refs)
    long = [FileRef(f"F{i}", "x.png", "https://files.slack.com/" + "a" * 400, 1, "image/png") for i in range(10)]
    raw = edit_metadata("C1", "1.2", long)
    assert len(raw) <= METADATA_LIMIT
    channel, thread, back = parse_edit_metadata(raw)
    assert (channel, thread) == ("C1", "1.2") and [r.id for r in back] == [r.id for r in long]
    assert all(r.url is None for r in back)  # fetched by id (files.info) on submit
    with pytest.raises((ValueError, KeyError)):
        parse_edit_metadata(json.dumps({"x": 1}))


def test_slack_errors_name_the_cause_and_the_remedy() -> None:
    assert "`files:write` scope" in explain_slack_error("missing_scope", "files:write")
    assert "/invite" in explain_slack_error("not_in_channel")
    assert "rate-limiting" in explain_slack_error("ratelimited")
    assert "weird_error" in explain_slack_error("weird_error")


def test_html_is_told_apart_and_upload_names_follow_the_type() -> None:
    assert looks_like_html(b"  <!DOCTYPE html><html>") and looks_like_html(b"", "text/html; charset=utf-8")
    assert not looks_like_html(b"\x89PNG\r\n", "image/png")
    assert upload_name(3, 0, "image/jpeg") == "gemini-3-1.jpg" and upload_name(None, 1, "x/y") == "gemini-0-2.png"
