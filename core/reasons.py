"""Why Gemini stopped, in words a user understands: one table for both API paths (generateContent and
Interactions), keyed by Gemini's own block and finish reason codes."""

from __future__ import annotations

# Why Gemini stopped, in words a user understands; keys are Gemini's own codes (block or finish reasons).
REASONS = {
    "SAFETY": "Gemini's safety filters flagged the request or its answer",
    "IMAGE_SAFETY": "the generated image was stopped by Gemini's image safety filter",
    "PROHIBITED_CONTENT": "it asks for content Google's usage policy prohibits",
    "IMAGE_PROHIBITED_CONTENT": "the image would show content Google's usage policy prohibits",
    "RECITATION": "the answer was too close to existing (possibly copyrighted) material",
    "IMAGE_RECITATION": "the image was too close to existing (possibly copyrighted) material",
    "BLOCKLIST": "the prompt contains blocked terms",
    "SPII": "the answer would reveal sensitive personal information",
    "JAILBREAK": "the prompt looks like an attempt to get around the safety rules",
    "MODEL_ARMOR": "a Model Armor policy blocked it",
    "IMAGE_OTHER": "image generation stopped without a specific reason (often a safety filter)",
    "NO_IMAGE": "the model produced no image for this prompt",
    "OTHER": "Gemini stopped without giving a specific reason",
    "MAX_TOKENS": "the answer ran out of room before an image was made",
    "MISSING_THOUGHT_SIGNATURE": "the conversation history was missing Gemini's thought signature",
    "MALFORMED_RESPONSE": "Gemini produced a malformed answer",
    "LANGUAGE": "the prompt's language is not supported",
}
BLOCKING = {
    "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "RECITATION", "IMAGE_RECITATION",
    "BLOCKLIST", "SPII", "JAILBREAK", "MODEL_ARMOR", "IMAGE_OTHER",
}


def explain(reason: str) -> str:
    return REASONS.get(reason, f"Gemini stopped with {reason}")
