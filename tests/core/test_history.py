"""History re-shaped for a change of model: another model's signatures and thoughts go, its images stay."""

from core.history import for_model

PRO, FLASH = "gemini-3-pro-image", "gemini-nano-banana-2.1"


def user(text):
    return {"role": "user", "parts": [{"text": text}]}


def answer(image: bytes, signature: bytes | None = b"sig", thought_image: bool = False):
    parts = [{"text": "planning", "thought": True}]
    if thought_image:
        parts.append({"inline_data": {"mime_type": "image/png", "data": b"draft"}, "thought": True})
    part = {"inline_data": {"mime_type": "image/png", "data": image}}
    if signature:
        part["thought_signature"] = signature
    return {"role": "model", "parts": [{"text": "here it is"}, *parts, part]}


def test_the_same_model_gets_its_turns_verbatim():
    history = [user("a fox"), answer(b"png1"), user("at night"), answer(b"png2")]
    assert for_model(history, [PRO, PRO], PRO) == history


def test_another_models_turns_lose_signatures_and_thoughts_and_keep_their_images():
    history = [user("a fox"), answer(b"png1", thought_image=True), user("at night"), answer(b"png2", b"mine")]
    shaped = for_model(history, [PRO, FLASH], FLASH)
    assert shaped[0] == history[0] and shaped[2:] == history[2:]  # the new model's own turn is untouched
    parts = shaped[1]["parts"]
    assert parts == [{"text": "here it is"}, {"inline_data": {"mime_type": "image/png", "data": b"png1"}}]
    assert "thought_signature" in history[1]["parts"][-1]  # the stored turn itself is not changed


def test_models_align_with_the_newest_turns_when_the_window_dropped_older_ones():
    history = [user("at night"), answer(b"png2")]
    assert for_model(history, [FLASH, PRO], PRO) == history  # the window holds only the PRO turn


def test_a_turn_of_nothing_but_thoughts_is_dropped_whole():
    thoughts = {"role": "model", "parts": [{"text": "hmm", "thought": True, "thought_signature": b"s"}]}
    history = [user("a fox"), thoughts, user("again"), answer(b"png")]
    shaped = for_model(history, [PRO, PRO], FLASH)
    assert [c["role"] for c in shaped] == ["user", "model"] and shaped[0] == user("again")
