"""A terminal shell over the engine (as hubot's shell adapter): the console protocol of DESIGN.md.

Lines come from stdin (a terminal or a pipe) and are handled one at a time, in order. Each output event is one
line on stdout: `thread: ID`, `image: PATH`, `text: ...`, `error: ...`, and before a result's `image:` line its
`search: QUERY URL` and `source: TITLE URL` lines and (with --thoughts) `thought: TEXT` and `thought-image: PATH`
lines. Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from core import grounding, video
from core.engine import Engine
from core.events import (
    ChangeSetting,
    Forget,
    ImageInput,
    ListModels,
    ListStyles,
    NextTurn,
    Options,
    Progress,
    Reply,
    ShowSettings,
    ShowUsage,
    StartStory,
    StartThread,
    ThreadKey,
    User,
    UseVariant,
    Workflow,
)
from core.failures import BadInput, Failure
from core.flags import parse_request, story_panels
from core.images import MAX_INPUT_BYTES, check_declared
from core.turns import extension

log = logging.getLogger(__name__)

HELP = (
    "/imagine PROMPT [--ar W:H] [--size 1K|2K|4K] [--model NAME]  start a new thread",
    "  --style NAME                                             a preset: /imagine a harbour --style watercolour",
    "  --no TERMS                                               leave things out: /imagine a street --no cars, people",
    "  --search [images]                                        ground in Google Search: /imagine today's weather in "
    "Oslo --search",
    "  --think minimal|high                                     thinking level (Flash models): --think high",
    "  --thoughts                                               show the model's thoughts and draft images",
    "  [--n 2..4]                                               that many variants to pick from (/use K)",
    "any other line                                             the next message in the current thread",
    "  [--region TEXT] [--mask] [--extend SIDES[:AMOUNT]] [--style-ref]  edit part of the picture, grow it, restyle it",
    "/use K                                                     continue from variant K of the latest set",
    "/story N PROMPT                                            N panels (2 to 8) in one new thread",
    "/attach PATH                                               attach an image or a video to the next message",
    "/thread ID                                                 switch to a stored thread",
    "/forget                                                    clear the current thread's history",
    "/usage                                                     images and cost today and this month",
    "/models                                                    the models this bot can use now",
    "/styles                                                    the style presets",
    "/settings [server|channel KEY VALUE]                       the settings in force; set one (KEY -: clear it)",
    "  keys: model ar size style no think search guidance       /settings server style watercolour",
    "/help                                                      this list",
)
USER = User(id="console", name="console", is_admin=True)
MAX_LINE = 64 * 1024
BROKEN = "Something broke on the bot's side while handling that line ({what}); the next line is served. See the log."


def key_for(thread_id: str) -> ThreadKey:
    return ThreadKey("console", "local", "console", thread_id)


@dataclass(frozen=True)
class Unreadable:
    """A line of input that is not text the console can act on: said as an `error:` line, then the next is read."""

    why: str


def decoded(raw: bytes | str) -> str | Unreadable:
    """A line as text: stdin is read as bytes and decoded as UTF-8 here, whatever the locale says."""
    if isinstance(raw, str):
        return raw.rstrip("\r\n")
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as bad:
        return Unreadable(f"it holds bytes that are not UTF-8 (0x{raw[bad.start]:02x} at byte {bad.start + 1})")


def _read_lines(stream: TextIO) -> Iterator[str | Unreadable]:
    """Lines of the stream (its bytes where it has them), each at most MAX_LINE long; ends at end of input."""
    source: Any = getattr(stream, "buffer", stream)
    while line := source.readline(MAX_LINE + 1):
        if len(line) > MAX_LINE and line[-1:] not in ("\n", b"\n"):
            while (rest := source.readline(MAX_LINE)) and rest[-1:] not in ("\n", b"\n"):
                pass  # the rest of an over-long line is skipped, a bounded piece at a time, to its end
            yield Unreadable(f"it is longer than {MAX_LINE // 1024} KiB")
            continue
        yield decoded(line)


async def lines_from(stream: TextIO) -> AsyncIterator[str | Unreadable]:
    """Lines of a blocking stream, read on a daemon thread so that a waiting terminal never blocks shutdown. The
    reader never dies silently: a failure to read is the last line (Unreadable), logged with its cause."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | Unreadable | None] = asyncio.Queue(maxsize=64)

    def pump() -> None:
        try:
            for line in _read_lines(stream):
                asyncio.run_coroutine_threadsafe(queue.put(line), loop).result()
        except RuntimeError:  # the loop closed while we waited: nothing left to deliver
            return
        except Exception as error:
            log.exception("reading stdin failed")
            with contextlib.suppress(RuntimeError):
                failed = Unreadable(f"stdin could not be read ({type(error).__name__}); the console stops here")
                asyncio.run_coroutine_threadsafe(queue.put(failed), loop).result()
        finally:
            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(queue.put(None), loop)

    threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


