"""The image-model port and its Gemini implementation on google-genai's async client.

Every outcome becomes a value the engine can act on: a `Generation` (images and/or text), or a typed `Failure`
that says why (a prompt block, a safety finish, quota, auth, Gemini unavailable) and what to do about it.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from google import genai
from google.genai import _interactions as gi_errors
from google.genai import errors as genai_errors
from google.genai import types

from core import interactions
from core.catalogue import capabilities
from core.events import OutputImage
from core.failures import AuthFailed, BadInput, Blocked, Failure, ModelGone, ModelUnavailable, NoImage, QuotaExhausted
from core.generation import GenerateRequest, Generation, ListedModel, thought_parts
from core.grounding import from_interaction, from_metadata
from core.reasons import BLOCKING, explain

log = logging.getLogger(__name__)


# 429 is not retried here: the engine pauses its whole queue instead, so the bot backs off as one client.
RETRY_STATUSES = (408, 500, 502, 503, 504)
UPLOAD_POLLS = 60  # a video the Files API is still processing: asked again once a second, this many times
UPLOAD_POLL_S = 1.0



@dataclass(frozen=True)
class GeminiConfig:
    api_key: str
    base_url: str | None = None
    api_version: str | None = "v1beta"
    timeout_s: float = 120.0
    attempts: int = 4
    initial_delay_s: float = 2.0
    max_delay_s: float = 30.0
    api: str = "interactions"  # or "generate_content"
    store: bool = True  # let Gemini keep the conversation (Interactions API); False: our window every turn
    vertexai: bool = False
    project: str | None = None
    location: str | None = None
    credentials: Any = field(default=None, repr=False)  # google.auth credentials; None: ADC or the API key


class GeminiModel:
    """`ImageModel` on `google-genai`'s async client: the Interactions API by default, else generateContent; its
    own retry for 408 and 5xx (a 429 is the engine's).

    A model that the Interactions API refuses as unsupported moves to generateContent for the rest of the run.
    """

    def __init__(self, config: GeminiConfig) -> None:
        self._config = config
        self._legacy: set[str] = set()  # models the Interactions API refused as unsupported
        retry = types.HttpRetryOptions(
            attempts=config.attempts,
            initial_delay=config.initial_delay_s,
            max_delay=config.max_delay_s,
            exp_base=2,
            jitter=min(1.0, config.initial_delay_s),
            http_status_codes=list(RETRY_STATUSES),
        )
        http_options = types.HttpOptions(
            base_url=config.base_url,
            api_version=config.api_version,
            timeout=int(config.timeout_s * 1000),
            retry_options=retry,
        )
        if config.vertexai:
            project_mode = config.project is not None
            self._client = genai.Client(
                vertexai=True,
                api_key=None if project_mode else config.api_key,
                project=config.project,
                location=config.location if project_mode else None,
                credentials=config.credentials if project_mode else None,
                http_options=http_options,
            )
        else:
            self._client = genai.Client(api_key=config.api_key, http_options=http_options)

    async def aclose(self) -> None:
        await self._client.aio.aclose()

    def api_for(self, model: str) -> str:
        """The API path a request for `model` takes now."""
        return "generate_content" if self._config.api != "interactions" or model in self._legacy else "interactions"

    async def generate(self, request: GenerateRequest) -> Generation:
        try:
            if self.api_for(request.model) == "interactions":
                try:
                    return await self._interaction(request)
                except interactions.Unsupported as exc:
                    self._legacy.add(request.model)
                    log.warning("the Interactions API does not serve %s here (%s); using generateContent for it",
                                request.model, exc)
            return await self._generate_content(request)
        except genai_errors.APIError as exc:
            raise api_failure(exc, request.model) from exc
        except (TimeoutError, gi_errors.APITimeoutError) as exc:
            raise ModelUnavailable(
                f"Gemini did not answer within {self._config.timeout_s:.0f} s. Try again in a moment."
            ) from exc
        except (aiohttp.ClientError, OSError, gi_errors.APIConnectionError) as exc:
            log.warning("cannot reach Gemini: %s", type(exc).__name__)
            raise ModelUnavailable("The bot could not reach Gemini. Try again in a few minutes.") from exc

    async def _generate_content(self, request: GenerateRequest) -> Generation:
        image_config = types.ImageConfig(
            aspect_ratio=request.aspect_ratio,
            image_size=request.image_size if capabilities(request.model).sizes else None,
        )
        config = types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=image_config,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            tools=search_tools(request.search),
            thinking_config=thinking_config(request),
            system_instruction=request.system_instruction,
        )
        contents = [types.Content.model_validate(c) for c in (*await request.window(), request.message)]
        response = await self._client.aio.models.generate_content(
            model=request.model, contents=contents, config=config
        )
        return read_response(response)

    async def list_models(self) -> list[ListedModel]:
        try:
            pager = await self._client.aio.models.list(config=types.ListModelsConfig(page_size=100))
            return [
                ListedModel(
                    (m.name or "").removeprefix("models/"), m.display_name or "", tuple(m.supported_actions or ())
                )
                async for m in pager
            ]
        except genai_errors.APIError as exc:
            raise api_failure(exc, "models.list") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ModelUnavailable(f"Gemini's models.list could not be reached ({type(exc).__name__}).") from exc

    async def upload(self, data: bytes, mime_type: str, name: str) -> str:
        """Upload through the Files API (google-genai's resumable protocol) and wait until the file is ACTIVE."""
        try:
            uploaded = await self._client.aio.files.upload(
                file=io.BytesIO(data), config=types.UploadFileConfig(mime_type=mime_type, display_name=name[:100])
            )
            for _ in range(UPLOAD_POLLS):
                state = _code(uploaded.state) if uploaded.state is not None else "ACTIVE"
                if state == "ACTIVE" and uploaded.uri:
                    return uploaded.uri
                if state == "FAILED":
                    raise BadInput(f"Gemini could not process `{name}` (the Files API says FAILED). Try another file.")
                await asyncio.sleep(UPLOAD_POLL_S)
                uploaded = await self._client.aio.files.get(name=uploaded.name or "")
        except genai_errors.APIError as exc:
            raise api_failure(exc, "files.upload") from exc
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
            raise ModelUnavailable(f"Uploading `{name}` to Gemini failed ({type(exc).__name__}). Try again.") from exc
        raise ModelUnavailable(f"Gemini was still processing `{name}` after {UPLOAD_POLLS * UPLOAD_POLL_S:.0f} s.")

    async def _interaction(self, request: GenerateRequest) -> Generation:
        size = request.image_size if capabilities(request.model).sizes else None
        answer = await interactions.create(self._client, request, size, store=self._config.store)
        content, images, text, usage, interaction_id = interactions.read_interaction(answer, stored=self._config.store)
        thoughts, thought_images = thought_parts(content)
        return Generation(
            content=content, images=images, text=text, prompt_tokens=usage["prompt"],
            output_tokens=usage["output"], total_tokens=usage["total"], thought_tokens=usage["thought"],
            finish_reason="STOP", interaction_id=interaction_id, grounding=from_interaction(answer),
            thoughts=thoughts, thought_images=thought_images,
        )


def search_tools(search: str | None) -> list[Any] | None:
    """The Google Search tool: web search, and Google Image Search as well for "images"."""
    if search not in ("web", "images"):
        return None
    kinds = types.SearchTypes(web_search=types.WebSearch(),
                              image_search=types.ImageSearch() if search == "images" else None)
    return [types.Tool(google_search=types.GoogleSearch(search_types=kinds))]


def thinking_config(request: GenerateRequest) -> types.ThinkingConfig | None:
    if request.thinking_level is None and not request.include_thoughts:
        return None
    return types.ThinkingConfig(
        thinking_level=types.ThinkingLevel(request.thinking_level.upper()) if request.thinking_level else None,
        include_thoughts=True if request.include_thoughts else None,
    )


def _code(value: object) -> str:
    return str(getattr(value, "value", None) or getattr(value, "name", None) or value).upper()


def read_response(response: types.GenerateContentResponse) -> Generation:
    """A `Generation`, or the `Failure` that explains why there is no image."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        reason = _code(feedback.block_reason)
        raise Blocked(
            f"Gemini blocked this prompt ({reason}): {explain(reason)}. Rephrase it and try again.", reason=reason
        )
    candidate = response.candidates[0] if response.candidates else None
    if candidate is None:
        raise NoImage("Gemini returned an empty answer. Try again, perhaps with a more specific prompt.")
    finish = _code(candidate.finish_reason) if candidate.finish_reason is not None else None
    parts = (candidate.content.parts if candidate.content else None) or []
    images = tuple(
        OutputImage(p.inline_data.data, p.inline_data.mime_type or "image/png")
        for p in parts
        if p.inline_data is not None and p.inline_data.data and not p.thought
        and (p.inline_data.mime_type or "image/png").startswith("image/")
    )
    text = "\n".join(p.text for p in parts if p.text and not p.thought).strip() or None
    if not images and finish in BLOCKING:
        raise Blocked(
            f"Gemini would not make this image ({finish}): {explain(finish)}. "
            "Rephrase the prompt or use a different image, then try again.",
            reason=finish,
        )
    if not images and not text:
        reason = finish or "NO_IMAGE"
        raise NoImage(f"Gemini returned no image ({reason}): {explain(reason)}. Try rephrasing.", reason=reason)
    content = candidate.content.model_dump(exclude_none=True) if candidate.content else {"parts": []}
    content.setdefault("role", "model")
    usage = response.usage_metadata
    thoughts, thought_images = thought_parts(content)
    return Generation(
        content=content,
        images=images,
        text=text,
        prompt_tokens=(usage.prompt_token_count or 0) if usage else 0,
        output_tokens=(usage.candidates_token_count or 0) if usage else 0,
        total_tokens=(usage.total_token_count or 0) if usage else 0,
        finish_reason=finish,
        thought_tokens=(usage.thoughts_token_count or 0) if usage else 0,
        grounding=from_metadata(candidate.grounding_metadata),
        thoughts=thoughts,
        thought_images=thought_images,
    )


def retry_after(exc: genai_errors.APIError) -> float | None:
    """Seconds Gemini asked us to wait: its `RetryInfo.retryDelay` ("37s"), else a `Retry-After` header."""
    error = exc.details.get("error", exc.details) if isinstance(exc.details, dict) else {}
    for detail in error.get("details") or () if isinstance(error, dict) else ():
        delay = detail.get("retryDelay") if isinstance(detail, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return float(delay[:-1])
            except ValueError:
                pass
    headers = getattr(exc.response, "headers", None) or {}
    try:
        return float(headers.get("Retry-After", ""))
    except (TypeError, ValueError):
        return None


def api_failure(exc: genai_errors.APIError, model: str) -> Failure:
    """Gemini's HTTP error as the failure a user (or the operator) can act on."""
    code, status, message = exc.code, (exc.status or ""), (exc.message or "")
    detail = f"{code} {status}".strip()
    if code == 429:
        return QuotaExhausted(
            f"Gemini's rate limit or quota is used up ({detail}). Try again in a minute. If it keeps happening, "
            "the bot's operator should check the API key's quota and billing in Google AI Studio.",
            reason=status or "RESOURCE_EXHAUSTED",
            retry_after=retry_after(exc),
        )
    lowered = message.lower()
    if code in (401, 403) or "api key" in lowered or "api_key" in lowered:
        return AuthFailed(
            f"Gemini refused the bot's credentials ({detail}). The bot's operator should set a valid "
            "GEMINI_API_KEY (from Google AI Studio) with access to the image models.",
            reason=status,
        )
    if code == 404:
        return ModelGone(
            f"Gemini does not offer `{model}` to this API key ({detail}). Try another --model, or ask the "
            "operator to check GEMINI_MODEL and GEMINI_API_VERSION.",
            reason=status,
            model=model,
        )
    if code is not None and 400 <= code < 500:
        return BadInput(f"Gemini could not use this request ({detail}): {message[:300]}", reason=status)
    return ModelUnavailable(
        f"Gemini is unavailable right now ({detail}), even after retrying. Try again in a few minutes.",
        reason=status,
    )
