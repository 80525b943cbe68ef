"""History re-shaped for the model that runs the next turn.

Thought signatures are bound to the model that issued them: Gemini 3 rejects or ignores one made by another model.
When a thread changes model (a `--model` flag, a retirement), the earlier turns of another model are sent without
their signatures and thought parts; their images stay, as plain inline images, so the new turn still builds on the
last picture.
"""

from __future__ import annotations

from typing import Any

Content = dict[str, Any]


def for_model(history: list[Content], models: list[str], model: str) -> list[Content]:
    """`history` (user and model contents in pairs, oldest first) for `model`, given the model of each pair.

    `models` names the model of each stored turn, oldest first; when it is longer than the history (the window
    dropped older turns) its newest entries belong to the pairs. A pair whose model answer is nothing but thoughts
    is dropped whole, so the user and model roles keep alternating.
    """
    pairs = [history[i:i + 2] for i in range(0, len(history), 2)]
    owners = models[len(models) - len(pairs):] if len(models) >= len(pairs) else [""] * len(pairs)
    shaped: list[Content] = []
    for pair, owner in zip(pairs, owners, strict=True):
        if owner == model:
            shaped += pair
            continue
        kept = [_unsigned(content) for content in pair]
        if all(content.get("parts") for content in kept):
            shaped += kept
    return shaped


def _unsigned(content: Content) -> Content:
    parts = [
        {key: value for key, value in part.items() if key != "thought_signature"}
        for part in content.get("parts") or ()
        if not part.get("thought")
    ]
    return {**content, "parts": parts}
