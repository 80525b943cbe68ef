"""The Slack emulator's files: the external upload flow files_upload_v2 drives (getUploadURLExternal, the raw
upload step, completeUploadExternal), files.info and files.delete, and token-guarded `url_private` downloads."""

from __future__ import annotations

import copy
import mimetypes
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from tests.emulators.slack.events import new_id
from tests.emulators.slack.web_api import ApiCall, _raise, _SlackError, _split

UPLOAD_STEP = "upload"  # fail_next() key for files_upload_v2's raw POST to the upload URL
LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


@dataclass
class UploadedFile:
    """A file completed through files_upload_v2, with its bytes and where it was shared."""

    id: str
    filename: str
    title: str
    data: bytes
    mimetype: str
    channel: str | None
    thread_ts: str | None
    initial_comment: str | None
    alt_txt: str | None
    message_ts: str | None


@dataclass
class FileFetch:
    """A GET on ``url_private``/``url_private_download`` and the Authorization header it carried."""

    path: str
    file_id: str
    authorization: str | None
    status: int
    served_bytes: bool


def _sniff(data: bytes) -> str | None:
    signatures = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}
    for magic, mime in signatures.items():
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class Files:
    """Part of `SlackEmulator`: uploads, file hosting and the files.* methods."""

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        call = ApiCall(UPLOAD_STEP, {"file_id": file_id, "length": len(data)}, request.headers.get("Authorization"),
                       peer=request.transport and request.transport.get_extra_info("peername"))
        self.calls.append(call)
        fault = self._take_fault(UPLOAD_STEP)
        if fault:
            call.status = fault.status
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return web.Response(status=fault.status, text="rate limited", headers=headers)
        if file_id not in self._pending:
            call.status = 404
            return web.Response(status=404, text="upload not found")
        self._pending[file_id]["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    async def _serve_file(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["key"].split("-", 1)[-1]
        auth = request.headers.get("Authorization")
        authorized = auth is not None and auth.startswith("Bearer ") and auth[len("Bearer ") :] in self.tokens
        # without files:read, a valid token still gets the sign-in page, as on real Slack
        authorized = authorized and "files:read" in self.scopes.split(",")
        fetch = FileFetch(request.path, file_id, auth, 200, False)
        self.file_fetches.append(fetch)
        if not authorized:  # real Slack answers a login page, not a 401
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        if file_id not in self.file_bytes:
            fetch.status = 404
            return web.Response(status=404, text="<html>File not found</html>", content_type="text/html")
        if file_id in self._redirects:
            fetch.status = 302
            raise web.HTTPFound(self._redirects[file_id])
        fetch.served_bytes = True
        return web.Response(body=self.file_bytes[file_id], content_type=self.files[file_id]["mimetype"])

    def _get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename"):
            raise _SlackError("invalid_arguments")
        if not str(args.get("length", "0")).isdigit() or int(args["length"]) <= 0:
            raise _SlackError("missing_argument")
        if len(args.get("alt_txt") or "") > 1000:
            raise _SlackError("alt_txt_too_large")
        file_id = new_id("F")
        self._pending[file_id] = {**args, "data": None}
        return {"upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise _SlackError("invalid_arguments")
        if any(self._pending.get(i.get("id", ""), {}).get("data") is None for i in items):
            raise _SlackError("file_not_found")
        targets = [args["channel_id"]] if args.get("channel_id") else _split(args.get("channels"))
        for channel in targets:
            self._writable_channel({"channel": channel})
        thread_ts, comment = args.get("thread_ts"), args.get("initial_comment")
        blocks = None if comment else args.get("blocks")  # as Slack does: a comment wins, the blocks are ignored
        self._check_content("", blocks)
        objs, alts = [], []
        for item in items:
            pending = self._pending.pop(item["id"])
            name = pending["filename"]
            objs.append(self._make_file(item["id"], pending["data"], name, item.get("title") or name, None, None))
            alts.append(pending.get("alt_txt"))
        message_ts = None
        for channel in targets:
            msg = self._bot_message(comment or "", blocks, thread_ts, files=copy.deepcopy(objs))
            self._store(channel, msg)
            message_ts = message_ts or msg["ts"]
            kind = "public" if channel.startswith("C") else "private"
            share = {"ts": msg["ts"], "channel_name": self.channel_info(channel)["name"], "team_id": self.team_id}
            if thread_ts:
                share["thread_ts"] = thread_ts
            for obj in objs:
                obj.setdefault("shares", {}).setdefault(kind, {})[channel] = [dict(share)]
                self._shared_at[obj["id"]] = time.monotonic() + self.share_delay
        for obj, alt in zip(objs, alts, strict=True):
            self.uploads.append(
                UploadedFile(
                    id=obj["id"],
                    filename=obj["name"],
                    title=obj["title"],
                    data=self.file_bytes[obj["id"]],
                    mimetype=obj["mimetype"],
                    channel=targets[0] if targets else None,
                    thread_ts=thread_ts,
                    initial_comment=comment,
                    alt_txt=alt,
                    message_ts=message_ts,
                )
            )
        return {"files": [self._public_file(o, shares=False) for o in objs]}

    def _file_info(self, args: dict[str, Any]) -> dict[str, Any]:
        obj = self.files.get(args.get("file", "")) or _raise("file_not_found")
        shared = time.monotonic() >= self._shared_at.get(obj["id"], float("inf"))
        return {"file": self._public_file(obj, shares=shared)}

    def _delete_file(self, args: dict[str, Any]) -> dict[str, Any]:
        """A bot may delete the files it uploaded; a message left with no files, text or blocks goes with them."""
        file_id = args.get("file", "")
        obj = self.files.get(file_id) or _raise("file_not_found")
        if obj.get("user") != self.bot_user_id:
            raise _SlackError("cant_delete_file")
        del self.files[file_id]
        self.file_bytes.pop(file_id, None)
        self.deleted_files.append(file_id)
        for channel, history in self.messages.items():
            for msg in list(history):
                if any(f.get("id") == file_id for f in msg.get("files") or ()):
                    msg["files"] = [f for f in msg["files"] if f.get("id") != file_id]
                    if not msg["files"] and not msg.get("text") and not msg.get("blocks"):
                        history.remove(msg)
                        self.deleted.append({"channel": channel, **msg})
        return {}

    def _make_file(
        self, file_id: str, data: bytes, name: str, title: str, mimetype: str | None, user: str | None
    ) -> dict[str, Any]:
        mimetype = mimetype or _sniff(data) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        base = f"{self.url}/files-pri/{self.team_id}-{file_id}"
        user = user or self.bot_user_id
        obj = {
            "id": file_id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": name,
            "title": title,
            "mimetype": mimetype,
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": user,
            "user_team": self.team_id,
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "size": len(data),
            "url_private": f"{base}/{quote(name)}",
            "url_private_download": f"{base}/download/{quote(name)}",
            "permalink": f"https://test.slack.com/files/{user}/{file_id}/{quote(name)}",
            "file_access": "visible",
        }
        self.files[file_id], self.file_bytes[file_id] = obj, data
        return obj

    @staticmethod
    def _public_file(obj: dict[str, Any], *, shares: bool) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        if not shares:
            out.pop("shares", None)
        return out
