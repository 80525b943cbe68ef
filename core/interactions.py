"""The Interactions API path of the Gemini model (`client.aio.interactions.create`).

Our history is Gemini `Content` (what generateContent speaks, and what the store keeps). This module translates
it to the Interactions wire shape (steps: `user_input`, `thought`, `model_output`) and reads an `Interaction`
back into the same `Generation` / `Failure` values as the generateContent path, so users see the same results.

A turn with a usable chain sends only the new message and `previous_interaction_id`; when Gemini no longer knows
that interaction (expired, forgotten), the same request goes again at once with our own window instead.
"""

from __future__ import annotations

import base64
import logging
from typing import TYPE_CHECKING, Any

from google.genai import _interactions as gi_errors
from google.genai import errors as genai_errors

from core.events import OutputImage
from core.failures import Blocked, NoImage
from core.generation import Content, GenerateRequest
from core.reasons import BLOCKING, explain  # the one table of reasons, shared with generateContent

if TYPE_CHECKING:
    from google import genai


log = logging.getLogger(__name__)


# The Interactions API's string error codes, as the gRPC status names the rest of the bot (and users) know.
STATUS_NAMES = {
    "invalid_request": "INVALID_ARGUMENT",
    "parameter_unknown": "INVALID_ARGUMENT",
    "failed_precondition": "FAILED_PRECONDITION",
    "authentication": "UNAUTHENTICATED",
    "permission_denied": "PERMISSION_DENIED",
    "not_found": "NOT_FOUND",
    "model_not_found": "NOT_FOUND",
    "rate_limit_exceeded": "RESOURCE_EXHAUSTED",
    "quota_exceeded": "RESOURCE_EXHAUSTED",
    "api_error": "INTERNAL",
    "unavailable": "UNAVAILABLE",
    "deadline_exceeded": "DEADLINE_EXCEEDED",
    "unimplemented": "UNIMPLEMENTED",
}
UNSUPPORTED_WORDS = ("not supported", "unsupported", "not available for", "not enabled for")


class Unsupported(Exception):
    """The Interactions API refused the request as unsupported (for this model, key or backend)."""


def _b64(data: bytes | str) -> str:
    return data if isinstance(data, str) else base64.b64encode(data).decode()


def _unb64(data: bytes | str) -> bytes:
    if isinstance(data, bytes):
        return data
    padded = data + "=" * (-len(data) % 4)
    return base64.urlsafe_b64decode(padded) if "-" in data or "_" in data else base64.b64decode(padded)


def _kind(mime: str) -> str:
    if mime.startswith(("image/", "video/", "audio/")):
        return mime.split("/", 1)[0]
    return "document"


def _items(parts: list[dict], *, thoughts: bool = False) -> list[dict]:
    """Non-thought parts (or, with `thoughts`, the thought parts) as Interactions content items."""
    items: list[dict] = []
    for part in parts:
        if bool(part.get("thought")) != thoughts:
            continue
        if part.get("text"):
            items.append({"type": "text", "text": part["text"]})
        inline = part.get("inline_data")
        if inline and inline.get("data"):
            mime = inline.get("mime_type") or "image/png"
            items.append({"type": _kind(mime), "data": _b64(inline["data"]), "mime_type": mime})
        uploaded = part.get("file_data")
        if uploaded and uploaded.get("file_uri"):  # a Files API upload, referred to by URI
            mime = uploaded.get("mime_type") or "video/mp4"
            items.append({"type": _kind(mime), "uri": uploaded["file_uri"], "mime_type": mime})
    return items


def to_steps(contents: list[Content]) -> list[dict]:
    """Our stored turns as Interactions input steps; a model turn's thoughts and signatures go in `thought` steps."""
    steps: list[dict] = []
    for content in contents:
        parts = content.get("parts") or []
        if content.get("role") != "model":
            steps.append({"type": "user_input", "content": _items(parts)})
            continue
        summary = _items(parts, thoughts=True)  # thought text and interim thought images, as Gemini sent them
        signatures = [p["thought_signature"] for p in parts if p.get("thought_signature")]
        for n, signature in enumerate(signatures or ([None] if summary else [])):
            thought: dict[str, Any] = {"type": "thought"}
            if signature is not None:
                thought["signature"] = _b64(signature)
            if summary and n == 0:
                thought["summary"] = summary
            steps.append(thought)
        steps.append({"type": "model_output", "content": _items(parts)})
    return steps


