"""Stories: `/story N PROMPT` makes N panels in one new conversation. Panel k is a turn that sees panels 1…k−1,
so characters and style carry over; each panel is handed on as it is done ("k/N"), the whole story is reserved up
front, Cancel stops it before the next panel, and a failed panel keeps its turn for a Try again."""

from __future__ import annotations

from dataclasses import replace

from core.events import Options, PartCallback, Progress, ProgressCallback, Reply, StartStory, Workflow
from core.failures import BadInput, Cancelled, Failure
from core.flags import story_panels
from core.runner import Composed, Request, Runner
from core.turns import owner

LINE = "Also write this panel's line of the story, one short sentence, as text."


def panel_text(prompt: str, k: int, n: int) -> str:
    """What Gemini is asked for panel k of n (panel 1 carries the story's prompt; the rest see it in history)."""
    if k == 1:
        return (f"{prompt.strip()}\n\nTell this as a picture story in {n} panels. Draw panel 1 of {n}, the opening. "
                + LINE)
    where = "the ending" if k == n else "what happens next"
    return (f"Draw panel {k} of {n}: {where}. Keep the characters, setting and drawing style of the earlier panels "
            f"exactly. {LINE}")


def caption(k: int, n: int) -> str:
    return f"{k}/{n}"


def _panel_progress(progress: ProgressCallback | None, k: int, n: int) -> ProgressCallback | None:
    if progress is None:
        return None

    async def report(update: Progress) -> None:
        await progress(replace(update, panel=(k, n)))

    return report


async def run(runner: Runner, event: StartStory, request: Request, on_part: PartCallback | None) -> Reply:
    if not event.prompt.strip():
        raise BadInput("Say what the story is about, for example `/story 4 a fox finds a key`.")
    n = story_panels(str(event.panels))
    first, notice = await runner.starting(event.key, event.user, panel_text(event.prompt, 1, n), event.options,
                                          event.images, Workflow(), n)
    store, user = runner.store, event.user
    done: list[Reply] = []
    stopped = False
    async with runner.thread_lock(event.key):
        thread = await store.save_thread(event.key, first.chosen, user.id)
        async with runner.reserve(event.key, user, first.chosen, first.message, n):
            with runner.tickets.story(request.ticket, owner(event.key.platform, user.id)):
                for k in range(1, n + 1):
                    if runner.tickets.is_stopped(request.ticket):
                        stopped = True
                        break
                    message = first.message if k == 1 else {"role": "user", "parts": [{"text": panel_text("", k, n)}]}
                    panel = Composed(message, first.chosen, None, first.guidance)
                    turn_id = await store.add_turn(thread, user.id, f"{event.prompt} (panel {k}/{n})",
                                                   first.chosen, message)
                    reply = await runner.attempt(thread, user, turn_id, event.prompt, panel,
                                                 Request(_panel_progress(request.progress, k, n), request.ticket),
                                                 turn_id)
                    if isinstance(reply.failure, Cancelled):
                        stopped = True
                        break
                    reply = replace(reply, caption=caption(k, n))
                    done.append(reply)
                    if on_part is not None:
                        await on_part(reply)
    return _summary(event, first.chosen, done, n, stopped, notice)


def _summary(event: StartStory, chosen: Options, done: list[Reply], n: int, stopped: bool,
             notice: str | None) -> Reply:
    made = [r for r in done if r.ok and r.images]
    failed = [r.caption for r in done if r.failure is not None]
    lines = [notice] if notice else []
    lines.append(f"Story: {len(made)} of {n} panels made.")
    if failed:
        lines.append(f"Panel {', '.join(str(c) for c in failed)} failed: press its Try again (the others stay).")
    if stopped:
        lines.append(f"Stopped after panel {len(done)} of {n}, as asked.")
    lines.append("This thread is now an ordinary conversation: for example `make panel 2 at night`.")
    failure: Failure | None = None
    if not made and done and done[-1].failure is not None:
        failure = done[-1].failure
    return Reply(key=event.key, options=chosen, notices=tuple(lines), prompt=event.prompt,
                 failure=failure)
