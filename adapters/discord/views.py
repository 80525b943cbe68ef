"""Buttons and modals whose custom_ids carry their state (the stored turn, or the request's ticket), so they keep
working after a restart: buttons are `DynamicItem`s registered in `setup_hook`, modals go to a custom_id router."""

from __future__ import annotations

import re
from typing import Any, Protocol, cast

import discord

from adapters.discord.translate import (
    BUTTON_TEMPLATE,
    CANCEL_TEMPLATE,
    ButtonSpec,
    button_spec,
    cancel_id,
    result_actions,
    retry_spec,
    variant_actions,
)
from core.events import Reply

_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
}
PROMPT_FIELD = "prompt"


class Actions(Protocol):
    """What the buttons call on the running bot (found through `interaction.client.actions`)."""

    async def on_button(self, interaction: discord.Interaction, action: str, turn_id: int) -> None: ...

    async def on_cancel(self, interaction: discord.Interaction, owner_id: int, ticket: str) -> None: ...


def _actions(interaction: discord.Interaction) -> Actions:
    return cast(Actions, interaction.client.actions)  # type: ignore[attr-defined]


def _button(spec: ButtonSpec) -> discord.ui.Button[Any]:
    return discord.ui.Button(label=spec.label, style=_STYLES[spec.style], custom_id=spec.custom_id)


class ResultButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=BUTTON_TEMPLATE):
    """Reroll / Refine / Upscale / Delete on a result, and Try again (a Reroll) on a failure; the custom_id names the
    stored turn. `spec` changes only the look: a press is routed by its custom_id alone."""

    def __init__(self, action: str, turn_id: int, spec: ButtonSpec | None = None) -> None:
        super().__init__(_button(spec or button_spec(action, turn_id)))
        self.action = action
        self.turn_id = turn_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ResultButton:
        return cls(match["action"], int(match["turn"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await _actions(interaction).on_button(interaction, self.action, self.turn_id)


class CancelButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=CANCEL_TEMPLATE):
    """Withdraws a request still waiting in the queue; the custom_id names who asked and the request's ticket."""

    def __init__(self, owner_id: int, ticket: str) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label="Cancel", style=discord.ButtonStyle.secondary, custom_id=cancel_id(owner_id, ticket)
        )
        super().__init__(button)
        self.owner_id = owner_id
        self.ticket = ticket

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["user"]), match["ticket"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await _actions(interaction).on_cancel(interaction, self.owner_id, self.ticket)


def result_view(reply: Reply) -> discord.ui.View | None:
    """The buttons under a result; none when the turn was not stored."""
    if reply.turn_id is None:
        return None
    view = discord.ui.View(timeout=None)
    if len(reply.variants) > 1:
        for action, turn_id in variant_actions(reply.variants):
            view.add_item(ResultButton(action, turn_id))
        return view
    for action in result_actions(reply.options, bool(reply.images), bool(reply.thoughts or reply.thought_images)):
        view.add_item(ResultButton(action, reply.turn_id))
    return view


def retry_view(reply: Reply) -> discord.ui.View | None:
    """Try again under a failure worth sending again; None under any other failure (or one with no stored turn)."""
    if not reply.offers_retry or reply.turn_id is None:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(ResultButton("reroll", reply.turn_id, retry_spec(reply.turn_id)))
    return view


def cancel_view(owner_id: int, ticket: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(owner_id, ticket))
    return view


class PromptModal(discord.ui.Modal):
    """A one-field modal ("what should change?"); its submission is routed by custom_id, not by this object."""

    def __init__(self, *, title: str, custom_id: str, label: str, placeholder: str) -> None:
        super().__init__(title=title, custom_id=custom_id, timeout=None)
        self.add_item(
            discord.ui.TextInput(
                label=label,
                custom_id=PROMPT_FIELD,
                style=discord.TextStyle.paragraph,
                placeholder=placeholder,
                max_length=1000,
            )
        )


async def send_modal(interaction: discord.Interaction, modal: discord.ui.Modal) -> None:
    # A finished modal is not kept in discord.py's view store, so the submission reaches `on_interaction`
    # whether or not the bot restarted in between: one code path, nothing lost.
    modal.stop()
    await interaction.response.send_modal(modal)


def modal_value(data: dict[str, Any] | None, field: str = PROMPT_FIELD) -> str:
    """The text typed into a modal input, from the raw submission (action rows or labels)."""
    stack: list[Any] = list((data or {}).get("components") or [])
    while stack:
        component = stack.pop(0)
        if not isinstance(component, dict):
            continue
        if component.get("custom_id") == field and "value" in component:
            return str(component.get("value") or "")
        stack.extend(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            stack.append(component["component"])
    return ""
