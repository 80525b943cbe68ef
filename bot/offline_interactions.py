"""The Interactions endpoint of the offline stand-in (and the test emulator), in the SDK's own types.

`POST /{version}/interactions` (or `/{version}/projects/{p}/locations/{l}/interactions` on Vertex AI): the body is
validated with google-genai's `CreateModelInteraction`, and the answer is built as its `Interaction` and dumped,
so the wire shape is the SDK's. Inputs become the same `WireRequest` the generateContent endpoint makes (Gemini
`Content` in python mode), so drawing, scripting and signature checks serve both endpoints.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from google.genai import interactions as gi

from bot.wire import WireError, WireRequest, b64decode

# HTTP status -> the Interactions API's string error code
ERROR_CODES = {
    400: "invalid_request",
    401: "authentication",
    403: "permission_denied",
    404: "model_not_found",  # what a scripted 404 means here; an unknown interaction says "not_found"
    408: "deadline_exceeded",
    429: "rate_limit_exceeded",
    500: "api_error",
    501: "unimplemented",
    502: "api_error",
    503: "unavailable",
    504: "deadline_exceeded",
}


def _part(item: Any) -> dict[str, Any] | None:
    """One SDK content item as a Gemini part (python mode: bytes decoded)."""
    if getattr(item, "type", None) == "text":
        return {"text": item.text}
    data = getattr(item, "data", None)
    if data:
        return {"inline_data": {"mime_type": item.mime_type, "data": b64decode(data)}}
    uri = getattr(item, "uri", None)
    if uri:  # a Files API upload, referred to by URI
        return {"file_data": {"file_uri": uri, "mime_type": item.mime_type}}
    return None


def _from_steps(steps: list[Any]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    model: dict[str, Any] | None = None
    signatures: list[str] = []
    for step in steps:
        kind = getattr(step, "type", None)
        if kind == "user_input":
            model = None
            contents.append({"role": "user", "parts": [p for p in map(_part, step.content or ()) if p]})
            continue
        if model is None:
            model = {"role": "model", "parts": []}
            contents.append(model)
        if kind == "thought":
            model["parts"] += [{**part, "thought": True} for part in map(_part, step.summary or ()) if part]
            if step.signature:
                signatures.append(step.signature)
        elif kind == "model_output":
            for part in filter(None, map(_part, step.content or ())):
                if "inline_data" in part and signatures:
                    part["thought_signature"] = signatures.pop(0)
                model["parts"].append(part)
    return contents


def input_contents(value: Any) -> list[dict[str, Any]]:
    """The request's `input` (a string, content items, or steps) as Gemini contents."""
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"text": value}]}]
    items = value if isinstance(value, list) else [value]
    if items and getattr(items[0], "type", None) in ("user_input", "thought", "model_output"):
        return _from_steps(items)
    return [{"role": "user", "parts": [p for p in map(_part, items) if p]}]


def _image_format(create: Any) -> tuple[str | None, str | None]:
    formats = create.response_format
    for fmt in formats if isinstance(formats, list) else [formats]:
        if getattr(fmt, "type", None) == "image":
            return fmt.aspect_ratio, fmt.image_size
    config = create.generation_config.image_config if create.generation_config else None
    return (config.aspect_ratio, config.image_size) if config else (None, None)


def _search(create: Any) -> tuple[str, ...]:
    for tool in create.tools or ():
        if getattr(tool, "type", None) == "google_search":
            kinds = tool.search_types or ["web_search"]
            return ("web", "images") if "image_search" in kinds else ("web",)
    return ()


def parse_interaction(body: bytes, path: str) -> WireRequest:
    """A create-interaction body, validated by the SDK's type (raises pydantic's ValidationError)."""
    create = gi.CreateModelInteraction.model_validate_json(body)
    ratio, size = _image_format(create)
    config = create.generation_config
    contents = input_contents(create.input)
    return WireRequest(
        model=create.model,
        contents=contents,
        aspect_ratio=ratio,
        image_size=size,
        body_bytes=len(body),
        raw=json.loads(body),
        api="interactions",
        path=path,
        previous_interaction_id=create.previous_interaction_id,
        store=create.store is not False,
        sent=len(contents),
        search=_search(create),
        thinking_level=str(config.thinking_level).lower() if config and config.thinking_level else None,
        include_thoughts=bool(config and config.thinking_summaries == "auto"),
        system_instruction=create.system_instruction,
    )


