"""Our stored turns in the Interactions wire shape and back, checked with google-genai's own types."""

import base64

import pytest
from google.genai import interactions as gi

from bot.offline_interactions import input_contents
from core.failures import Blocked, NoImage
from core.interactions import create_args, read_interaction, to_steps

PNG = b"\x89PNG\r\n\x1a\nfake"
TURNS = [
    {"role": "user", "parts": [{"text": "a fox"}, {"inline_data": {"mime_type": "image/jpeg", "data": b"jpeg"}}]},
    {"role": "model", "parts": [
        {"text": "Planning the composition.", "thought": True},
        {"text": "Here it is."},
        {"inline_data": {"mime_type": "image/png", "data": PNG}, "thought_signature": b"sig-1"},
    ]},
    {"role": "user", "parts": [{"text": "make it night"}]},
]


def test_turns_survive_the_sdk_request_type_both_ways():
    args = create_args("gemini-3-pro-image", TURNS, "16:9", "2K", store=True, previous=None)
    create = gi.CreateModelInteraction.model_validate(args)  # the SDK accepts what we send
    assert [getattr(s, "type", None) for s in create.input] == ["user_input", "thought", "model_output", "user_input"]
    back = input_contents(create.input)
    assert back[0] == TURNS[0] and back[2] == TURNS[2]
    model = back[1]["parts"]
    assert model[0] == {"text": "Planning the composition.", "thought": True} and model[1] == {"text": "Here it is."}
    assert model[2]["inline_data"]["data"] == PNG and base64.b64decode(model[2]["thought_signature"]) == b"sig-1"
    assert args["response_format"] == [{"type": "text"}, {"type": "image", "aspect_ratio": "16:9", "image_size": "2K"}]


def test_a_chained_turn_is_one_step_with_the_previous_id():
    args = create_args("m", TURNS[2:], None, None, store=True, previous="interaction-7")
    assert args["previous_interaction_id"] == "interaction-7" and to_steps(TURNS[2:]) == args["input"]
    assert args["input"] == [{"type": "user_input", "content": [{"type": "text", "text": "make it night"}]}]


def test_an_answer_reads_into_content_with_the_signature_on_its_image():
    interaction = gi.Interaction.model_validate({
        "id": "interaction-9", "status": "completed",
        "steps": [
            {"type": "thought", "signature": base64.b64encode(b"sig-2").decode(),
             "summary": [{"type": "text", "text": "Thinking."}]},
            {"type": "model_output", "content": [{"type": "text", "text": "Done."},
                                                 {"type": "image", "mime_type": "image/png",
                                                  "data": base64.b64encode(PNG).decode()}]},
        ],
        "usage": {"total_input_tokens": 3, "total_output_tokens": 5, "total_thought_tokens": 7, "total_tokens": 15},
    })
    content, images, text, usage, interaction_id = read_interaction(interaction, stored=True)
    assert content["parts"] == [{"text": "Thinking.", "thought": True}, {"text": "Done."},
                                {"inline_data": {"mime_type": "image/png", "data": PNG}, "thought_signature": b"sig-2"}]
    assert [i.data for i in images] == [PNG] and text == "Done." and interaction_id == "interaction-9"
    assert usage == {"prompt": 3, "output": 5, "thought": 7, "total": 15}
    assert read_interaction(interaction, stored=False)[4] is None  # store=false: nothing to continue from


@pytest.mark.parametrize("body,failure,reason", [
    ({"status": "failed", "errors": [{"code": "prohibited_content", "message": "blocked"}]}, Blocked,
     "PROHIBITED_CONTENT"),
    ({"status": "incomplete", "steps": [{"type": "model_output", "content": [],
                                         "error": {"code": 3, "details": [{"reason": "IMAGE_SAFETY"}]}}]},
     Blocked, "IMAGE_SAFETY"),
    ({"status": "incomplete"}, NoImage, "INCOMPLETE"),
    ({"status": "completed", "steps": []}, NoImage, "NO_IMAGE"),
])
def test_answers_without_an_image_say_why(body, failure, reason):
    with pytest.raises(failure) as info:
        read_interaction(gi.Interaction.model_validate({"id": "x", **body}), stored=True)
    assert info.value.reason == reason and reason in info.value.message