class Console:
    def __init__(self, engine: Engine, out: TextIO, out_dir: Path, grace: float = 30.0) -> None:
        self._engine = engine
        self._grace = grace
        self._out = out
        self._out_dir = out_dir.resolve()
        self._thread: str | None = None
        self._attachments: list[ImageInput] = []
        self._variants: tuple[int, ...] = ()  # the current thread's latest variant set, for /use K

    def emit(self, kind: str, value: str) -> None:
        encoding = getattr(self._out, "encoding", None) or "utf-8"
        for line in value.splitlines() or [""]:
            text = f"{kind}: {line}\n"
            try:
                self._out.write(text)
            except UnicodeEncodeError:  # a terminal that is not UTF-8: what it cannot show is written as escapes
                self._out.write(text.encode(encoding, "backslashreplace").decode(encoding))
        self._out.flush()

    async def run(self, stream: TextIO) -> None:
        async for line in lines_from(stream):
            if isinstance(line, Unreadable):
                self.emit("error", f"That line could not be read: {line.why}. Type it again as UTF-8 text.")
                continue
            work = asyncio.create_task(self._line(line))
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                # shutting down: the engine has finished or interrupted this line's request; print its answer
                await asyncio.wait({work}, timeout=self._grace)
                raise

    async def _line(self, line: str) -> None:
        try:
            await self.handle_line(line)
        except Failure as failure:
            self.emit("error", failure.message)
        except Exception as error:  # one line's failure never ends the session
            log.exception("console line failed")
            self.emit("error", BROKEN.format(what=type(error).__name__))

    async def handle_line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if command == "/imagine":
            prompt, options, workflow = parse_request(rest)
            await self._start(prompt, options, workflow)
        elif command == "/use":
            await self._use(rest)
        elif command == "/story":
            count, _, prompt = rest.partition(" ")
            prompt, options, _ = parse_request(prompt)
            await self._story(story_panels(count), prompt, options)
        elif command == "/attach":
            await self._attach(rest)
        elif command == "/thread":
            await self._switch(rest)
        elif command == "/forget":
            if self._thread is None:
                self.emit("error", "No current thread to forget. Start one with /imagine.")
                return
            await self._post(await self._engine.handle(Forget(key_for(self._thread), USER)))
        elif command == "/models":
            key = key_for(self._thread or "none")
            await self._post(await self._engine.handle(ListModels(key, USER)))
        elif command == "/usage":
            key = key_for(self._thread or "none")
            await self._post(await self._engine.handle(ShowUsage(key, USER)))
        elif command == "/styles":
            await self._post(await self._engine.handle(ListStyles(key_for(self._thread or "none"), USER)))
        elif command == "/settings":
            await self._settings(rest)
        elif command == "/help":
            for entry in HELP:
                self.emit("text", entry)
        elif command.startswith("/") and len(command) > 1 and not command[1:2].isspace():
            self.emit("error", f"Unknown command {command}. Type /help for the list.")
        else:
            text, options, workflow = parse_request(line)
            if self._thread is None:  # nothing to continue yet: the line starts a thread, as /imagine would
                await self._start(text, options, workflow)
                return
            images = self._take_attachments()
            event = NextTurn(key_for(self._thread), USER, text, images, options, workflow)
            await self._post(await self._engine.handle(event, progress=_progress))

    async def _start(self, prompt: str, options: Options, workflow: Workflow | None = None) -> None:
        thread_id = secrets.token_hex(4)
        images = self._take_attachments()
        event = StartThread(key_for(thread_id), USER, prompt, images, options, workflow or Workflow())
        reply = await self._engine.handle(event, progress=_progress)
        if reply.turn_id is not None:  # the thread exists once a turn was stored, even if Gemini then failed
            self._enter(thread_id)
        await self._post(reply)

    async def _story(self, panels: int, prompt: str, options: Options) -> None:
        thread_id = secrets.token_hex(4)
        event = StartStory(key_for(thread_id), USER, prompt, panels, self._take_attachments(), options)

        async def panel(reply: Reply) -> None:
            if self._thread != thread_id:
                self._enter(thread_id)
            if reply.failure is not None:
                self.emit("error", f"{reply.caption}: {reply.failure.message}")
                return
            self.emit("text", " ".join(filter(None, (reply.caption, reply.text))))
            await self._post(Reply(key=reply.key, turn_id=reply.turn_id, images=reply.images))

        reply = await self._engine.handle(event, progress=_progress, on_part=panel)
        await self._post(reply)

    async def _use(self, raw: str) -> None:
        if not self._variants:
            self.emit("error", "No variant set in this thread. Make one with /imagine PROMPT --n 4.")
            return
        if not raw.isdigit() or not 1 <= int(raw) <= len(self._variants):
            self.emit("error", f"Usage: /use K, where K is 1 to {len(self._variants)}.")
            return
        await self._post(await self._engine.handle(UseVariant(self._variants[int(raw) - 1], USER)))

    def _enter(self, thread_id: str) -> None:
        self._thread, self._variants = thread_id, ()
        self.emit("thread", thread_id)
    async def _settings(self, rest: str) -> None:
        key = key_for(self._thread or "none")
        if not rest:
            await self._post(await self._engine.handle(ShowSettings(key, USER)))
            return
        words = rest.split(maxsplit=2)
        if len(words) < 3:
            self.emit("error", "Usage: /settings server|channel KEY VALUE (VALUE - clears it), or /settings to read.")
            return
        scope, name, value = words
        await self._post(await self._engine.handle(ChangeSetting(key, USER, scope.lower(), name, value)))

    async def _attach(self, raw: str) -> None:
        if not raw.strip():
            self.emit("error", "Usage: /attach PATH")
            return
        try:
            name, data = await asyncio.to_thread(_read_attachment, raw.strip().strip("'\""))
        except ValueError as problem:
            self.emit("error", str(problem))
            return
        self._attachments.append(ImageInput(data, name))
        log.info("attached %s (%d bytes) to the next message", name, len(data))

    async def _switch(self, thread_id: str) -> None:
        if not thread_id:
            self.emit("error", "Usage: /thread ID")
        elif await self._engine.has_thread(key_for(thread_id)):
            self._enter(thread_id)
        else:
            self.emit("error", f"No stored thread {thread_id}. Start one with /imagine.")

    def _take_attachments(self) -> tuple[ImageInput, ...]:
        images, self._attachments = tuple(self._attachments), []
        return images

    async def _post(self, reply: Reply) -> None:
        if reply.failure is not None:
            self.emit("error", reply.failure.message)
            return
        for notice in reply.notices:  # first: one may name the model that made the image below
            self.emit("text", notice)
        for kind, line in grounding.lines(reply.grounding):
            self.emit(kind, line)
        for thought in reply.thoughts:
            self.emit("thought", " ".join(thought.split()))
        for index, image in enumerate(reply.thought_images):
            path = self._out_dir / f"{self._thread}-{reply.turn_id}-thought-{index + 1}.{extension(image.mime_type)}"
            await asyncio.to_thread(_save, path, image.data)
            self.emit("thought-image", str(path))
        if reply.variants:
            self._variants = reply.variants
        for index, image in enumerate(reply.images):
            name = f"{self._thread}-{reply.turn_id}-{index + 1}.{extension(image.mime_type)}"
            path = self._out_dir / name
            await asyncio.to_thread(_save, path, image.data)
            self.emit("image", str(path))
        if reply.text:
            self.emit("text", reply.text)


