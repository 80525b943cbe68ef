"""Slack interactivity: the "Edit image" message shortcut and its modal, the buttons under each result (Reroll,
Refine with its modal, Upscale, Delete), which name a stored turn and so work after a restart, and the Cancel
button on a queued request's status reply.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError

from adapters.slack.io import SLACK_ERRORS, SlackIO, explain
from adapters.slack.status import ACTION_CANCEL, ALREADY_STARTED, ONLY_REQUESTER, parse_cancel_value
from adapters.slack.translate import (
    ACTION_DELETE,
    ACTION_REFINE,
    ACTION_REROLL,
    ACTION_REROLL_SET,
    EDIT_SHORTCUT,
    EDIT_VIEW,
    PLATFORM,
    PROMPT_BLOCK,
    REFINE_VIEW,
    UPSCALE_ACTION_PATTERN,
    USE_ACTION_PATTERN,
    edit_metadata,
    image_refs,
    modal_prompt,
    parse_edit_metadata,
    parse_turn_value,
    prompt_modal,
    thread_key,
)
from core.events import Options, Reroll, RerollSet, User, UseVariant, Workflow
from core.failures import UnsupportedOption
from core.flags import parse_request
from core.turns import TurnInfo, Withdrawal, next_event

log = logging.getLogger(__name__)

GONE = "That image's conversation no longer exists (it was cleared or deleted). Start a new one with `/imagine`."
NO_IMAGE = "That message has no image. Use *Edit image* on a message with a picture, or start one with `/imagine`."
STALE = "This dialog is out of date. Use Edit image on the message again."


def _where(body: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """Channel, thread and clicking user of a button press."""
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    return channel, container.get("thread_ts") or container.get("message_ts"), body["user"]["id"]


def _user(body: dict[str, Any]) -> User:
    return User(body["user"]["id"], body["user"].get("name") or body["user"].get("username") or "")


class Interactive:
    def __init__(self, io: SlackIO) -> None:
        self.io = io
        self.engine = io.engine

    def register(self, app: AsyncApp) -> None:
        app.message_shortcut(EDIT_SHORTCUT)(self.on_edit_shortcut)
        app.view(EDIT_VIEW)(self.on_edit_submitted)
        app.view(REFINE_VIEW)(self.on_refine_submitted)
        app.action(ACTION_REROLL)(self.on_reroll)
        app.action(UPSCALE_ACTION_PATTERN)(self.on_upscale)
        app.action(ACTION_REFINE)(self.on_refine)
        app.action(ACTION_DELETE)(self.on_delete)
        app.action(ACTION_CANCEL)(self.on_cancel)
        app.action(USE_ACTION_PATTERN)(self.on_use)
        app.action(ACTION_REROLL_SET)(self.on_reroll_set)

    async def _first(self, body: dict[str, Any]) -> bool:
        """True for the first delivery of this press or submission (to any worker): its trigger id is claimed."""
        trigger = body.get("trigger_id")
        return not trigger or await self.engine.claim("slack-interaction", str(trigger))

    # ---- the message shortcut

    async def on_edit_shortcut(self, ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        self.io.track()
        await ack()
        if not await self._first(shortcut):
            return
        channel, user_id = shortcut["channel"]["id"], shortcut["user"]["id"]
        message = shortcut.get("message") or {}
        refs = image_refs(message.get("files"))
        thread_ts = message.get("thread_ts") or message.get("ts")
        if not refs or not thread_ts:
            await self.io.ephemeral(channel, user_id, message.get("thread_ts"), NO_IMAGE)
            return
        # The trigger expires in 3 s, so the modal opens now and the files are fetched only on submit.
        view = prompt_modal(EDIT_VIEW, "Edit image", "What should change?", edit_metadata(channel, thread_ts, refs))
        await self.io.open_view(shortcut["trigger_id"], view, channel, user_id, message.get("thread_ts"))

    async def on_edit_submitted(
        self, ack: AsyncAck, view: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        self.io.track()
        try:
            channel, thread_ts, refs = parse_edit_metadata(view.get("private_metadata") or "")
        except (ValueError, KeyError, TypeError):
            await ack(response_action="errors", errors={PROMPT_BLOCK: STALE})
            return
        key = thread_key(context.team_id or "", channel, thread_ts)
        stored = await self.engine.thread_options(key)
        asked = await self._modal_prompt(ack, view, stored or Options())
        if asked is None:
            return
        await ack()
        if not await self._first(body):
            return
        (prompt, options, workflow), user = asked, _user(body)
        # An image inside a bot thread: that conversation goes on (its model kept) with the image attached.
        work = self.io.turn(
            channel, thread_ts, user.id,
            lambda images: next_event(key, user, prompt, images, options, stored=stored is not None,
                                      workflow=workflow), refs,
        )
        self.io.spawn(work, channel, thread_ts, user.id)

    async def _modal_prompt(
        self, ack: AsyncAck, view: dict[str, Any], base: Options
    ) -> tuple[str, Options, Workflow] | None:
        """The prompt and flags typed into a modal; a problem goes back into the modal, under the field."""
        try:
            prompt, options, workflow = parse_request(modal_prompt(view))
            self.engine.check_options(options, base)
        except UnsupportedOption as problem:
            await ack(response_action="errors", errors={PROMPT_BLOCK: problem.message})
            return None
        if not prompt and not workflow.edits:
            await ack(response_action="errors", errors={PROMPT_BLOCK: "Say what to change, for example: make it night"})
            return None
        return prompt, options, workflow

    # ---- buttons

    async def on_reroll(self, ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        self.io.track()
        await ack()
        if await self._first(body):
            self.io.spawn(self._rerun(body, action.get("value"), None), *_where(body))

    async def on_upscale(self, ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        self.io.track()
        await ack()
        parsed = parse_turn_value(action.get("value"))
        if await self._first(body):
            self.io.spawn(self._rerun(body, action.get("value"), parsed[1] if parsed else None), *_where(body))

    async def _pressed(self, body: dict[str, Any], value: str | None) -> TurnInfo | None:
        """The stored turn a button names (from the store: the button needs nothing from this process); None, and
        the presser told privately, when it is gone."""
        channel, thread_ts, user_id = _where(body)
        parsed = parse_turn_value(value)
        turn = await self.engine.turn_info(parsed[0]) if parsed else None
        if turn is None and channel:
            await self.io.ephemeral(channel, user_id, thread_ts, GONE)
        return turn

    async def _rerun(self, body: dict[str, Any], value: str | None, size: str | None) -> None:
        if (turn := await self._pressed(body, value)) is not None:
            user, key = _user(body), turn.key
            await self.io.turn(key.channel, key.thread, user.id, lambda _: Reroll(turn.turn_id, user, size))

    async def on_use(self, ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        """"Use k": the thread goes on from variant k (no model call), said in the thread for everyone."""
        self.io.track()
        await ack()
        self.io.spawn(self._use(body, action.get("value")), *_where(body))

    async def _use(self, body: dict[str, Any], value: str | None) -> None:
        if (turn := await self._pressed(body, value)) is None:
            return
        user = _user(body)
        reply = await self.engine.handle(UseVariant(turn.turn_id, user))
        if reply.failure is not None:
            await self.io.ephemeral(turn.key.channel, user.id, turn.key.thread, f":warning: {reply.failure.message}")
            return
        await self.io.say(turn.key.channel, turn.key.thread, f"<@{user.id}>: {' '.join(reply.notices)}")

    async def on_reroll_set(self, ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        self.io.track()
        await ack()
        self.io.spawn(self._reroll_set(body, action.get("value")), *_where(body))

    async def _reroll_set(self, body: dict[str, Any], value: str | None) -> None:
        if (turn := await self._pressed(body, value)) is not None:
            user, key = _user(body), turn.key
            await self.io.turn(key.channel, key.thread, user.id, lambda _: RerollSet(turn.turn_id, user))

    async def on_refine(self, ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        self.io.track()
        await ack()
        channel, thread_ts, user_id = _where(body)
        parsed = parse_turn_value(action.get("value"))
        if parsed is None:
            return
        view = prompt_modal(REFINE_VIEW, "Refine image", "What should change?", str(parsed[0]))
        await self.io.open_view(body["trigger_id"], view, channel, user_id, thread_ts)

    async def on_refine_submitted(self, ack: AsyncAck, view: dict[str, Any], body: dict[str, Any]) -> None:
        self.io.track()
        parsed = parse_turn_value(view.get("private_metadata"))
        turn = await self.engine.turn_info(parsed[0]) if parsed else None
        if turn is None:
            await ack(response_action="errors", errors={PROMPT_BLOCK: GONE})
            return
        asked = await self._modal_prompt(ack, view, turn.thread_options)
        if asked is None:
            return
        await ack()
        if not await self._first(body):
            return
        (prompt, options, workflow), user, key = asked, _user(body), turn.key
        work = self.io.turn(key.channel, key.thread, user.id,
                            lambda images: next_event(key, user, prompt, images, options, stored=True,
                                                      workflow=workflow))
        self.io.spawn(work, key.channel, key.thread, user.id)

    async def on_delete(self, ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        self.io.track()
        await ack()
        if await self._first(body):
            self.io.spawn(self._delete(body, action.get("value")), *_where(body))

    async def _delete(self, body: dict[str, Any], value: str | None) -> None:
        """The images go (files.delete); their message says who deleted them. History stays."""
        channel, thread_ts, user_id = _where(body)
        message_ts = (body.get("container") or {}).get("message_ts")
        parsed = parse_turn_value(value)
        if channel is None or parsed is None:
            return
        # a workspace admin or owner is asked of Slack last, only when nothing else allows it
        permission = await self.engine.may_delete(
            parsed[0], User(user_id), PLATFORM, lambda: self.io.is_admin(user_id)
        )
        if not permission.allowed:
            requester = permission.requester
            who = f"<@{requester}>, who asked for it," if requester else "the person who asked for it"
            await self.io.ephemeral(channel, user_id, thread_ts, f"Only {who} or a workspace admin can delete this.")
            return
        # Only the files the bot recorded for that turn: never ids named in the value or in the payload's message.
        for file_id in await self.engine.turn_files(parsed[0]):
            try:
                await self.io.client.files_delete(file=file_id)
            except SlackApiError as error:
                if error.response.get("error") not in ("file_not_found", "file_deleted"):
                    await self.io.ephemeral(channel, user_id, thread_ts, f":warning: {explain(error)}")
                    return
            except SLACK_ERRORS as error:
                await self.io.ephemeral(channel, user_id, thread_ts, f":warning: {explain(error)}")
                return
        if message_ts:
            try:
                await self.io.client.chat_update(
                    channel=channel, ts=message_ts, text=f":wastebasket: Image deleted by <@{user_id}>.", blocks=[]
                )
            except SLACK_ERRORS as error:
                log.warning("could not mark %s as deleted: %s", message_ts, error)

    async def on_cancel(self, ack: AsyncAck, action: dict[str, Any], body: dict[str, Any]) -> None:
        """Withdraw a queued request. Its own turn then says it was cancelled (and drops the button); the presser
        hears privately only when nothing happened: not theirs to cancel, or already started."""
        self.io.track()
        await ack()
        channel, thread_ts, user_id = _where(body)
        parsed = parse_cancel_value(action.get("value"))
        if channel is None or parsed is None:
            return
        ticket, _ = parsed  # the value's requester is not trusted: the engine asks its queue's own record
        outcome = self.engine.withdraw(ticket, User(user_id), PLATFORM)
        if outcome is Withdrawal.NOT_YOURS:
            await self.io.ephemeral(channel, user_id, thread_ts, ONLY_REQUESTER)
        elif outcome is Withdrawal.STARTED:
            await self.io.ephemeral(channel, user_id, thread_ts, ALREADY_STARTED)
