"""Variant sets: N independent generations of one request, run at once through the fair queue and reserved whole
before any call; "Use k" continues the conversation from variant k, "Reroll all" makes a new set.

Every variant is a stored turn; the set's turns are hidden from the history except the one the conversation goes
on from (the first picture, until "Use k" says otherwise), so the next request carries exactly that turn.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from core.events import Reply, RerollSet, User, UseVariant
from core.failures import BadInput, Failure, Forbidden, NotFound
from core.runner import Composed, Request, Runner
from core.store import ThreadRecord
from core.turns import owner


async def run_set(
    runner: Runner, thread: ThreadRecord, user: User, prompt: str, composed: Composed, n: int, request: Request,
    before: int | None = None,
) -> Reply:
    """The set's N turns, stored, reserved as one (refused whole), generated concurrently; one reply holding them."""
    store, chosen = runner.store, composed.chosen
    ids = [await store.add_turn(thread, user.id, prompt, chosen, composed.message) for _ in range(n)]
    await store.set_variants(ids)
    start = before or ids[0]
    try:
        async with runner.reserve(thread.key, user, chosen, composed.message, n):
            with runner.tickets.group(request.ticket, n, owner(thread.key.platform, user.id)) as tickets:
                replies = await asyncio.gather(*(
                    runner.attempt(thread, user, turn_id, prompt, composed,
                                   Request(request.progress if i == 0 else None, tickets[i]), start)
                    for i, turn_id in enumerate(ids)
                ))
    except Failure as failure:  # a limit: the whole set is refused, nothing was sent
        for turn_id in ids:
            await store.fail_turn(turn_id, failure.kind)
        return Reply(key=thread.key, turn_id=ids[0], options=chosen, prompt=prompt, failure=failure)
    return await _together(runner, thread, ids, list(replies))


async def _together(runner: Runner, thread: ThreadRecord, ids: list[int], replies: list[Reply]) -> Reply:
    made = [r for r in replies if r.ok and r.images]
    if not made:
        return next((r for r in replies if not r.ok), replies[0])
    await runner.store.show_variant(thread.id, ids[0], made[0].turn_id)
    # counted, not numbered: the Use buttons number the pictures that were made
    failed = [f"One of the {len(ids)} failed: {r.failure.message}" for r in replies if r.failure is not None]
    words_only = len(replies) - len(made) - len(failed)
    notices = [
        *dict.fromkeys(n for r in made for n in r.notices),
        *failed,
        *([f"{words_only} of the {len(ids)} answered in words only."] if words_only else []),
        f"Made {len(made)} variants. Replies here continue from picture 1; press "
        f"{'Use 2' if len(made) == 2 else f'Use 2…{len(made)}'} to continue from another, or Reroll all for a new set."
        if len(made) > 1 else "Replies here continue from it.",
    ]
    return replace(
        made[0], images=tuple(r.images[0] for r in made), variants=tuple(r.turn_id or 0 for r in made),
        notices=tuple(notices), text=None,
    )


async def use(runner: Runner, event: UseVariant) -> Reply:
    """The conversation goes on from this variant: the next request's history holds its turn and no other."""
    info = await runner.store.turn_info(event.turn_id)
    members = await runner.store.variant_set(event.turn_id)
    if info is None or not members:
        raise NotFound("That picture's conversation was cleared (/forget) or no longer exists.")
    if refusal := runner.policy.refusal(info.key):
        raise Forbidden(refusal)
    position = [turn_id for turn_id, _ in members].index(event.turn_id) + 1
    if dict(members)[event.turn_id] != "ok":
        raise BadInput(f"Picture {position} of that set was not made, so there is nothing to continue from.")
    async with runner.thread_lock(info.key):
        thread = await runner.store.get_thread(info.key)
        if thread is None or not await runner.store.show_variant(thread.id, members[0][0], event.turn_id):
            raise BadInput(
                "This conversation has moved on since that set was made, so Use no longer applies to it. "
                "Reply to go on from the latest picture, or attach the picture you want to edit."
            )
    return Reply(
        key=info.key, turn_id=event.turn_id, options=thread.options,
        notices=(f"Continuing from picture {position}: your next message here edits it.",),
    )


async def reroll(runner: Runner, event: RerollSet, request: Request) -> Reply:
    """A new set of the same size for the same request, seeing the history the first set saw; the old set leaves
    the history."""
    members = await runner.store.variant_set(event.turn_id)
    turn = await runner.store.get_turn(members[0][0]) if members else None
    if turn is None:
        raise NotFound("That set's conversation was cleared (/forget) or no longer exists.")
    if refusal := runner.policy.refusal(turn.thread.key):
        raise Forbidden(refusal)
    chosen, notice = runner.lineup.check(turn.options)
    async with runner.thread_lock(turn.thread.key):
        await runner.store.show_variant(turn.thread.id, members[0][0], None)
        composed = Composed(turn.request, chosen, None, await runner.guidance(turn.thread.key))
        reply = await run_set(runner, turn.thread, event.user, turn.prompt, composed, len(members), request,
                              before=members[0][0])
    return replace(reply, notices=(notice, *reply.notices)) if notice else reply
