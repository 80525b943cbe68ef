"""Search grounding under a Discord result: an embed whose links are the queries (to their Google results page)
and the sources (to the page that contains them), as Google's display rules ask; the links come from core."""

from __future__ import annotations

import discord

from core.grounding import Grounding

MAX_DESCRIPTION = 4096  # Discord's limit for an embed description
TITLE = "Grounded in Google Search"


def _label(text: str) -> str:
    """Link text that cannot break Discord's markdown link syntax."""
    return " ".join(text.replace("[", "(").replace("]", ")").split())[:120] or "link"


def grounding_text(grounding: Grounding | None) -> str | None:
    """The embed's description: a Searches line of query links, then one line per source; None without grounding."""
    if not grounding:
        return None
    lines = []
    if queries := grounding.query_links():
        lines.append("**Searches:** " + " · ".join(f"[{_label(q)}](<{url}>)" for q, url in queries))
    if sources := grounding.source_links():
        lines.append("**Sources:**")
        lines += [f"• [{_label(title)}](<{url}>)" for title, url in sources]
    text = "\n".join(lines)
    return text if len(text) <= MAX_DESCRIPTION else text[: text.rfind("\n", 0, MAX_DESCRIPTION)]


def grounding_embeds(grounding: Grounding | None) -> list[discord.Embed]:
    text = grounding_text(grounding)
    return [discord.Embed(title=TITLE, description=text)] if text else []
