"""The Gemini Files API of the offline stand-in (and the test emulator): the resumable upload protocol that
google-genai's `files.upload` speaks, and `files.get`.

Start: `POST /upload/{version}/files` with `X-Goog-Upload-Protocol: resumable`, `X-Goog-Upload-Command: start`,
`X-Goog-Upload-Header-Content-Length` / `-Content-Type` and a `{"file": {...}}` body; the answer's
`X-Goog-Upload-URL` names the session. Then chunks to that URL with `X-Goog-Upload-Command: upload` (the last one
`upload, finalize`) and `X-Goog-Upload-Offset`; each answer carries `X-Goog-Upload-Status` (`active`, then `final`
with the `{"file": {...}}` body). Requests then refer to the file by its URI; `GET /{version}/files/{id}` reads it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

RETENTION = timedelta(hours=48)  # what Google keeps an uploaded file for


@dataclass
class _Session:
    size: int
    mime_type: str
    display_name: str
    data: bytearray = field(default_factory=bytearray)


class FilesService:
    def __init__(self) -> None:
        self.base_url = ""
        self.files: dict[str, dict[str, Any]] = {}  # "files/ID" -> the File resource
        self.contents: dict[str, bytes] = {}  # file URI -> the bytes uploaded
        self.chunks = 0  # upload requests received (start excluded)
        self._sessions: dict[str, _Session] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/upload/{version}/files", self._upload)
        app.router.add_get("/{version}/files/{id}", self._get)

    def knows(self, uri: str) -> bool:
        return uri in self.contents

    async def _upload(self, request: web.Request) -> web.Response:
        command = request.headers.get("X-Goog-Upload-Command", "").replace(" ", "").lower()
        session_id = request.query.get("upload_id")
        if command == "start":
            return await self._start(request)
        session = self._sessions.get(session_id or "")
        if session is None:
            return _error(404, "NOT_FOUND", f"No upload session {session_id!r}.")
        body = await request.read()
        self.chunks += 1
        offset = int(request.headers.get("X-Goog-Upload-Offset", "-1"))
        if offset != len(session.data):
            return _error(400, "INVALID_ARGUMENT", f"Offset {offset} is not {len(session.data)}, the bytes received.")
        session.data += body
        if "finalize" not in command.split(","):
            return web.Response(headers={"X-Goog-Upload-Status": "active"})
        del self._sessions[session_id or ""]
        if len(session.data) != session.size:
            return _error(400, "INVALID_ARGUMENT", f"Declared {session.size} bytes, received {len(session.data)}.")
        resource = self._store(request.match_info["version"], session)
        return web.json_response({"file": resource}, headers={"X-Goog-Upload-Status": "final"})

    async def _start(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Goog-Upload-Protocol") != "resumable":
            return _error(400, "INVALID_ARGUMENT", "Only the resumable upload protocol is served here.")
        try:
            declared = json.loads(await request.read() or b"{}").get("file") or {}
            size = int(request.headers["X-Goog-Upload-Header-Content-Length"])
        except (ValueError, KeyError):
            return _error(400, "INVALID_ARGUMENT", "X-Goog-Upload-Header-Content-Length is required.")
        mime = request.headers.get("X-Goog-Upload-Header-Content-Type") or declared.get("mimeType") or ""
        session_id = secrets.token_hex(8)
        name = declared.get("displayName") or declared.get("display_name") or ""
        self._sessions[session_id] = _Session(size, mime, name)
        url = f"{self.base_url}/upload/{request.match_info['version']}/files?upload_id={session_id}"
        return web.Response(headers={"X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active"})

    def _store(self, version: str, session: _Session) -> dict[str, Any]:
        file_id = secrets.token_hex(6)
        now = datetime.now(UTC)
        uri = f"{self.base_url}/{version}/files/{file_id}"
        resource = {
            "name": f"files/{file_id}", "displayName": session.display_name, "mimeType": session.mime_type,
            "sizeBytes": str(len(session.data)), "createTime": now.isoformat(), "updateTime": now.isoformat(),
            "expirationTime": (now + RETENTION).isoformat(), "uri": uri, "state": "ACTIVE", "source": "UPLOADED",
        }
        self.files[resource["name"]] = resource
        self.contents[uri] = bytes(session.data)
        return resource

    async def _get(self, request: web.Request) -> web.Response:
        resource = self.files.get(f"files/{request.match_info['id']}")
        if resource is None:
            return _error(404, "NOT_FOUND", f"File files/{request.match_info['id']} does not exist.")
        return web.json_response(resource)


def _error(code: int, status: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "status": status}}, status=code)


def file_uris(contents: list[dict[str, Any]]) -> list[str]:
    """The Files API URIs a request's contents refer to (`fileData`, either key casing)."""
    uris = []
    for content in contents:
        for part in content.get("parts", []):
            ref = part.get("fileData") or part.get("file_data") or {}
            uri = ref.get("fileUri") or ref.get("file_uri")
            if uri:
                uris.append(uri)
    return uris
