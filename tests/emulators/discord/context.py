"""The API request being handled: the emulator's middleware parses it once, handlers read it from a ContextVar."""

from __future__ import annotations

from contextvars import ContextVar

from tests.emulators.discord.payloads import JSON, RecordedRequest, UploadedPart

_current: ContextVar[RecordedRequest | None] = ContextVar("discord_emulator_request", default=None)


def _request() -> RecordedRequest:
    """The API request being handled (middleware and handler run in one task, so a ContextVar carries it)."""
    rec = _current.get()
    assert rec is not None, "only API handlers read the parsed request"
    return rec


def _body() -> JSON:
    """The JSON body (or multipart `payload_json`) of the API request being handled."""
    body = _request().json
    return body if isinstance(body, dict) else {}


def _files() -> list[UploadedPart]:
    """The `files[n]` parts of the API request being handled."""
    return _request().files