def controls(request: GenerateRequest) -> dict[str, Any]:
    """The request's search tool, thinking and system instruction as `interactions.create` arguments."""
    args: dict[str, Any] = {}
    if request.search in ("web", "images"):
        kinds = ["web_search"] + (["image_search"] if request.search == "images" else [])
        args["tools"] = [{"type": "google_search", "search_types": kinds}]
    config: dict[str, Any] = {}
    if request.thinking_level:
        config["thinking_level"] = request.thinking_level
    if request.include_thoughts:
        config["thinking_summaries"] = "auto"
    if config:
        args["generation_config"] = config
    if request.system_instruction:
        args["system_instruction"] = request.system_instruction
    return args


def create_args(model: str, contents: list[Content], aspect_ratio: str | None, image_size: str | None,
                *, store: bool, previous: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The keyword arguments of `interactions.create` for one turn (`contents` ends with the new message)."""
    image: dict[str, Any] = {"type": "image"}
    if aspect_ratio:
        image["aspect_ratio"] = aspect_ratio
    if image_size:
        image["image_size"] = image_size
    args: dict[str, Any] = {
        "model": model,
        "input": to_steps(contents),
        "response_format": [{"type": "text"}, image],
        "store": store,
    }
    if previous is not None:
        args["previous_interaction_id"] = previous
    return {**args, **(extra or {})}


async def create(client: genai.Client, request: GenerateRequest, image_size: str | None, *, store: bool) -> Any:
    """One turn: the chain when it can be used, else (or when Gemini no longer has it) our window.

    Raises `Unsupported` when the endpoint refuses this model, key or backend, and google-genai's `APIError` for
    any other HTTP error, so that one mapping (`api_failure`) serves both paths.
    """
    previous = request.previous_interaction_id if store else None
    contents = [request.message] if previous else [*await request.window(), request.message]
    extra = controls(request)
    try:
        try:
            return await client.aio.interactions.create(**create_args(
                request.model, contents, request.aspect_ratio, image_size, store=store, previous=previous, extra=extra))
        except gi_errors.APIStatusError as exc:
            if not (previous and chain_gone(exc)):
                raise
            log.info("Gemini no longer has interaction %s; sending our own window instead", previous)
            previous = None
            return await client.aio.interactions.create(**create_args(
                request.model, [*await request.window(), request.message], request.aspect_ratio, image_size,
                store=store, previous=None, extra=extra))
    except gi_errors.APIStatusError as exc:
        if is_unsupported(exc, chained=previous is not None):
            raise Unsupported(f"{exc.status_code}: {exc.message[:200]}") from exc
        raise as_api_error(exc) from exc


def _error_code(errors: list[Any] | None) -> str | None:
    """The reason an interaction or step gives: an `Error`'s string code (maybe a URI), or a `Status` detail's."""
    for error in errors or ():
        code = getattr(error, "code", None)
        if isinstance(code, str) and code:
            return code.rsplit("/", 1)[-1].upper()
        for detail in getattr(error, "details", None) or ():
            if isinstance(detail, dict) and isinstance(detail.get("reason"), str):
                return detail["reason"].upper()
    return None


def read_interaction(interaction: Any, *, stored: bool) -> tuple[Content, tuple[OutputImage, ...], str | None,
                                                                  dict[str, int], str | None]:
    """(the model turn as Content, images, text, usage, interaction id), or the `Failure` explaining no image."""
    parts: list[dict] = []
    pending: list[bytes] = []
    errors = list(getattr(interaction, "errors", None) or [])
    for step in getattr(interaction, "steps", None) or ():
        kind = getattr(step, "type", None)
        if kind == "thought":
            parts += [_thought_part(item) for item in step.summary or () if _thought_part(item)]
            if step.signature:
                pending.append(_unb64(step.signature))
        elif kind == "model_output":
            if step.error is not None:
                errors.append(step.error)
            for item in step.content or ():
                if getattr(item, "type", None) == "text" and item.text:
                    parts.append({"text": item.text})
                elif getattr(item, "data", None):
                    part: dict[str, Any] = {"inline_data": {"mime_type": item.mime_type or "image/png",
                                                            "data": _unb64(item.data)}}
                    if pending:
                        part["thought_signature"] = pending.pop(0)
                    parts.append(part)
    parts += [{"thought": True, "thought_signature": s} for s in pending]
    images = tuple(
        OutputImage(p["inline_data"]["data"], p["inline_data"]["mime_type"])
        for p in parts
        if "inline_data" in p and not p.get("thought") and p["inline_data"]["mime_type"].startswith("image/")
    )
    text = "\n".join(p["text"] for p in parts if p.get("text") and not p.get("thought")).strip() or None
    status = str(getattr(interaction, "status", "") or "")
    reason = _error_code(errors) or ("" if status in ("completed", "") else status.upper())
    _raise_for_outcome(reason, bool(images), bool(text), status)
    usage = interaction.usage
    counts = {
        "prompt": (usage.total_input_tokens or 0) if usage else 0,
        "output": (usage.total_output_tokens or 0) if usage else 0,
        "thought": (usage.total_thought_tokens or 0) if usage else 0,
        "total": (usage.total_tokens or 0) if usage else 0,
    }
    return {"role": "model", "parts": parts}, images, text, counts, (interaction.id or None) if stored else None


def _thought_part(item: Any) -> dict[str, Any]:
    """A thought summary item (text, or an interim thought image) as a Gemini thought part; {} for anything else."""
    if getattr(item, "type", None) == "text" and item.text:
        return {"text": item.text, "thought": True}
    if getattr(item, "data", None):
        return {"inline_data": {"mime_type": item.mime_type or "image/png", "data": _unb64(item.data)},
                "thought": True}
    return {}


def _raise_for_outcome(reason: str, images: bool, text: bool, status: str) -> None:

    if images:
        return
    if reason in BLOCKING:
        message = (f"Gemini would not make this image ({reason}): {explain(reason)}. "
                   "Rephrase the prompt or use a different image, then try again.")
        if status == "failed":  # refused before any output: the prompt itself was blocked
            message = f"Gemini blocked this prompt ({reason}): {explain(reason)}. Rephrase it and try again."
        raise Blocked(message, reason=reason)
    if not text:
        reason = reason or "NO_IMAGE"
        raise NoImage(f"Gemini returned no image ({reason}): {explain(reason)}. Try rephrasing.", reason=reason)


def _body_error(exc: gi_errors.APIError) -> tuple[str, str]:
    body: dict = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error")
    error: dict = inner if isinstance(inner, dict) else body
    return str(error.get("code") or ""), str(error.get("message") or exc.message or "")


def as_api_error(exc: gi_errors.APIStatusError) -> genai_errors.APIError:
    """An Interactions HTTP error as google-genai's `APIError`, so one mapping (`api_failure`) serves both paths."""
    code, message = _body_error(exc)
    status = STATUS_NAMES.get(code, code.upper())
    return genai_errors.APIError(exc.status_code or 500, {"error": {"message": message, "status": status}},
                                 exc.response)


def is_unsupported(exc: gi_errors.APIStatusError, *, chained: bool) -> bool:
    """The endpoint refuses this model, key or backend (as opposed to refusing this particular request).

    A 404 other than `model_not_found` for a request that names no previous interaction means the endpoint is
    not served here (a backend without it answers a bare 404): the request goes to generateContent instead.
    """
    code, message = _body_error(exc)
    if exc.status_code in (405, 501) or code in ("unimplemented", "not_supported", "unsupported"):
        return True
    if exc.status_code == 404 and not chained and code != "model_not_found":
        return True
    return exc.status_code in (400, 404) and any(word in message.lower() for word in UNSUPPORTED_WORDS)


def chain_gone(exc: gi_errors.APIStatusError) -> bool:
    """Gemini does not know the previous interaction (expired, deleted, never stored).

    Any 404 but `model_not_found` counts: at worst the window is sent once for nothing, and its answer decides.
    """
    code, message = _body_error(exc)
    if exc.status_code == 404:
        return code != "model_not_found"
    return exc.status_code == 400 and "interaction" in message.lower()