def _b64(value: str | bytes) -> str:
    return value if isinstance(value, str) else base64.b64encode(value).decode()


def _content(part: dict[str, Any], citations: list[Any]) -> Any:
    if part.get("text"):
        return gi.TextContent(text=part["text"], annotations=citations or None)
    if "inlineData" in part:
        inline = part["inlineData"]
        return gi.ImageContent(data=_b64(inline["data"]), mime_type=inline.get("mimeType", "image/png"))
    return None


def _search_steps(grounding: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """groundingMetadata as the Interactions API shows a search: call and result steps, and url citations."""
    steps: list[Any] = []
    kinds: tuple[tuple[Literal["web_search", "image_search"], str], ...] = (
        ("web_search", "webSearchQueries"), ("image_search", "imageSearchQueries"))
    for n, (kind, key) in enumerate(kinds):
        if grounding.get(key):
            call_id = f"search-{n}"
            steps.append(gi.GoogleSearchCallStep(id=call_id, search_type=kind,
                                                 arguments=gi.GoogleSearchCallArguments(queries=grounding[key])))
            html = (grounding.get("searchEntryPoint") or {}).get("renderedContent")
            steps.append(gi.GoogleSearchResultStep(call_id=call_id,
                                                   result=[gi.GoogleSearchResult(search_suggestions=html)]))
    citations = []
    for chunk in grounding.get("groundingChunks") or ():
        page = chunk.get("web") or {}
        url, title = page.get("uri") or (chunk.get("image") or {}).get("sourceUri"), page.get("title")
        if url:
            citations.append(gi.URLCitation(url=url, title=title or (chunk.get("image") or {}).get("title")))
    return steps, citations


def _steps(parts: list[dict[str, Any]], grounding: dict[str, Any] | None = None) -> list[Any]:
    """A generateContent answer's parts (camelCase JSON) as Interaction steps."""
    summary = [c for c in (_content(p, []) for p in parts if p.get("thought")) if c is not None]
    signatures = [p["thoughtSignature"] for p in parts if p.get("thoughtSignature")]
    searches, citations = _search_steps(grounding or {})
    output = [c for c in (_content(p, citations) for p in parts if not p.get("thought")) if c is not None]
    steps: list[Any] = []
    if summary or signatures:
        steps.append(gi.ThoughtStep(signature=signatures[0] if signatures else None, summary=summary or None))
    steps += searches
    if output:
        steps.append(gi.ModelOutputStep(content=output))
    return steps


def interaction_answer(answer: dict[str, Any], *, interaction_id: str, wire: WireRequest) -> dict[str, Any]:
    """A generateContent-shaped answer (what the stand-in and the scripts make) as the SDK's `Interaction` JSON."""
    candidate = (answer.get("candidates") or [{}])[0]
    steps = _steps((candidate.get("content") or {}).get("parts") or [], candidate.get("groundingMetadata"))
    block = (answer.get("promptFeedback") or {}).get("blockReason")
    finish = candidate.get("finishReason")
    status, errors = "completed", []
    if block:
        status = "failed"
        errors = [gi.Error(code=block.lower(), message=f"The prompt was blocked ({block}).")]
    elif finish and finish != "STOP" and not any(isinstance(s, gi.ModelOutputStep) for s in steps):
        status = "incomplete"
        errors = [gi.Error(code=finish.lower(), message=f"Generation stopped ({finish}).")]
    usage = answer.get("usageMetadata") or {}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    fields: dict[str, Any] = {"status": status, "model": wire.model}  # both open enums in the SDK
    interaction = gi.Interaction(
        **fields, id=interaction_id, steps=steps, errors=errors or None,
        previous_interaction_id=wire.previous_interaction_id, created=now, updated=now,
        usage=gi.Usage(
            total_input_tokens=usage.get("promptTokenCount"),
            total_output_tokens=usage.get("candidatesTokenCount"),
            total_thought_tokens=usage.get("thoughtsTokenCount"),
            total_tokens=usage.get("totalTokenCount"),
        ),
    )
    return interaction.model_dump(mode="json", by_alias=True, exclude_none=True)


def interaction_error(error: WireError) -> web.Response:
    """The Interactions API's error shape: a string code (an integer one would not parse in the SDK)."""
    code = error.code_name or ERROR_CODES.get(error.code, "api_error")
    response = web.json_response({"error": {"code": code, "message": error.message}}, status=error.code)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response