async def _progress(update: Progress) -> None:
    log.info("%s", update.describe())  # stderr: stdout carries only the protocol's lines


def _read_attachment(raw: str) -> tuple[str, bytes]:
    """The file's name and bytes, its size checked before it is read."""
    path = Path(raw).expanduser()
    shown = raw if len(raw) <= 80 else f"{raw[:40]}…{raw[-20:]}"
    cap = video.MAX_VIDEO_BYTES if video.by_name(path.name) else MAX_INPUT_BYTES
    try:
        if not path.is_file():
            raise ValueError(f"No file at {shown}. Check the path and try /attach again.")
        check_declared(path.name, path.stat().st_size, cap=cap)
        with path.open("rb") as file:
            return path.name, file.read(cap + 1)
    except BadInput as problem:
        raise ValueError(problem.message) from None
    except OSError as error:  # a name too long, no permission, a directory
        raise ValueError(f"Could not read {shown}: {error.strerror or error}. Check the path and try again.") from None


def _save(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def run(engine: Engine, stream: TextIO, out: TextIO, out_dir: Path, grace: float = 30.0) -> None:
    """Serve the console until the input ends; when cancelled (shutdown), the line in hand gets `grace` seconds
    (BOT_SHUTDOWN_GRACE) to print its answer."""
    await Console(engine, out, out_dir, grace).run(stream)
