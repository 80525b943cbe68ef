"""A user's turn as the Gemini Content that is sent and stored: the workflow's instruction with its images in order
(a region, a mask, a larger canvas, a style reference), images validated and shrunk off the event loop, and videos
inline when small or uploaded once through the Files API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from core import edits, options, video
from core.catalogue import ModelInfo
from core.events import ImageInput, Options, Workflow
from core.generation import ImageModel
from core.runner import Composed
from core.store import Store, ThreadRecord

MiB = 1024 * 1024
INPUT_BUDGET = 7 * MiB  # the new message's images, together; the rest of the engine's RAW_BUDGET is for history


Prepare = Callable[[ImageInput, int, int], Awaitable[tuple[bytes, str]]]  # (image, max edge, max bytes) -> (data, mime)


class Composer:
    """`prepare` validates and shrinks one image (the engine's, which decodes only when its pixel budget has room)."""

    def __init__(self, store: Store, model: ImageModel, prepare: Prepare) -> None:
        self._store = store
        self._model = model
        self._prepare = prepare

    async def compose(
        self, text: str, inputs: tuple[ImageInput, ...], chosen: Options, spec: ModelInfo, workflow: Workflow,
        thread: ThreadRecord | None,
    ) -> Composed:
        clips = tuple(i for i in inputs if video.sniff(i.data))
        stills = tuple(i for i in inputs if i not in clips)
        latest = await self._latest_picture(thread) if workflow.edits and thread is not None else None
        plan = await asyncio.to_thread(edits.plan, text, stills, workflow, latest, spec.ratios, spec.max_input_edge)
        if plan.aspect_ratio:
            chosen = replace(chosen, aspect_ratio=plan.aspect_ratio)
        options.check_inputs(len(plan.images), spec)
        for clip in clips:
            video.check(spec, clip.name, len(clip.data), len(clips))
        each = INPUT_BUDGET // max(1, len(plan.images))
        prepared = [await self._prepare(image, spec.max_input_edge, each) for image in plan.images]
        parts: list[dict] = [{"text": plan.text.strip()}] if plan.text.strip() else []
        parts += [{"inline_data": {"mime_type": mime, "data": data}} for data, mime in prepared]
        for clip in clips:
            parts.append(await self._video_part(clip))
        size = (plan.canvas.width, plan.canvas.height) if plan.canvas else None
        return Composed({"role": "user", "parts": parts}, chosen, size)

    async def _video_part(self, clip: ImageInput) -> dict:
        """A small video inline; a larger one uploaded once through the Files API and referred to by its URI."""
        mime = video.sniff(clip.data) or "video/mp4"
        if len(clip.data) <= video.INLINE_VIDEO_BYTES:
            return {"inline_data": {"mime_type": mime, "data": clip.data}}
        uri = await self._model.upload(clip.data, mime, clip.name)
        return {"file_data": {"file_uri": uri, "mime_type": mime}}

    async def _latest_picture(self, thread: ThreadRecord) -> bytes | None:
        """The newest picture of the conversation (the model's), for edits that work on it."""
        history = await self._store.history(thread.id, 2**62, 1, 2**62)
        for content in reversed(history):
            for part in content.get("parts") or ():
                inline = part.get("inline_data")
                if content.get("role") == "model" and inline and not part.get("thought") \
                        and str(inline.get("mime_type", "")).startswith("image/"):
                    return bytes(inline["data"])
        return None
